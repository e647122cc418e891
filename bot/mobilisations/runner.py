"""The calls' deadlines, read from the database with the injected clock (tests call
`tick`): debounced count edits, escalations, reminders, closings. Each fires in its own
transaction and at most once (`*_at` columns), so a restart resumes where it stopped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import Clock
from alerts.messages import text_message
from alerts.mobilisations.calls import CallService
from alerts.periodic import Periodic
from storage import mobilisation_queries
from storage.database import Database
from storage.models import Alert, Member

log = logging.getLogger(__name__)
Step = Callable[[AsyncSession, int], Awaitable[object]]


class DeadlineRunner:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        calls: CallService,
        every: float = 1.0,
        language: str = "fr",
    ) -> None:
        self._db = database
        self._clock = clock
        self._calls = calls
        self._language = language
        self._periodic = Periodic(
            self.tick,
            every=every,
            log=log,
            failure="mobilisation deadlines failed; trying again later",
        )

    async def run(self) -> None:
        """Until `stop()`; supervised by the caller."""
        await self._periodic.run()

    def stop(self) -> None:
        self._periodic.stop()

    async def tick(self) -> int:
        """Fire every deadline due now; returns how many fired."""
        now = self._clock.now()
        async with self._db.sessions() as session:
            counts = await mobilisation_queries.due_counts(session, now)
            closings = await mobilisation_queries.due_closings(session, now)
            escalations = await mobilisation_queries.due_escalations(session, now)
            reminders = await mobilisation_queries.due_reminders(session, now)
        fired = 0
        for call_id in closings:
            fired += await self._each(call_id, self._close)
        for call_id in escalations:
            fired += await self._each(call_id, self._escalate)
        for call_id in reminders:
            fired += await self._each(call_id, self._remind)
        for call_id in counts:
            fired += await self._each(call_id, self._count)
        return fired

    async def _each(self, call_id: int, step: Step) -> int:
        try:
            async with self._db.transaction() as session:
                await step(session, call_id)
        except Exception:
            log.exception("mobilisation %s: a deadline failed; tried again later", call_id)
            return 0
        return 1

    async def _count(self, session: AsyncSession, call_id: int) -> None:
        await self._calls.refresh(session, call_id, self._clock.now())

    async def _escalate(self, session: AsyncSession, call_id: int) -> None:
        sent = await self._calls.escalate(session, call_id, self._clock.now())
        if sent is not None:
            log.info("mobilisation %s escalated to %d more channel(s)", call_id, sent)

    async def _remind(self, session: AsyncSession, call_id: int) -> None:
        await self._calls.remind(session, call_id, self._clock.now())

    async def _close(self, session: AsyncSession, call_id: int) -> None:
        now = self._clock.now()
        if await self._calls.close(session, call_id, None, now) is None:
            return
        log.info("mobilisation %s closed by its deadline", call_id)
        alert = await session.get(Alert, call_id)
        author = (
            await session.get(Member, alert.author_member_id)
            if alert is not None and alert.author_member_id
            else None
        )
        if author is not None:
            text = self._calls.translate(
                author.language or self._language, "mob.notice.closed_auto", id=call_id
            )
            await self._calls.tell(session, author, text_message(text), now)
