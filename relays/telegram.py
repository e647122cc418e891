"""The Telegram relay on python-telegram-bot 22: neutral messages out as Telegram HTML with
inline keyboards, and (see `relays.telegram_receive`) updates in as neutral messages.

The relay reports and never retries: PTB is built without a rate limiter and every
Telegram error becomes a `DeliveryResult` for the dispatcher to decide on.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
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
from telegram.request import HTTPXRequest

from alerts.messages import DeliveryResult, OutboundMessage, PhotoRef, SendContext
from alerts.splitting import utf16_length
from relays.base import ChatClass, InboundSink
from relays.images import ImageError, PhotoSource, PhotoUnavailable, strip_metadata
from relays.markup import to_html, to_plain

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CAPTION_LIMIT = 1024  # UTF-16 units of visible text, after entity parsing
DEFAULT_API_URL = "https://api.telegram.org/bot"
DEFAULT_FILE_URL = "https://api.telegram.org/file/bot"


@dataclass(frozen=True)
class TelegramOptions:
    base_url: str = DEFAULT_API_URL
    base_file_url: str | None = None  # derived from base_url when it ends in "/bot"
    poll_timeout: int = 30
    connection_pool_size: int = 64  # sized for the dispatcher's concurrent sends
    request_timeout: float = 20.0
    max_photo_bytes: int = 20 * 1024 * 1024  # what the Bot API lets a bot download

    @property
    def file_url(self) -> str:
        if self.base_file_url:
            return self.base_file_url
        if self.base_url.rstrip("/").endswith("/bot"):
            return self.base_url.rstrip("/")[: -len("/bot")] + "/file/bot"
        return DEFAULT_FILE_URL


@dataclass(frozen=True)
class ChatAddress:
    """A channel address: `chat_id` or `chat_id:topic_id` for a forum topic."""

    chat_id: int | str
    topic_id: int | None = None

    @classmethod
    def parse(cls, address: str) -> ChatAddress:
        chat, _, topic = address.partition(":")
        chat = chat.strip()
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise ValueError(f"not a Telegram chat address: {address!r}")
        return cls(chat_id, int(topic) if topic.strip() else None)

    def __str__(self) -> str:
        return f"{self.chat_id}:{self.topic_id}" if self.topic_id else str(self.chat_id)


class TelegramRelay:
    platform = PLATFORM

    def __init__(
        self,
        token: str,
        *,
        options: TelegramOptions | None = None,
        photo_sources: Mapping[str, PhotoSource] | None = None,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is needed")
        self._token = token
        self._options = options or TelegramOptions()
        self.photo_sources: dict[str, PhotoSource] = dict(photo_sources or {})
        self._bot: Bot | None = None
        self.username: str | None = None
        self.bot_id: int | None = None

    def __repr__(self) -> str:
        return f"TelegramRelay(bot={self.username or '?'})"  # never the token

    # -- lifecycle ---------------------------------------------------------------------

    def _new_bot(self) -> Bot:
        options = self._options
        timeout = options.request_timeout
        sending = HTTPXRequest(
            connection_pool_size=options.connection_pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
            media_write_timeout=max(timeout, 60.0),
        )
        # Long polling holds its request for poll_timeout seconds: its own pool and timeout.
        polling = HTTPXRequest(
            connection_pool_size=2,
            read_timeout=options.poll_timeout + timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        return Bot(
            self._token,
            base_url=options.base_url,
            base_file_url=options.file_url,
            request=sending,
            get_updates_request=polling,
        )

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("the Telegram relay is not started")
        return self._bot

    async def start(self, sink: InboundSink | None) -> None:
        bot = self._new_bot()
        await bot.initialize()  # getMe: checks the token, learns the bot's username
        self._bot = bot
        self.username = bot.username
        self.bot_id = bot.id
        log.info("telegram: connected as @%s", self.username)

    async def stop(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    def chat_class(self, address: str) -> ChatClass:
        """Private chats have positive ids; groups, supergroups and channels negative."""
        try:
            chat_id = ChatAddress.parse(address).chat_id
        except ValueError:
            return "group"
        return "private" if isinstance(chat_id, int) and chat_id > 0 else "group"

    # -- sending -----------------------------------------------------------------------

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        try:
            target = ChatAddress.parse(address)
        except ValueError as error:
            return DeliveryResult.failed(str(error), channel_gone=True)
        try:
            if context.edit_message_id:
                return await self._edit(target, message, context.edit_message_id)
            return await self._send_new(target, message, context)
        except TelegramError as error:
            return self._result_of(error, context)

    async def _send_new(
        self, target: ChatAddress, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        bot = self.bot
        text, parse_mode = _render(message)
        reply_to = _reply_parameters(context.reply_to_message_id)
        markup = _keyboard(message)
        photo = await self._photo_input(message.photo, context) if message.photo else None
        if photo is not None and utf16_length(to_plain(message)) <= CAPTION_LIMIT:
            sent = await bot.send_photo(
                target.chat_id,
                photo,
                caption=text,
                parse_mode=parse_mode,
                reply_markup=markup,
                message_thread_id=target.topic_id,
                reply_parameters=reply_to,
                disable_notification=message.silent,
            )
        else:
            if photo is not None:
                # Too long for a caption: the photo first, the text as its reply. A failure
                # of the text is retried whole, so at worst the photo comes twice.
                shown = await bot.send_photo(
                    target.chat_id,
                    photo,
                    message_thread_id=target.topic_id,
                    reply_parameters=reply_to,
                    disable_notification=message.silent,
                )
                reply_to = _reply_parameters(str(shown.message_id))
            sent = await bot.send_message(
                target.chat_id,
                text,
                parse_mode=parse_mode,
                reply_markup=markup,
                message_thread_id=target.topic_id,
                reply_parameters=reply_to,
                disable_notification=message.silent,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        if message.location is not None:
            await self._send_location(target, message, sent, context)
        return DeliveryResult.sent(str(sent.message_id))

    async def _send_location(
        self, target: ChatAddress, message: OutboundMessage, sent: Message, context: SendContext
    ) -> None:
        """The map pin under the text; the text already has the coordinates, so a failure
        here is logged rather than retried (a retry would send the text twice)."""
        location = message.location
        assert location is not None
        try:
            await self.bot.send_location(
                target.chat_id,
                latitude=location.latitude,
                longitude=location.longitude,
                message_thread_id=target.topic_id,
                reply_parameters=_reply_parameters(str(sent.message_id)),
                disable_notification=True,
            )
        except TelegramError as error:
            log.warning(
                "delivery %s: map pin not sent (%s)", context.delivery_id, type(error).__name__
            )

    async def _photo_input(self, photo: PhotoRef, context: SendContext) -> str | InputFile | None:
        """A Telegram file id as is; another platform's photo downloaded and stripped of its
        metadata. None (text only) when the photo cannot be had."""
        if photo.platform == PLATFORM:
            return photo.ref
        source = self.photo_sources.get(photo.platform)
        if source is None:
            log.warning(
                "delivery %s: no way to fetch a %s photo", context.delivery_id, photo.platform
            )
            return None
        try:
            clean = strip_metadata(await source(photo.ref), max_bytes=self._options.max_photo_bytes)
        except (PhotoUnavailable, ImageError) as error:
            log.warning("delivery %s: photo left out (%s)", context.delivery_id, error)
            return None
        return InputFile(clean.data, filename=f"photo.{clean.extension}")

    async def _edit(
        self, target: ChatAddress, message: OutboundMessage, message_id: str
    ) -> DeliveryResult:
        text, parse_mode = _render(message)
        markup = _keyboard(message)
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=target.chat_id,
                message_id=int(message_id),
                parse_mode=parse_mode,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as error:
            reason = error.message.lower()
            if "message is not modified" in reason:
                return DeliveryResult.sent(message_id)
            if "no text in the message" not in reason:
                raise
            # The message is a photo: its text is the caption.
            await self.bot.edit_message_caption(
                chat_id=target.chat_id,
                message_id=int(message_id),
                caption=text,
                parse_mode=parse_mode,
                reply_markup=markup,
            )
        return DeliveryResult.sent(message_id)

    # -- downloads (a `PhotoSource` for the other relays) ------------------------------

    async def fetch_photo(self, ref: str) -> bytes:
        """Download a Telegram file by its file id."""
        try:
            file = await self.bot.get_file(ref)
        except BadRequest as error:
            raise PhotoUnavailable(f"Telegram refused the file ({error.message})") from error
        if file.file_size and file.file_size > self._options.max_photo_bytes:
            raise PhotoUnavailable(f"photo too large ({file.file_size} bytes)")
        return bytes(await file.download_as_bytearray())

    # -- errors ------------------------------------------------------------------------

    @staticmethod
    def _result_of(error: TelegramError, context: SendContext) -> DeliveryResult:
        """Every Telegram error as what the dispatcher needs to know (order matters:
        BadRequest and TimedOut are both NetworkErrors in PTB)."""
        reason = error.message
        lowered = reason.lower()
        if isinstance(error, RetryAfter):
            return DeliveryResult.retry(
                "Too Many Requests", after=_retry_after_seconds(error), rate_limited=True
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
            if any(gone in lowered for gone in _CHANNEL_GONE):
                return DeliveryResult.failed(reason, channel_gone=True)
            log.warning("delivery %s refused by Telegram: %s", context.delivery_id, reason)
            return DeliveryResult.failed(reason)
        if isinstance(error, TimedOut):
            return DeliveryResult.retry("timed out")
        if isinstance(error, NetworkError):
            return DeliveryResult.retry(f"network or server error: {reason}")
        return DeliveryResult.retry(f"Telegram error: {reason}")


_CHANNEL_GONE = (
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


def _render(message: OutboundMessage) -> tuple[str, str | None]:
    if message.plain_only:
        return to_plain(message), None
    return to_html(message), ParseMode.HTML


def _keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
            for row in message.buttons
        ]
    )


def _reply_parameters(message_id: str | None) -> ReplyParameters | None:
    if not message_id or not message_id.isdigit():
        return None
    # A reply to a deleted message is still worth sending, without the quote.
    return ReplyParameters(int(message_id), allow_sending_without_reply=True)


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form becomes a timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
