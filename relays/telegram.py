"""The Telegram relay on python-telegram-bot 22: neutral messages out as Telegram HTML with
inline keyboards, updates in as neutral messages (`relays.telegram_inbound`).

Sending: the relay reports and never retries. PTB is built without a rate limiter and
every Telegram error becomes a `DeliveryResult` for the dispatcher to decide on.

Receiving: PTB's `Updater` long-polls (or serves a webhook) into an update queue. With a
webhook, `put` hands the update to the sink and returns only once it was handled, before
PTB answers 200. Long polling confirms a batch with the next getUpdates' offset, so the
bot hands the whole batch to the sink just before asking for the next one (the router
then writes it in one transaction). Either way nothing is confirmed before it was
handled, and a crash never loses an update; the offset handled last is also stored, so a
restart confirms what was handled before polling again, and the router's `inbound_seen`
ignores an update that still comes twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
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
from telegram.ext import Updater
from telegram.request import HTTPXRequest

from alerts.clock import Clock, SystemClock
from alerts.messages import DeliveryResult, InboundMessage, OutboundMessage, PhotoRef, SendContext
from alerts.splitting import utf16_length
from relays.base import ChatClass, InboundSink, RelayHealth, hand_over_together
from relays.images import ImageError, PhotoSource, PhotoUnavailable, strip_metadata
from relays.markup import to_html, to_plain
from relays.telegram_inbound import ALLOWED_UPDATES, to_inbound
from storage import queries
from storage.database import Database

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CAPTION_LIMIT = 1024  # UTF-16 units of visible text, after entity parsing
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


class _PhotoNotYet(Exception):
    """Another platform's photo could not be fetched now (not gone for good)."""


class TelegramSetupError(RuntimeError):
    """The configuration cannot work (a refused token): said once, clearly, at start."""


class _PollingBot(Bot):
    """PTB's Bot noting when long polling fails for good: PTB's poll loop retries network
    errors itself but ends silently on a refused token, which the relay must see.

    Each getUpdates confirms every update before its offset, so the updates of the
    previous batch are handled first (`hand_over_with`): together, which lets the router
    write a burst in one transaction, and before Telegram may forget them."""

    _before_polling: Callable[[], Awaitable[None]] | None = None

    def hand_over_with(self, before_polling: Callable[[], Awaitable[None]] | None) -> None:
        self._before_polling = before_polling  # private: PTB freezes its public attributes

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        if self._before_polling is not None:
            await self._before_polling()
        try:
            return await super().get_updates(*args, **kwargs)
        except InvalidToken:
            self._token_refused.set()
            raise

    async def _do_post(self, endpoint: str, data: Any, **timeouts: Any) -> Any:
        """Every Bot API call: note when the API last answered and last could not."""
        try:
            answer = await super()._do_post(endpoint, data, **timeouts)
        except TelegramError as error:
            self._api_reached(_api_answered(error))
            raise
        self._api_reached(True)
        return answer

    def _api_reached(self, answered: bool) -> None:
        if answered:
            self._answered_at = time.monotonic()
        else:
            self._failed_at = time.monotonic()

    def api_answering(self, within: float) -> bool:
        """The Bot API answered in the last `within` seconds, and nothing failed since."""
        answered: float | None = getattr(self, "_answered_at", None)
        failed: float | None = getattr(self, "_failed_at", None)
        if answered is None or (failed is not None and failed > answered):
            return False
        return time.monotonic() - answered <= within

    @property
    def token_refused(self) -> asyncio.Event:
        event: asyncio.Event | None = getattr(self, "_token_refused", None)
        if event is None:
            event = self._token_refused = asyncio.Event()
        return event


class _HandOverQueue(asyncio.Queue[object]):
    """The Updater's update queue: `put` is the handling itself (see the module doc).

    With a webhook, `put` handles the update before PTB answers Telegram. With long
    polling, `put` only collects the batch PTB fetched, and `hand_over` (called before the
    next getUpdates, which confirms them) handles it as a whole.

    The handling runs in its own task, shielded: when PTB stops polling it cancels its
    fetch task without waiting, and an update half-way through its database transaction
    must finish (or roll back) on its own terms, not be cut inside the driver.
    """

    def __init__(
        self, handle: Callable[[list[object]], Coroutine[Any, Any, None]], *, batched: bool
    ) -> None:
        super().__init__()
        self._handle = handle
        self._batched = batched
        self._batch: list[object] = []
        self.in_progress: set[asyncio.Task[None]] = set()

    async def put(self, item: object) -> None:
        if self._batched:
            self._batch.append(item)
            return
        await self._run(self._handle([item]))

    async def hand_over(self) -> None:
        """Handle the collected batch, and wait for any batch still being handled."""
        if self._batch:
            batch, self._batch = self._batch, []
            await self._run(self._handle(batch))
        elif self.in_progress:
            await asyncio.shield(asyncio.gather(*self.in_progress, return_exceptions=True))

    async def _run(self, handling: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(handling)
        self.in_progress.add(task)
        task.add_done_callback(self.in_progress.discard)
        await asyncio.shield(task)

    async def settle(self, within: float) -> None:
        """Let the updates being handled finish; past `within` seconds, cancel them (they
        were not confirmed, so Telegram delivers them again after a restart)."""
        self._batch.clear()  # fetched, never handled, so never confirmed: they come again
        if not self.in_progress:
            return
        _, stuck = await asyncio.wait(set(self.in_progress), timeout=within)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)


class TelegramRelay:
    platform = PLATFORM

    def __init__(
        self,
        token: str,
        *,
        options: TelegramOptions | None = None,
        database: Database | None = None,
        clock: Clock | None = None,
        photo_sources: Mapping[str, PhotoSource] | None = None,
        on_username: Callable[[str], None] | None = None,
        menus: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`database` stores the update offset (needed to receive); `on_username` is told
        the bot's @username once known (the router needs it for `/cmd@bot`); `menus`
        are the commands shown in the clients' "/" menu, by language code ("" = default).
        """
        if not token:
            raise ValueError("a Telegram bot token is needed")
        self._token = token
        self._options = options or TelegramOptions()
        self._db = database
        self._clock = clock or SystemClock()
        self.photo_sources: dict[str, PhotoSource] = dict(photo_sources or {})
        self._on_username = on_username
        self._menus = dict(menus or {})
        self._rng = rng or random.Random()
        self._bot: _PollingBot | None = None
        self._updater: Updater | None = None
        self._queue: _HandOverQueue | None = None
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

    def _new_bot(self) -> _PollingBot:
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
        return _PollingBot(
            self._token,
            base_url=options.base_url,
            base_file_url=options.file_url,
            request=sending,
            get_updates_request=polling,
        )

    @property
    def bot(self) -> _PollingBot:
        if self._bot is None:
            raise RuntimeError("the Telegram relay is not started")
        return self._bot

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
            if self._on_username is not None:
                self._on_username(bot.username)
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

    @property
    def _offset_key(self) -> str:
        return f"telegram.offset:{self.bot_id or self._token.partition(':')[0]}"

    async def _receive(self, sink: InboundSink) -> None:
        """Keep an Updater running until `stop()`: reconnect with backoff and jitter."""
        failures = 0
        while not self._stopping.is_set():
            bot = self.bot
            try:
                if self.username is None:
                    await self._identify()
                await self._start_updater(sink)
                failures = 0
                waiting = asyncio.create_task(bot.token_refused.wait())
                stopping = asyncio.create_task(self._stopping.wait())
                await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                stopping.cancel()
                if bot.token_refused.is_set():
                    bot.token_refused.clear()
                    raise TelegramSetupError("the Bot API refused the token while polling")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                log.error("telegram: receiving failed (%s): %s", type(error).__name__, error)
            finally:
                await self._stop_updater()
            if self._stopping.is_set():
                break
            delay = min(self._options.max_backoff, self._options.first_backoff * 2**failures)
            delay *= self._rng.uniform(0.5, 1.0)
            log.info("telegram: receiving again in %.1fs", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _start_updater(self, sink: InboundSink) -> None:
        bot = self.bot
        polling = self._options.mode != "webhook"
        self._queue = _HandOverQueue(lambda items: self._handle_batch(items, sink), batched=polling)
        bot.hand_over_with(self._hand_over if polling else None)
        updater = Updater(bot, self._queue)
        await updater.initialize()
        self._updater = updater
        options = self._options
        if options.mode == "webhook":
            await self._start_webhook(updater)
        else:
            await bot.delete_webhook()
            await self._confirm_handled(bot)
            await updater.start_polling(
                timeout=options.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
                error_callback=_log_poll_error,
            )
        self.receiving.set()
        log.info("telegram: receiving updates (%s)", options.mode)

    async def _start_webhook(self, updater: Updater) -> None:
        options = self._options
        if not options.webhook_url:
            raise TelegramSetupError('[telegram] mode = "webhook" needs webhook_url')
        host, _, port = options.listen.rpartition(":")
        path = urlsplit(options.webhook_url).path.lstrip("/")
        await updater.start_webhook(
            listen=host.strip("[]") or "127.0.0.1",  # "[::1]:8443" as well as "::1:8443"
            port=int(port),
            url_path=path,
            webhook_url=options.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            secret_token=self._webhook_secret(),
        )

    def _webhook_secret(self) -> str:
        """What Telegram sends back with each webhook call, so strangers cannot post updates;
        derived from the token, hence stable across restarts and never the token itself."""
        return hashlib.sha256(b"tocsin-webhook:" + self._token.encode()).hexdigest()[:48]

    async def _stop_updater(self) -> None:
        self.receiving.clear()
        updater, self._updater = self._updater, None
        if updater is None:
            return
        try:
            if updater.running:
                await updater.stop()
            await updater.shutdown()
        except Exception as error:  # a dead connection while stopping changes nothing
            log.warning("telegram: stopping the updater: %s", type(error).__name__)
        if self._queue is not None:
            await self._queue.settle(within=5)

    async def _confirm_handled(self, bot: Bot) -> None:
        """Confirm to Telegram the updates handled before a restart, so they do not come
        again (getUpdates with an offset confirms every earlier update)."""
        assert self._db is not None
        async with self._db.sessions() as session:
            stored = await queries.get_state(session, self._offset_key)
        if stored is not None:
            await bot.get_updates(offset=int(stored), limit=1, timeout=0)

    async def _hand_over(self) -> None:
        """Before each getUpdates: the previous batch is handled (see `_PollingBot`). When
        stopping, a batch that cannot be handled in time (the database is down) is not
        confirmed: PTB's last getUpdates fails instead, and Telegram sends it again."""
        assert self._queue is not None
        if not self._stopping.is_set():
            await self._queue.hand_over()
            return
        try:
            async with asyncio.timeout(5):
                await self._queue.hand_over()
        except TimeoutError:
            raise TimedOut("updates still being handled: not confirmed") from None

    async def _handle_batch(self, items: list[object], sink: InboundSink) -> None:
        """Updates (a getUpdates batch, or a webhook's one) handed to the router at once:
        it writes them together, in order. Never raises: PTB's poll loop would end on an
        exception it does not know."""
        updates = [item for item in items if isinstance(item, Update)]
        inbounds: list[InboundMessage] = []
        for update in updates:
            try:
                inbound = to_inbound(update, bot_username=self.username)
            except Exception:
                log.exception("telegram: update %s unreadable; skipped", update.update_id)
                continue
            if inbound is not None:
                inbounds.append(inbound)
        # What could not be recorded (the database is down: then nothing in the batch
        # was) is tried again one by one, in order, until it is.
        for inbound, _ in await hand_over_together(sink, inbounds):
            await self._hand_to(sink, inbound)
        for inbound in inbounds:
            if inbound.button is not None:
                await self._answer_button(inbound.button.press_id)
        if updates:
            await self._save_offset(updates[-1].update_id + 1)

    async def _hand_to(self, sink: InboundSink, inbound: InboundMessage) -> None:
        failures = 0
        while True:
            try:
                await sink(inbound)
                return
            except Exception as error:
                # Not confirmed yet, so nothing is lost: try again after a pause.
                failures += 1
                delay = min(self._options.max_backoff, self._options.first_backoff * 2**failures)
                log.error(
                    "telegram: update %s not handled (%s); again in %.0fs",
                    inbound.update_id,
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay * self._rng.uniform(0.5, 1.0))

    async def _answer_button(self, press_id: str) -> None:
        """Stop the client's spinner; the answer itself comes as a message."""
        try:
            await self.bot.answer_callback_query(press_id)
        except TelegramError as error:
            log.debug("telegram: button press not acknowledged (%s)", type(error).__name__)

    async def _save_offset(self, offset: int) -> None:
        if self._db is None:
            return
        try:
            async with self._db.transaction() as session:
                await queries.set_state(session, self._offset_key, str(offset), self._clock.now())
        except Exception as error:  # the router's inbound_seen still guards a replay
            log.warning("telegram: offset not stored (%s)", type(error).__name__)

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
            return self._result_of(error, context)
        except _PhotoNotYet as error:
            return DeliveryResult.retry(str(error))

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
        except Exception as error:  # the other platform may answer later: retry the whole
            reason = f"{photo.platform} photo not fetched ({type(error).__name__})"
            raise _PhotoNotYet(reason) from error
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


def _api_answered(error: TelegramError) -> bool:
    """Whether the Bot API itself answered with this error (it is reachable), rather than
    the request failing on the way or the token being refused."""
    if isinstance(error, TimedOut | InvalidToken):
        return False
    return isinstance(error, BadRequest) or not isinstance(error, NetworkError)


def _log_poll_error(error: TelegramError) -> None:
    log.warning("telegram: polling error, PTB retries (%s: %s)", type(error).__name__, error)


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
