"""Leaving the groups nobody claimed in time (see `groups`): a goodbye first, then leaving
once it went out (or after `goodbye_wait`). Each step is a `platform_state` row, so a
restart resumes where it stopped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from alerts.clock import Clock
from alerts.i18n import Translator
from alerts.messages import text_message
from alerts.outbox import NOTICE, Outbox, Target
from alerts.types import NOTICE_PRIORITY
from storage import alert_queries, channel_queries, platform_state
from storage.database import Database
from storage.platform_state import UnclaimedGroup

log = logging.getLogger(__name__)

Leave = Callable[[str], Awaitable[bool]]  # a relay's `leave(address)`: True when gone


class UnclaimedGroups:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        translate: Translator,
        outbox: Outbox,
        leave: Mapping[str, Leave],
        language: str = "fr",
        goodbye_wait: timedelta = timedelta(minutes=5),
    ) -> None:
        """`leave`: per platform, the relays that can leave a chat."""
        self._db = database
        self._clock = clock
        self._translate = translate
        self._outbox = outbox
        self._leave = leave
        self._language = language
        self._goodbye_wait = goodbye_wait

    async def leave_unclaimed(self) -> None:
        async with self._db.sessions() as session:
            waiting = await platform_state.unclaimed_groups(session)
        for group in waiting:
            if await self._ready_to_leave(group):
                await self._leave_group(group)

    async def _ready_to_leave(self, group: UnclaimedGroup) -> bool:
        """Claimed meanwhile: forgotten. Past its deadline: the goodbye queued. Goodbye
        said (or waited for long enough): True."""
        now = self._clock.now()
        platform, chat = group.platform, group.chat
        async with self._db.transaction() as session:
            if await channel_queries.chat_has_channel(session, platform, chat):
                await platform_state.forget_unclaimed(session, platform, chat)
                return False
            if group.leaving is None:
                if group.deadline is None or now >= group.deadline:
                    goodbye = await self._outbox.enqueue_now(
                        session,
                        Target(platform, chat),
                        text_message(self._translate(self._language, "group.leaving", prefix="/")),
                        fact=NOTICE,
                        priority=NOTICE_PRIORITY,
                        now=now,
                    )
                    await platform_state.set_leaving(session, platform, chat, goodbye[0], now)
                return False
            goodbye_id, started = group.leaving.goodbye_id, group.leaving.since
            status = (
                await alert_queries.delivery_status(session, goodbye_id)
                if goodbye_id is not None
                else None
            )
        said = status != "pending"  # also when the goodbye row is gone
        return said or started is None or now - started >= self._goodbye_wait

    async def _leave_group(self, group: UnclaimedGroup) -> None:
        leave = self._leave.get(group.platform)
        if leave is None or not await leave(group.chat):
            return  # tried again next round
        log.info("%s: left a group nobody claimed", group.platform)
        async with self._db.transaction() as session:
            await platform_state.forget_unclaimed(session, group.platform, group.chat)
