"""Scheduled intake work, idempotent and driven by the injected clock (tests call `tick`):

- leave the groups nobody claimed in time: a goodbye first, then leaving once it went out;
- tell an alert's author when some channels could not be reached (once per new failure);
- forget guided conversations abandoned long ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import text_message
from alerts.notices import private_address
from alerts.outbox import NOTICE, Outbox, OutboxSignal, Target
from alerts.types import NOTICE_PRIORITY
from bot import conversations
from bot.groups import deadline_of, is_claimed, unclaimed_groups, unclaimed_key
from bot.intake_texts import register
from bot.router import STRANGER_ANSWERED
from storage import queries
from storage.database import Database
from storage.models import Alert, Delivery, Member, PlatformState

log = logging.getLogger(__name__)

Leave = Callable[[str], Awaitable[bool]]  # a relay's `leave(address)`: True when gone
_LEAVING = "leaving:"
_STRANGERS = timedelta(days=1)
_FAILED = ("dead", "cancelled")


class IntakeChores:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        translate: Translator,
        outbox: Outbox,
        signal: OutboxSignal,
        leave: Mapping[str, Leave],
        language: str = "fr",
        every: float = 30.0,
        goodbye_wait: timedelta = timedelta(minutes=5),
        report_window: timedelta = timedelta(days=2),
        forget_after: timedelta = timedelta(days=1),
    ) -> None:
        self._db = database
        self._clock = clock
        self._translate = translate
        self._outbox = outbox
        self._signal = signal
        self.leave = dict(leave)
        self._language = language
        self._every = every
        self._goodbye_wait = goodbye_wait
        self._report_window = report_window
        self._forget_after = forget_after
        self._stopping = asyncio.Event()
        register(translate)

    async def run(self) -> None:
        """Until `stop()`; supervised by the caller."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:  # one bad round must not stop the next
                log.exception("intake chores failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)

    def stop(self) -> None:
        self._stopping.set()

    async def tick(self) -> None:
        await self.leave_unclaimed_groups()
        await self.report_unreached_channels()
        async with self._db.transaction() as session:
            await conversations.prune(session, self._clock.now() - self._forget_after)
            # Strangers answered in groups: remembered far longer than the rule needs.
            await queries.prune_state(session, STRANGER_ANSWERED, self._clock.now() - _STRANGERS)
        self._signal.wake()

    # -- unclaimed groups --------------------------------------------------------------

    async def leave_unclaimed_groups(self) -> None:
        async with self._db.sessions() as session:
            waiting = await unclaimed_groups(session)
        for platform, chat, value in waiting:
            await self._check_group(platform, chat, value)

    async def _check_group(self, platform: str, chat: str, value: str) -> None:
        now = self._clock.now()
        key = unclaimed_key(platform, chat)
        async with self._db.transaction() as session:
            if await is_claimed(session, platform, chat):
                await _forget(session, key)
                return
            if not value.startswith(_LEAVING):
                deadline = deadline_of(value)
                if deadline is not None and now < deadline:
                    return
                goodbye = await self._outbox.enqueue_now(
                    session,
                    Target(platform, chat),
                    text_message(self._translate(self._language, "group.leaving", prefix="/")),
                    fact=NOTICE,
                    priority=NOTICE_PRIORITY,
                    now=now,
                )
                value = f"{_LEAVING}{goodbye[0]}:{now.isoformat()}"
                await queries.set_state(session, key, value, now)
                return
            _, delivery_id, since = value.split(":", 2)
            goodbye_row = await session.get(Delivery, int(delivery_id))
            said = goodbye_row is None or goodbye_row.status != "pending"
            started = deadline_of(since)
            if not said and started is not None and now - started < self._goodbye_wait:
                return
        leave = self.leave.get(platform)
        if leave is None or not await leave(chat):
            return  # tried again next round
        log.info("%s: left a group nobody claimed", platform)
        async with self._db.transaction() as session:
            await _forget(session, key)

    # -- delivery reports --------------------------------------------------------------

    async def report_unreached_channels(self) -> None:
        now = self._clock.now()
        since = now - self._report_window
        async with self._db.transaction() as session:
            failing = select(Delivery.fact_id).where(
                Delivery.fact_type == "alert",
                Delivery.status.in_(_FAILED),
                Delivery.channel_id.is_not(None),
                Delivery.created_at >= since,
            )
            rows = (
                await session.execute(
                    select(Delivery.fact_id, Delivery.channel_id, Delivery.status).where(
                        Delivery.fact_type == "alert",
                        Delivery.channel_id.is_not(None),
                        Delivery.edit_of_delivery_id.is_(None),
                        Delivery.fact_id.in_(failing),
                    )
                )
            ).all()
            channels: dict[int, dict[str, bool]] = {}
            for alert_id, channel_id, status in rows:
                if alert_id is None or channel_id is None:
                    continue
                reached = channels.setdefault(alert_id, {})
                reached[channel_id] = reached.get(channel_id, True) and status not in _FAILED
            for alert_id, reached in sorted(channels.items()):
                await self._report(session, alert_id, reached)

    async def _report(self, session: AsyncSession, alert_id: int, reached: dict[str, bool]) -> None:
        failed = sorted(channel for channel, ok in reached.items() if not ok)
        key = f"alert.unreached:{alert_id}"
        told = await queries.get_state(session, key)
        if told is not None and int(told) >= len(failed):
            return
        now = self._clock.now()
        await queries.set_state(session, key, str(len(failed)), now)
        alert = await session.get(Alert, alert_id)
        author = (
            await session.get(Member, alert.author_member_id)
            if alert and alert.author_member_id
            else None
        )
        if author is None:
            return
        address = await private_address(session, author.platform, author.user_ref)
        if address is None:
            return
        text = self._translate(
            author.language or self._language,
            "report.failed",
            id=alert_id,
            failed=len(failed),
            total=len(reached),
            channels=", ".join(failed),
        )
        self._outbox.enqueue(
            session,
            Target(author.platform, address),
            text_message(text),
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=now,
        )
        log.info("alert %s: author told that %d channel(s) were not reached", alert_id, len(failed))


async def _forget(session: AsyncSession, key: str) -> None:
    await session.execute(delete(PlatformState).where(PlatformState.key == key))
