"""Telegram errors as what the dispatcher and the relay need to know."""

from __future__ import annotations

import datetime as dt
import logging
import warnings

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from alerts.messages import DeliveryResult, SendContext

log = logging.getLogger(__name__)


class TelegramSetupError(RuntimeError):
    """The configuration cannot work (a refused token): said once, clearly, at start."""


class PhotoNotYet(Exception):
    """Another platform's photo could not be fetched now (not gone for good)."""


CHANNEL_GONE = (
    "chat not found",
    "message thread not found",
    "topic_deleted",
    "topic_closed",
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "chat_write_forbidden",
    "group chat was deactivated",
    "peer_id_invalid",
)


def delivery_result(error: TelegramError, context: SendContext) -> DeliveryResult:
    """Every Telegram error as what the dispatcher needs to know (order matters:
    BadRequest and TimedOut are both NetworkErrors in PTB)."""
    reason = error.message
    lowered = reason.lower()
    if isinstance(error, RetryAfter):
        return DeliveryResult.retry(
            "Too Many Requests", after=retry_after_seconds(error), rate_limited=True
        )
    if isinstance(error, ChatMigrated):
        return DeliveryResult.moved(str(error.new_chat_id))
    if isinstance(error, Forbidden):
        return DeliveryResult.failed(reason, channel_gone=True)
    if isinstance(error, InvalidToken):
        # The token was revoked or the API URL is wrong: nothing is wrong with the message.
        return DeliveryResult.retry("the Bot API refused the bot's token")
    if isinstance(error, BadRequest):
        if "can't parse entities" in lowered or "unsupported start tag" in lowered:
            return DeliveryResult.failed(reason, markup_refused=True)
        if any(gone in lowered for gone in CHANNEL_GONE):
            return DeliveryResult.failed(reason, channel_gone=True)
        log.warning("delivery %s refused by Telegram: %s", context.delivery_id, reason)
        return DeliveryResult.failed(reason)
    if isinstance(error, TimedOut):
        return DeliveryResult.retry("timed out")
    if isinstance(error, NetworkError):
        return DeliveryResult.retry(f"network or server error: {reason}")
    return DeliveryResult.retry(f"Telegram error: {reason}")


def api_answered(error: TelegramError) -> bool:
    """Whether the Bot API itself answered with this error (it is reachable), rather than
    the request failing on the way or the token being refused."""
    if isinstance(error, TimedOut | InvalidToken):
        return False
    return isinstance(error, BadRequest) or not isinstance(error, NetworkError)


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form becomes a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
