"""The outbox dispatcher: the one place that decides retries, backoff and pacing.

It reads the head delivery of every due chat and leases, best priority first, only what
the platform can take in the next moments (`lead`), choosing among chats of one priority
the one that has waited longest for its turn: a chat's backlog never holds up another
chat. A leased row waits for the chat's and the platform's rate limits (highest priority
first), is handed to the platform's relay and what the relay reported is recorded. An
urgent or vital row takes its chat's turn from a routine row not yet handed to the relay.
A crash leaves leased rows that expire and are sent again; Matrix reuses the stored
transaction id so that resend is not a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.channel_cache import ChannelCache
from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import DeliveryResult, OutboundMessage, SendContext
from alerts.metrics import Metrics, NoMetrics
from alerts.notices import notify_admins
from alerts.outbox import Outbox
from alerts.types import Kind, Urgency, delivery_priority
from relays.base import Relay
from relays.dispatch_policy import DispatcherSettings, RetryPolicy
from relays.ratelimit import ChatBuckets, PlatformLimits, PriorityPacer, Rate
from storage import outbox as store
from storage.database import Database
from storage.models import Channel, Delivery

log = logging.getLogger(__name__)
URGENT = delivery_priority(Kind.ALERT, Urgency.URGENT)
READY_SLACK = 0.05  # s: chats that can send this soon are leased in the same claim
# s between claims that finished sends ask for (new rows wake it at once): a claim reads
# every chat's head, and one after each send would hold up the pacer's next release.
CLAIM_GAP = 0.1


@dataclass
class _Flight:
    """A leased row on its way: waiting for its turn, then (`sending`) in the relay's hands."""

    row_id: int
    platform: str
    priority: int
    task: asyncio.Task[None] | None = None
    sending: bool = field(default=False)


class Dispatcher:
    def __init__(
        self,
        *,
        database: Database,
        relays: Mapping[str, Relay],
        limits: Mapping[str, PlatformLimits],
        clock: Clock,
        outbox: Outbox,
        translate: Translator,
        directory: ChannelCache | None = None,
        retry: RetryPolicy | None = None,
        settings: DispatcherSettings | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._db = database
        self._relays = dict(relays)
        self._limits = dict(limits)
        self._clock = clock
        self._signal = outbox.signal  # rung when rows are committed
        self._outbox = outbox
        self._translate = translate
        self._directory = directory
        self._retry = retry or RetryPolicy()
        self._settings = settings or DispatcherSettings()
        self._rng = rng or random.SystemRandom()  # jitter; tests inject a seeded one
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:10]}"
        self._pacers = {
            platform: PriorityPacer(limit.overall) for platform, limit in self._limits.items()
        }
        self._buckets = ChatBuckets()
        self._in_flight: dict[store.Chat, _Flight] = {}
        self._ready_in: float | None = None  # until the next chat skipped as not ready is
        self._starved = False  # the last claim left ready chats for want of room
        self._last_claim = 0.0
        self._wake_later: asyncio.TimerHandle | None = None
        self._stopping = asyncio.Event()
        self._next_beat = 0.0
        self.sent_count = 0

    @property
    def platforms(self) -> list[str]:
        return sorted(self._relays)

    async def run(self) -> None:
        """Drain the outbox until `stop()`; supervised by the caller."""
        if self._db.dialect == "sqlite":
            async with self._db.transaction() as session:
                await store.release_all_claims(session)
        try:
            while not self._stopping.is_set():
                await self._beat()
                claimed = await self._claim()
                for row in claimed:
                    flight = _Flight(row.id, row.platform, row.priority)
                    self._in_flight[(row.platform, row.address)] = flight
                    flight.task = asyncio.create_task(
                        self._deliver(row, flight), name=f"deliver-{row.id}"
                    )
                await self._signal.wait(await self._idle_timeout(bool(claimed)))
        finally:
            if self._wake_later is not None:
                self._wake_later.cancel()
            await self._finish_in_flight()
            async with self._db.transaction() as session:
                await store.retire(session, self.worker_id)

    async def _beat(self) -> None:
        """Heartbeat, and take back the leases of dispatchers that stopped beating."""
        now_monotonic = asyncio.get_running_loop().time()
        if now_monotonic < self._next_beat:
            return
        self._next_beat = now_monotonic + self._settings.heartbeat.total_seconds()
        now = self._clock.now()
        async with self._db.transaction() as session:
            await store.heartbeat(session, self.worker_id, now)
            released = await store.release_dead_workers(session, now - 4 * self._settings.heartbeat)
            await store.forget_pauses(session, now)
        if released:
            log.warning("%d deliveries leased by a stopped dispatcher are queued again", released)

    def stop(self) -> None:
        self._stopping.set()
        self._signal.wake()

    async def _finish_in_flight(self) -> None:
        """Let the sends under way finish; those still waiting for their turn stop now
        (their leases are released by `retire`, another run sends them)."""
        tasks = [flight.task for flight in self._in_flight.values() if flight.task]
        for flight in self._in_flight.values():
            if flight.task and not flight.sending:
                flight.task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()

    async def _idle_timeout(self, claimed: bool) -> float:
        timeout = self._settings.poll_interval
        if self._ready_in is not None:
            timeout = min(timeout, self._ready_in)
        if claimed or self._in_flight:
            return timeout
        now = self._clock.now()
        async with self._db.sessions() as session:
            due = await store.next_due(session, self.platforms, now)
        if due is None:
            return timeout
        return max(0.0, min((due - now).total_seconds(), timeout))

    def _lead_size(self, platform: str) -> int:
        """How many leased rows may wait for the platform's pacer."""
        limits = self._limits.get(platform)
        if limits is None or limits.overall is None:
            return self._settings.max_in_flight
        ahead = math.ceil(limits.overall.per_second * self._settings.lead)
        return max(2, min(ahead, self._settings.max_in_flight))

    def _waiting(self, platform: str, min_priority: int = 0) -> int:
        return sum(
            1
            for flight in self._in_flight.values()
            if flight.platform == platform
            and not flight.sending
            and flight.priority >= min_priority
        )

    async def _claim(self) -> list[Delivery]:
        """Lease what each platform can take in the next `lead` seconds, best priority
        first; within one priority the chat that has waited longest for its turn goes
        first (a chat never seen, an idle one, before a busy one that just sent).

        Urgent and vital rows have a budget of their own, since the pacer serves them
        before the routine rows already waiting; and one of them takes its chat's turn from
        a lower-priority row that has not reached the relay yet (that row is given back and
        comes after it, the chat's order among equal priorities kept). A chat that cannot
        send yet (its own pace, or a 429's block) is left until it can: leased, its row
        would take a place in the lead from a chat that can."""
        self._ready_in = None
        self._starved = False
        self._last_claim = asyncio.get_running_loop().time()
        if not self._relays:
            return []
        room = {p: self._lead_size(p) - self._waiting(p) for p in self.platforms}
        urgent_room = {p: self._lead_size(p) - self._waiting(p, URGENT) for p in self.platforms}
        if all(room[p] <= 0 and urgent_room[p] <= 0 for p in self.platforms):
            return []
        now = self._clock.now()
        monotonic = asyncio.get_running_loop().time()
        async with self._db.transaction() as session:
            elsewhere: set[store.Chat] = set()
            if self._db.dialect == "postgresql":
                elsewhere = await store.claimed_chats_elsewhere(session, self.worker_id, now)
            heads = await store.due_heads(session, platforms=self.platforms, now=now)
            ready = self._ready_heads(heads, elsewhere, monotonic)
            chosen, given_back = self._choose(ready, room, urgent_room)
            await store.unlease(session, given_back, self.worker_id)
            return await store.lease(
                session,
                chosen,
                now=now,
                worker=self.worker_id,
                lease_until=now + self._settings.lease,
            )

    def _ready_heads(
        self, heads: list[store.Head], elsewhere: set[store.Chat], monotonic: float
    ) -> list[store.Head]:
        """The heads of chats that can send now, best priority first, then the chat that
        has waited longest; `_ready_in` notes when the next one left out can."""
        horizon = monotonic + READY_SLACK
        candidates: list[tuple[int, float, int, store.Head]] = []
        for head in heads:
            if head.chat in elsewhere:
                continue
            ready_at = self._buckets.ready_at(self._chat_key(head), self._chat_rate(head))
            if ready_at > horizon:
                wait = ready_at - monotonic
                self._ready_in = wait if self._ready_in is None else min(self._ready_in, wait)
                continue
            candidates.append((-head.priority, ready_at, head.id, head))
        candidates.sort(key=lambda candidate: candidate[:3])
        return [head for *_, head in candidates]

    def _choose(
        self, heads: list[store.Head], room: dict[str, int], urgent_room: dict[str, int]
    ) -> tuple[list[int], list[int]]:
        """The ids to lease within the room, and those of pre-empted rows to give back.
        Synchronous: a pre-empted row cannot start sending between the check and here."""
        chosen: list[int] = []
        given_back: list[int] = []
        for head in heads:
            urgent = head.priority >= URGENT
            if room[head.platform] <= 0 and not (urgent and urgent_room[head.platform] > 0):
                self._starved = True
                continue
            flight = self._in_flight.get(head.chat)
            if flight is not None:
                if not urgent or head.priority <= flight.priority or flight.sending:
                    continue
                if flight.task is not None:
                    flight.task.cancel()
                del self._in_flight[head.chat]
                given_back.append(flight.row_id)
            chosen.append(head.id)
            room[head.platform] -= 1
            if urgent:
                urgent_room[head.platform] -= 1
        return chosen, given_back

    async def drained(
        self, platforms: Collection[str] | None = None, within: timedelta = timedelta(0)
    ) -> bool:
        """True when nothing is in flight nor due before `within` from now, on every
        platform or only on `platforms`."""
        chosen = self.platforms if platforms is None else platforms
        if any(platform in chosen for platform, _ in self._in_flight):
            return False
        async with self._db.sessions() as session:
            due_by = self._clock.now() + within
            return await store.count_due(session, chosen, due_by) == 0

    async def wait_drained(
        self,
        poll: float = 0.05,
        platforms: Collection[str] | None = None,
        within: timedelta = timedelta(0),
    ) -> None:
        """Return once nothing is due or in flight (the DB is polled: other processes write).

        `within` also waits for rows due soon: a retry or a chat paused by a 429."""
        while not await self.drained(platforms, within):  # noqa: ASYNC110
            await asyncio.sleep(poll)

    async def _deliver(self, row: Delivery, flight: _Flight) -> None:
        chat = (row.platform, row.address)
        try:
            result = await self._send(row, flight)
            await self._record(row, result)
        except Exception:
            # Never let one delivery kill the dispatcher; the lease expires and it is retried.
            log.exception("delivery %s: unexpected error", row.id)
        finally:
            if self._in_flight.get(chat) is flight:  # not pre-empted meanwhile
                del self._in_flight[chat]
            # Claim again when this chat may send its next row now, or when ready chats
            # were left for want of room and the rows waiting for the pacer run low; not
            # after every send (a claim reads every chat's head; a chat that must wait
            # for its pace is claimed when it can send).
            if self._buckets.wait_time(self._chat_key(row), self._chat_rate(row)) == 0 or (
                self._starved
                and self._waiting(row.platform) <= self._lead_size(row.platform) // 2
            ):
                self._wake_soon()

    def _wake_soon(self) -> None:
        """Claim again, but not sooner than `CLAIM_GAP` after the last claim."""
        if self._wake_later is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_claim + CLAIM_GAP - loop.time()
        if delay <= 0:
            self._woken()
        else:
            self._wake_later = loop.call_later(delay, self._woken)

    def _woken(self) -> None:
        # The dispatcher's own loop control, like `stop`: new rows ring the signal on commit.
        self._wake_later = None
        self._signal.wake()

    @staticmethod
    def _chat_key(row: Delivery | store.Head) -> str:
        return f"{row.platform}:{row.address}"

    def _chat_rate(self, row: Delivery | store.Head) -> Rate | None:
        """The chat's own limit: 1/s for a private chat, 20/min for a group on Telegram."""
        limits = self._limits.get(row.platform)
        if limits is None:
            return None
        if self._relays[row.platform].chat_class(row.address) == "private":
            return limits.private_chat
        return limits.group_chat

    async def _pace(self, row: Delivery) -> None:
        if row.platform not in self._limits:
            return
        key, rate = self._chat_key(row), self._chat_rate(row)
        wait = self._buckets.wait_time(key, rate)
        if wait > 0:
            await asyncio.sleep(wait)
        await self._pacers[row.platform].acquire(row.priority)
        self._buckets.take(key, rate)

    async def _send(self, row: Delivery, flight: _Flight) -> DeliveryResult:
        """Wait for the row's turn, then hand it to the relay. What the send needs is read
        first: once released by the pacer, nothing holds it back."""
        try:
            message = OutboundMessage.from_json(row.payload)
        except (ValueError, KeyError, TypeError) as error:
            return DeliveryResult.failed(f"stored message unreadable: {type(error).__name__}")
        async with self._db.sessions() as session:
            reply_to = await store.message_id_of(session, row.reply_to_delivery_id)
            edit_of = await store.message_id_of(session, row.edit_of_delivery_id)
        if row.edit_of_delivery_id is not None and edit_of is None:
            return DeliveryResult.retry("the message to edit is not sent yet")
        context = SendContext(row.id, row.txn_id, reply_to, edit_of)
        await self._pace(row)
        flight.sending = True
        try:
            async with asyncio.timeout(self._settings.send_timeout):
                return await self._relays[row.platform].send(row.address, message, context)
        except TimeoutError:
            return DeliveryResult.retry("timed out")

    async def _record(self, row: Delivery, result: DeliveryResult) -> None:
        now = self._clock.now()
        chat = (row.platform, row.address)
        self._metrics.delivery_reported(
            row.platform, row.kind, result, (now - row.created_at).total_seconds()
        )
        async with self._db.transaction() as session:
            if result.outcome == "sent":
                await store.mark_sent(session, row.id, result.platform_message_id or "", now)
                self.sent_count += 1
                return
            if result.outcome == "moved" and result.moved_to:
                log.info("a chat moved to a new address; its deliveries follow")
                await store.move_chat(session, chat, result.moved_to)
                self._directory_changed(session)
                await store.schedule_retry(session, row.id, now, result.reason, False)
                return
            if result.outcome == "retry":
                await self._record_retry(session, row, result, now)
                return
            if result.markup_refused:
                plain = replace(OutboundMessage.from_json(row.payload), plain_only=True)
                if not OutboundMessage.from_json(row.payload).plain_only:
                    await store.set_payload(session, row.id, plain.to_json())
                    await store.schedule_retry(session, row.id, now, result.reason, False)
                    return
            if result.channel_gone:
                await self._channel_gone(session, row, result.reason, now)
                return
            log.warning(
                "delivery %s to %s failed for good: %s", row.id, row.platform, result.reason
            )
            await store.mark_final(session, [row.id], "dead", result.reason)
            self._metrics.delivery_dead(row.platform, row.kind)
            await self._tell_admins(
                session, row, "notice.dead", now, attempts=row.attempts + 1, reason=result.reason
            )

    async def _record_retry(
        self, session: AsyncSession, row: Delivery, result: DeliveryResult, now: datetime
    ) -> None:
        chat = (row.platform, row.address)
        if result.rate_limited and result.retry_after is not None:
            self._buckets.block(self._chat_key(row), result.retry_after)
        if now - row.created_at >= self._retry.give_up_after and not result.rate_limited:
            await store.mark_final(session, [row.id], "dead", result.reason)
            self._metrics.delivery_dead(row.platform, row.kind)
            await self._tell_admins(
                session, row, "notice.dead", now, attempts=row.attempts + 1, reason=result.reason
            )
            return
        delay = (
            result.retry_after
            if result.retry_after is not None
            else self._retry.backoff(row.attempts + 1, self._rng)
        )
        at = now + timedelta(seconds=delay)
        # The whole chat waits: its queue order holds and a 429 pauses that chat only.
        await store.pause_chat(session, chat, at)
        await store.schedule_retry(
            session, row.id, at, result.reason, count_attempt=not result.rate_limited
        )

    async def _channel_gone(
        self, session: AsyncSession, row: Delivery, reason: str, now: datetime
    ) -> None:
        chat = (row.platform, row.address)
        log.warning(
            "chat on %s no longer reachable (%s): channel deactivated", row.platform, reason
        )
        pending = await store.pending_ids_of_chat(session, chat)
        await store.mark_final(session, pending, "cancelled", reason)
        channels = await store.deactivate_channel(session, chat, reason)
        self._directory_changed(session)
        for channel in channels:
            await notify_admins(
                session,
                organisation_id=channel.organisation_id,
                outbox=self._outbox,
                translate=self._translate,
                now=now,
                key="notice.channel_gone",
                channel=channel.id,
                platform=channel.platform,
                reason=reason,
            )

    def _directory_changed(self, session: AsyncSession) -> None:
        if self._directory is not None:
            self._directory.changed_in(session)

    async def _tell_admins(
        self, session: AsyncSession, row: Delivery, key: str, now: datetime, **params: object
    ) -> None:
        if row.fact_type == "notice":
            return  # a notice about a notice would loop
        organisation = None
        if row.channel_id:
            channel = await session.get(Channel, row.channel_id)
            organisation = channel.organisation_id if channel else None
        await notify_admins(
            session,
            organisation_id=organisation,
            outbox=self._outbox,
            translate=self._translate,
            now=now,
            key=key,
            channel=row.channel_id or row.address,
            **params,
        )
