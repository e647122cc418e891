"""The outbox dispatcher: the one place that decides retries, backoff and pacing.

It leases the head delivery of each due chat, waits for the chat's and the platform's
rate limits (highest priority first), hands the message to the platform's relay and
records what the relay reported. A crash leaves leased rows that expire and are sent
again; Matrix reuses the stored transaction id so that resend is not a duplicate.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.directory import ChannelDirectory
from alerts.i18n import Translator
from alerts.messages import DeliveryResult, OutboundMessage, SendContext
from alerts.metrics import Metrics, NoMetrics
from alerts.notices import notify_admins
from alerts.outbox import Outbox, OutboxSignal
from alerts.types import Kind, Urgency, delivery_priority
from relays.base import Relay
from relays.ratelimit import ChatBuckets, PlatformLimits, PriorityPacer, Rate
from storage import outbox as store
from storage.database import Database
from storage.models import Channel, Delivery

log = logging.getLogger(__name__)
URGENT = delivery_priority(Kind.ALERT, Urgency.URGENT)


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 2.0
    max_delay: float = 15 * 60.0
    give_up_after: timedelta = timedelta(hours=24)
    jitter: float = 0.2  # ± fraction, so many chats retrying do not stampede together

    def backoff(self, attempts: int, rng: random.Random) -> float:
        base = min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)
        return float(base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class DispatcherSettings:
    lease: timedelta = timedelta(minutes=2)  # a backstop; heartbeats free leases sooner
    heartbeat: timedelta = timedelta(seconds=5)
    max_in_flight: int = 200
    poll_interval: float = 1.0
    send_timeout: float = 60.0


class Dispatcher:
    def __init__(
        self,
        *,
        database: Database,
        relays: Mapping[str, Relay],
        limits: Mapping[str, PlatformLimits],
        clock: Clock,
        signal: OutboxSignal,
        outbox: Outbox,
        translate: Translator,
        directory: ChannelDirectory | None = None,
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
        self._signal = signal
        self._outbox = outbox
        self._translate = translate
        self._directory = directory
        self._retry = retry or RetryPolicy()
        self._settings = settings or DispatcherSettings()
        self._rng = rng or random.Random()
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:10]}"
        self._pacers = {
            platform: PriorityPacer(limit.overall) for platform, limit in self._limits.items()
        }
        self._buckets = ChatBuckets()
        self._in_flight: dict[store.Chat, asyncio.Task[None]] = {}
        self._in_flight_priority: dict[store.Chat, int] = {}
        self._sending: set[store.Chat] = set()  # past the pacer, in the relay's hands
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
                    chat = (row.platform, row.address)
                    self._in_flight_priority[chat] = row.priority
                    self._in_flight[chat] = asyncio.create_task(
                        self._deliver(row), name=f"deliver-{row.id}"
                    )
                await self._signal.wait(await self._idle_timeout(bool(claimed)))
        finally:
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
        if released:
            log.warning("%d deliveries leased by a stopped dispatcher are queued again", released)

    def stop(self) -> None:
        self._stopping.set()
        self._signal.wake()

    async def _finish_in_flight(self) -> None:
        """Let the sends under way finish; those still waiting for their turn stop now
        (their leases are released by `retire`, another run sends them)."""
        for chat, task in self._in_flight.items():
            if chat not in self._sending:
                task.cancel()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=10)
        for task in self._in_flight.values():
            task.cancel()

    async def _idle_timeout(self, claimed: bool) -> float:
        if claimed or self._in_flight:
            return self._settings.poll_interval
        async with self._db.sessions() as session:
            due = await store.next_due(session, self.platforms)
        if due is None:
            return self._settings.poll_interval
        return max(
            0.0, min((due - self._clock.now()).total_seconds(), self._settings.poll_interval)
        )

    async def _claim(self) -> list[Delivery]:
        """Lease due rows up to the in-flight budget. Urgent and vital rows have a budget of
        their own: a backlog of routine rows already waiting at the pacer must not keep them
        from being claimed, since the pacer then serves them first."""
        if not self._relays:
            return []
        urgent_in_flight = sum(1 for p in self._in_flight_priority.values() if p >= URGENT)
        room = self._settings.max_in_flight - len(self._in_flight)
        urgent_room = self._settings.max_in_flight - urgent_in_flight
        if room <= 0 and urgent_room <= 0:
            return []
        now = self._clock.now()
        async with self._db.transaction() as session:
            busy = set(self._in_flight)
            if self._db.dialect == "postgresql":
                busy |= await store.claimed_chats_elsewhere(session, self.worker_id, now)
            claim = functools.partial(
                store.claim_heads,
                session,
                platforms=self.platforms,
                now=now,
                worker=self.worker_id,
                lease_until=now + self._settings.lease,
            )
            taken = await claim(busy=busy, limit=urgent_room, min_priority=URGENT)
            busy |= {(row.platform, row.address) for row in taken}
            if room - len(taken) > 0:
                taken += await claim(busy=busy, limit=room - len(taken))
            return taken

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

    async def _deliver(self, row: Delivery) -> None:
        chat = (row.platform, row.address)
        try:
            await self._pace(row)
            self._sending.add(chat)
            result = await self._send(row)
            await self._record(row, result)
        except Exception:
            # Never let one delivery kill the dispatcher; the lease expires and it is retried.
            log.exception("delivery %s: unexpected error", row.id)
        finally:
            self._sending.discard(chat)
            self._in_flight.pop(chat, None)
            self._in_flight_priority.pop(chat, None)
            self._signal.wake()

    async def _pace(self, row: Delivery) -> None:
        limits = self._limits.get(row.platform)
        if limits is None:
            return
        relay = self._relays[row.platform]
        rate = (
            limits.private_chat
            if relay.chat_class(row.address) == "private"
            else (limits.group_chat)
        )
        key = f"{row.platform}:{row.address}"
        wait = self._buckets.wait_time(key, rate)
        if wait > 0:
            await asyncio.sleep(wait)
        await self._pacers[row.platform].acquire(row.priority)
        self._buckets.take(key, rate)

    async def _send(self, row: Delivery) -> DeliveryResult:
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
                log.info("chat %s moved to %s", row.address, result.moved_to)
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
            limits = self._limits.get(row.platform)
            rate = limits.group_chat if limits else None
            self._buckets.block(f"{row.platform}:{row.address}", rate, result.retry_after)
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
        self._signal.wake()


def telegram_limits(overall: float, private: float, group_per_minute: float) -> PlatformLimits:
    return PlatformLimits(
        overall=Rate(overall),
        private_chat=Rate(private),
        group_chat=Rate.per_minute(group_per_minute, burst=3),
    )
