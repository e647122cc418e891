"""Homeserver answers as what the dispatcher and the sync loop need to know."""

from __future__ import annotations

from typing import Any

import nio

from alerts.messages import DeliveryResult
from relays.matrix.session import MatrixUnavailable


def delivery_result(answer: Any) -> DeliveryResult | None:
    """A send's answer as a delivery result; None when the homeserver refused our access
    token (the relay signs in again, then the delivery is retried)."""
    if isinstance(answer, nio.RoomSendResponse):
        return DeliveryResult.sent(answer.event_id)
    code = error_code(answer)
    status = http_status(answer)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        retry_after_ms = getattr(answer, "retry_after_ms", None) or 5000
        return DeliveryResult.retry(
            "rate limited by the homeserver (M_LIMIT_EXCEEDED)",
            after=retry_after_ms / 1000,
            rate_limited=True,
        )
    if code == "M_UNKNOWN_TOKEN":
        return None
    if code in ("M_FORBIDDEN", "M_NOT_FOUND"):
        return DeliveryResult.failed(
            f"the bot is not in this room or may not post there ({code}: {answer.message})",
            channel_gone=True,
        )
    if status is None or status >= 500 or code == "unknown":
        return DeliveryResult.retry(f"homeserver error ({code}, HTTP {status})")
    return DeliveryResult.failed(f"refused by the homeserver ({code}: {answer.message})")


def error_code(answer: object) -> str:
    code = getattr(answer, "status_code", None)
    return str(code) if code else "unknown"


def http_status(answer: object) -> int | None:
    transport = getattr(answer, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None


def unavailable(answer: object, what: str) -> MatrixUnavailable:
    retry_after_ms = getattr(answer, "retry_after_ms", None)
    after = retry_after_ms / 1000 if isinstance(retry_after_ms, int) else None
    return MatrixUnavailable(f"{what}: {error_code(answer)} (HTTP {http_status(answer)})", after)


def describe(error: BaseException) -> str:
    return type(error).__name__
