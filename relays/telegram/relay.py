"""The Telegram relay on python-telegram-bot 22: neutral messages out as Telegram HTML with
inline keyboards (`relays.telegram.outbound`), updates in as neutral messages
(`relays.telegram.updates`, `relays.telegram.inbound`).

Sending: the relay reports and never retries. PTB is built without a rate limiter and
every Telegram error becomes a `DeliveryResult` for the dispatcher to decide on
(`relays.telegram.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from telegram import Bot, InputFile, LinkPreviewOptions, Message
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import Updater
from telegram.request import HTTPXRequest

from alerts.clock import Clock, SystemClock
from alerts.messages import DeliveryResult, OutboundMessage, PhotoRef, SendContext
from alerts.splitting import utf16_length
from relays.base import BotIdentity, ChatClass, InboundSink, RelayHealth
from relays.images import ImageError, PhotoSource, PhotoUnavailable, strip_metadata
from relays.markup import to_plain
from relays.telegram.errors import PhotoNotYet, TelegramSetupError, delivery_result
from relays.telegram.outbound import (
    CAPTION_LIMIT,
    ChatAddress,
    keyboard,
    render,
    reply_parameters,
)
from relays.telegram.traits import TRAITS
from relays.telegram.updates import HandOverQueue, PollingBot, UpdateReceiving
from storage.database import Database

log = logging.getLogger(__name__)

PLATFORM = TRAITS.name
DEFAULT_API_URL = "https://api.telegram.org/bot"
DEFAULT_FILE_URL = "https://api.telegram.org/file/bot"
PROBE_EVERY = 10.0  # seconds between two getMe asked by the health check
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class TelegramOptions:
    base_url: str = DEFAULT_API_URL
    base_file_url: str | None = None  # derived from base_url when it ends in "/bot"
    poll_timeout: int = 30
    connection_pool_size: int = 64  # sized for the dispatcher's concurrent sends
    request_timeout: float = 20.0
    max_photo_bytes: int = 20 * 1024 * 1024  # what the Bot API lets a bot download
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    listen: str = "127.0.0.1:8443"
    first_backoff: float = 1.0
    max_backoff: float = 300.0

    @property
    def file_url(self) -> str:
        if self.base_file_url:
            return self.base_file_url
        if self.base_url.rstrip("/").endswith("/bot"):
            return self.base_url.rstrip("/")[: -len("/bot")] + "/file/bot"
        return DEFAULT_FILE_URL


class TelegramRelay(UpdateReceiving):
    platform = PLATFORM

    def __init__(
        self,
        token: str,
        *,
        options: TelegramOptions | None = None,
        database: Database | None = None,
        clock: Clock | None = None,
        photo_sources: Mapping[str, PhotoSource] | None = None,
        identity: BotIdentity | None = None,
        menus: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`database` stores the update offset (needed to receive); `photo_sources`
        download the other platforms' photos (read at each send, never copied); `menus`
        are the commands shown in the clients' "/" menu, by language code ("" = default).
        `identity` learns the bot's @username at connection, for what shows it outside
        relays/ (invitation links); the inbound mapping decides `addressed_to_bot`."""
        if not token:
            raise ValueError("a Telegram bot token is needed")
        self._token = token
        self._options = options or TelegramOptions()
        self._db = database
        self._clock = clock or SystemClock()
        self._photo_sources: Mapping[str, PhotoSource] = (
            {} if photo_sources is None else photo_sources
        )
        self.identity = identity or BotIdentity()
        self._menus = dict(menus or {})
        self._rng = rng or random.SystemRandom()
        self._bot: PollingBot | None = None
        self._updater: Updater | None = None
        self._queue: HandOverQueue | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.username: str | None = None
        self.bot_id: int | None = None
        self.receiving = asyncio.Event()  # set while updates are being fetched (tests wait)
        self._probe_lock = asyncio.Lock()
        self._probed_at = -PROBE_EVERY

    def __repr__(self) -> str:
        return f"TelegramRelay(bot={self.username or '?'})"  # never the token

    # -- lifecycle ---------------------------------------------------------------------

    def _new_bot(self) -> PollingBot:
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
        return PollingBot(
            self._token,
            base_url=options.base_url,
            base_file_url=options.file_url,
            request=sending,
            get_updates_request=polling,
        )

    async def start(self, sink: InboundSink | None) -> None:
        self._stopping.clear()
        self._bot = self._new_bot()
        try:
            await self._identify()
        except NetworkError as error:  # unreachable now: sending and receiving keep trying
            log.warning("telegram: Bot API unreachable at start (%s)", type(error).__name__)
        if sink is not None:
            if self._db is None:
                raise TelegramSetupError("receiving from Telegram needs the database")
            self._receiver = asyncio.create_task(self._receive(sink), name="telegram-receive")

    async def _identify(self) -> None:
        bot = self.bot
        try:
            await bot.initialize()  # getMe: checks the token, learns the bot's username
        except InvalidToken as error:
            raise TelegramSetupError(
                "the Bot API refused TOCSIN_TELEGRAM_TOKEN (revoked, mistyped, or a wrong "
                "[telegram] base_url)"
            ) from error
        if self.username != bot.username:
            self.username, self.bot_id = bot.username, bot.id
            log.info("telegram: connected as @%s", self.username)
            self.identity.learn(bot.username)
            await self._publish_menus(bot)

    async def _publish_menus(self, bot: Bot) -> None:
        for language, commands in self._menus.items():
            try:
                await bot.set_my_commands(list(commands), language_code=language or None)
            except TelegramError as error:  # a missing menu is no reason not to run
                log.warning("telegram: command menu not set (%s)", type(error).__name__)

    async def stop(self) -> None:
        self._stopping.set()
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.shutdown()

    async def health(self) -> RelayHealth:
        """Connected when the Bot API answered lately (a poll, a send). After a quiet spell
        (a webhook, a worker, a poll waiting for the database) a getMe asks, at most
        every PROBE_EVERY seconds."""
        fresh = max(60.0, 2.0 * self._options.poll_timeout)
        bot = self._bot
        if bot is None:
            return RelayHealth(False, "not started")
        if not bot.api_answering(fresh):
            async with self._probe_lock:
                if time.monotonic() - self._probed_at >= PROBE_EVERY:
                    self._probed_at = time.monotonic()
                    with contextlib.suppress(TelegramError, TimeoutError):
                        async with asyncio.timeout(PROBE_TIMEOUT):
                            await bot.get_me()
        if bot.api_answering(fresh):
            return RelayHealth(True)
        return RelayHealth(False, "no answer from the Bot API lately")

    # -- receiving ---------------------------------------------------------------------

    async def leave(self, address: str) -> bool:
        """Leave a group (an unclaimed group's timeout). True when left or already gone."""
        try:
            await self.bot.leave_chat(ChatAddress.parse(address).chat_id)
        except (Forbidden, BadRequest):
            return True
        except TelegramError as error:
            log.warning("telegram: could not leave a group (%s)", type(error).__name__)
            return False
        return True

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
            return delivery_result(error, context)
        except PhotoNotYet as error:
            return DeliveryResult.retry(str(error))

    async def _send_new(
        self, target: ChatAddress, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        bot = self.bot
        text, parse_mode = render(message)
        reply_to = reply_parameters(context.reply_to_message_id)
        markup = keyboard(message)
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
                reply_to = reply_parameters(str(shown.message_id))
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
        if location is None:
            raise ValueError("a location message without its location")
        try:
            await self.bot.send_location(
                target.chat_id,
                latitude=location.latitude,
                longitude=location.longitude,
                message_thread_id=target.topic_id,
                reply_parameters=reply_parameters(str(sent.message_id)),
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
        source = self._photo_sources.get(photo.platform)
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
        except Exception as error:  # the other platform may answer later: retry the whole
            reason = f"{photo.platform} photo not fetched ({type(error).__name__})"
            raise PhotoNotYet(reason) from error
        return InputFile(clean.data, filename=f"photo.{clean.extension}")

    async def _edit(
        self, target: ChatAddress, message: OutboundMessage, message_id: str
    ) -> DeliveryResult:
        text, parse_mode = render(message)
        markup = keyboard(message)
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

    _result_of = staticmethod(delivery_result)  # relays.telegram.errors, as the relay reads it
