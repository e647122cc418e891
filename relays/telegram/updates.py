"""Receiving Telegram updates: PTB's `Updater` long-polls (or serves a webhook) into an
update queue whose `put` is the handling itself.

With a webhook, `put` hands the update to the sink and returns only once it was handled,
before PTB answers 200. Long polling confirms a batch with the next getUpdates' offset, so
the bot hands the whole batch to the sink just before asking for the next one (the router
then writes it in one transaction). Either way nothing is confirmed before it was handled,
and a crash never loses an update; the offset handled last is also stored, so a restart
confirms what was handled before polling again, and the router's `inbound_seen` ignores an
update that still comes twice.

`UpdateReceiving` is the receiving half of `TelegramRelay` (relays.telegram.relay), which
holds the state declared below and identifies the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError, TimedOut
from telegram.ext import Updater

from alerts.clock import Clock
from alerts.messages import InboundMessage
from relays.base import InboundSink, hand_over_together
from relays.telegram.errors import TelegramSetupError, api_answered
from relays.telegram.inbound import ALLOWED_UPDATES, to_inbound
from storage import queries
from storage.database import Database

if TYPE_CHECKING:
    from relays.telegram.relay import TelegramOptions

log = logging.getLogger(__name__)


class PollingBot(Bot):
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
            self._api_reached(api_answered(error))
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


class HandOverQueue(asyncio.Queue[object]):
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


class UpdateReceiving:
    """Receiving for `TelegramRelay`: the state it keeps, then the updater and the hand-over."""

    _token: str
    _options: TelegramOptions
    _db: Database | None
    _clock: Clock
    _rng: random.Random
    _bot: PollingBot | None
    _updater: Updater | None
    _queue: HandOverQueue | None
    _stopping: asyncio.Event
    username: str | None
    bot_id: int | None
    receiving: asyncio.Event

    @property
    def bot(self) -> PollingBot:
        if self._bot is None:
            raise RuntimeError("the Telegram relay is not started")
        return self._bot

    async def _identify(self) -> None:
        raise NotImplementedError  # learning who the bot is is the relay's

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
                await self._while_receiving(bot)
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

    async def _while_receiving(self, bot: PollingBot) -> None:
        """Wait until `stop()`; raises when the Bot API refuses the token meanwhile."""
        waiting = asyncio.create_task(bot.token_refused.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        stopping.cancel()
        if bot.token_refused.is_set():
            bot.token_refused.clear()
            raise TelegramSetupError("the Bot API refused the token while polling")

    async def _start_updater(self, sink: InboundSink) -> None:
        bot = self.bot
        polling = self._options.mode != "webhook"
        self._queue = HandOverQueue(lambda items: self._handle_batch(items, sink), batched=polling)
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
                error_callback=log_poll_error,
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
        if self._db is None:
            raise RuntimeError("confirming updates before the database is set")
        async with self._db.sessions() as session:
            stored = await queries.get_state(session, self._offset_key)
        if stored is not None:
            await bot.get_updates(offset=int(stored), limit=1, timeout=0)

    async def _hand_over(self) -> None:
        """Before each getUpdates: the previous batch is handled (see `PollingBot`). When
        stopping, a batch that cannot be handled in time (the database is down) is not
        confirmed: PTB's last getUpdates fails instead, and Telegram sends it again."""
        if self._queue is None:
            raise RuntimeError("handing over before polling started")
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
            else:
                return

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


def log_poll_error(error: TelegramError) -> None:
    log.warning("telegram: polling error, PTB retries (%s: %s)", type(error).__name__, error)
