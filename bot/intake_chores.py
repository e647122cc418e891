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

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import text_message
from alerts.notices import private_address
from alerts.outbox import NOTICE, Outbox, Target
from alerts.types import NOTICE_PRIORITY
from bot import conversations
from bot.intake_texts import register
from storage import alert_queries, channel_queries, platform_state
from storage.database import Database
from storage.platform_state import UnclaimedGroup

log = logging.getLogger(__name__)

Leave = Callable[[str], Awaitable[bool]]  # a relay's `leave(address)`: True when gone
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
            await platform_state.prune_stranger_answers(session, self._clock.now() - _STRANGERS)

    # -- unclaimed groups --------------------------------------------------------------

    async def leave_unclaimed_groups(self) -> None:
        async with self._db.sessions() as session:
            waiting = await platform_state.unclaimed_groups(session)
        for group in waiting:
            await self._check_group(group)

    async def _check_group(self, group: UnclaimedGroup) -> None:
        now = self._clock.now()
        platform, chat = group.platform, group.chat
        async with self._db.transaction() as session:
            if await channel_queries.chat_has_channel(session, platform, chat):
                await platform_state.forget_unclaimed(session, platform, chat)
                return
            if group.leaving is None:
                if group.deadline is not None and now < group.deadline:
                    return
                goodbye = await self._outbox.enqueue_now(
                    session,
                    Target(platform, chat),
                    text_message(self._translate(self._language, "group.leaving", prefix="/")),
                    fact=NOTICE,
                    priority=NOTICE_PRIORITY,
                    now=now,
                )
                await platform_state.set_leaving(session, platform, chat, goodbye[0], now)
                return
            goodbye_id, started = group.leaving.goodbye_id, group.leaving.since
            status = (
                await alert_queries.delivery_status(session, goodbye_id)
                if goodbye_id is not None
                else None
            )
            said = status != "pending"  # also when the goodbye row is gone
            if not said and started is not None and now - started < self._goodbye_wait:
                return
        leave = self.leave.get(platform)
        if leave is None or not await leave(chat):
            return  # tried again next round
        log.info("%s: left a group nobody claimed", platform)
        async with self._db.transaction() as session:
            await platform_state.forget_unclaimed(session, platform, chat)

    # -- delivery reports --------------------------------------------------------------

    async def report_unreached_channels(self) -> None:
        now = self._clock.now()
        since = now - self._report_window
        async with self._db.transaction() as session:
            rows = await alert_queries.channel_outcomes_of_failing_alerts(
                session, since, failed=_FAILED
            )
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
        told = await platform_state.unreached_told(session, alert_id)
        if told is not None and told >= len(failed):
            return
        now = self._clock.now()
        await platform_state.set_unreached_told(session, alert_id, len(failed), now)
        author = await alert_queries.alert_author(session, alert_id)
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

