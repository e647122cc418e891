"""The intake's scheduled rounds, idempotent and driven by the injected clock (tests call
`tick`): leave the groups nobody claimed, report unreached channels to authors, forget
guided drafts abandoned long ago and old answers to strangers."""

from __future__ import annotations

import logging
from datetime import timedelta

from alerts.clock import Clock
from alerts.periodic import Periodic
from bot.intake import drafts
from bot.intake.delivery_reports import DeliveryReports
from bot.intake.unclaimed_groups import UnclaimedGroups
from storage import platform_state
from storage.database import Database

log = logging.getLogger(__name__)
_STRANGERS = timedelta(days=1)


class IntakeUpkeep:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        groups: UnclaimedGroups,
        reports: DeliveryReports,
        every: float = 30.0,
        forget_after: timedelta = timedelta(days=1),
    ) -> None:
        self._db = database
        self._clock = clock
        self._groups = groups
        self._reports = reports
        self._forget_after = forget_after
        self._periodic = Periodic(
            self.tick, every=every, log=log, failure="intake upkeep failed; trying again later"
        )

    async def run(self) -> None:
        """Until `stop()`; supervised by the caller."""
        await self._periodic.run()

    def stop(self) -> None:
        self._periodic.stop()

    async def tick(self) -> None:
        await self._groups.leave_unclaimed()
        await self._reports.report_unreached_channels()
        now = self._clock.now()
        async with self._db.transaction() as session:
            await drafts.prune(session, now - self._forget_after)
            # Strangers answered in groups: remembered far longer than the rule needs.
            await platform_state.prune_stranger_answers(session, now - _STRANGERS)
