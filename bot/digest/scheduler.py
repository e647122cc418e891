"""The digest's APScheduler job (`AsyncIOScheduler`, in `tocsin run` only): at each
instant of `[digest] cron` it sends the digest that instant stands for; at start it sends
the latest one missed while Tocsin was down (once: the service is idempotent).

APScheduler decides when to wake up; which digest is due is computed from the injected
clock, so tests drive `tick` and `catch_up` with a manual clock."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerts.clock import Clock
from bot.digest.schedule import DigestSchedule
from bot.digest.service import DigestService, Fired
from storage import digest_queries
from storage.database import Database

log = logging.getLogger(__name__)
JOB_ID = "tocsin-digest"
# How late a firing may come and still stand for its instant (a busy loop, the second
# firing of a repeated wall-clock time): either way the service sends a digest once.
GRACE = timedelta(hours=1)


class DigestScheduler:
    def __init__(
        self, *, service: DigestService, schedule: DigestSchedule, clock: Clock, database: Database
    ) -> None:
        self._service = service
        self._schedule = schedule
        self._clock = clock
        self._database = database
        self._stopping = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None

    async def tick(self) -> Fired | None:
        """The job: send the digest due now, if any."""
        now = self._clock.now()
        due = self._schedule.due_at(now, grace=GRACE)
        if due is None:
            return None
        return await self._service.fire(due, now)

    async def catch_up(self) -> Fired | None:
        """At start: the latest digest due since this database first ran the schedule
        and not sent (Tocsin was down at its time) is sent now; older ones are not."""
        now = self._clock.now()
        async with self._database.transaction() as session:
            since = await digest_queries.watching_since(session, now)
        latest = self._schedule.latest(now)
        if latest is None or latest <= since:
            return None
        return await self._service.fire(latest, now)

    async def _job(self) -> None:
        try:
            await self.tick()
        except Exception:  # the next firing tries again; nothing was half-sent
            log.exception("digest job failed")

    async def run(self) -> None:
        """Until `stop()`; supervised by the caller."""
        self._stopping.clear()
        scheduler = AsyncIOScheduler(timezone=self._schedule.zone)
        scheduler.add_job(
            self._job,
            self._schedule.trigger,
            id=JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(GRACE.total_seconds()),
        )
        scheduler.start()
        self.scheduler = scheduler
        try:
            await self.catch_up()
            await self._stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            self.scheduler = None

    def stop(self) -> None:
        self._stopping.set()
