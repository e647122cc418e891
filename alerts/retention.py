"""Retention: personal content older than `[privacy] retention` goes; counts stay.

The purge works in batches, each one transaction: a batch of alerts is counted into
`alert_counts` and blanked (text, photo, place, coordinates, author, source message)
and marked `purged_at` together, so a purge killed half-way leaves every alert either
whole or purged and counted once, and the next purge resumes where it stopped. Then the
bodies of messages sent (or given up) before the cutoff, the inbound update records, the
guided drafts and intake refusals go. `PurgeJob` runs it once a day: the day's turn is a
stored row, so a restart (or a second process) does not purge twice in a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from alerts.clock import Clock
from alerts.messages import OutboundMessage
from alerts.periodic import Periodic
from storage import audit_queries, queries, retention_queries
from storage.database import Database

log = logging.getLogger(__name__)
EMPTY_PAYLOAD = OutboundMessage(paragraphs=()).to_json()
TURN_KEY = "privacy.purge"
INBOUND_KEPT_AT_LEAST = timedelta(days=1)


@dataclass
class PurgeReport:
    alerts: int = 0
    answers: int = 0
    deliveries: int = 0
    inbound: int = 0
    drafts: int = 0

    def lines(self) -> list[str]:
        return [f"{field.name}: {getattr(self, field.name)}" for field in fields(self)]

    @property
    def empty(self) -> bool:
        return not any(getattr(self, field.name) for field in fields(self))

    @property
    def detail(self) -> str:  # for the audit log: numbers only
        return " ".join(f"{field.name}={getattr(self, field.name)}" for field in fields(self))


class Purger:
    def __init__(
        self, *, database: Database, clock: Clock, retention: timedelta, batch: int = 500
    ) -> None:
        self._db = database
        self._clock = clock
        self._retention = retention
        self._batch = batch

    async def purge(self) -> PurgeReport:
        now = self._clock.now()
        cutoff = now - self._retention
        report = PurgeReport()
        while True:
            async with self._db.transaction() as session:
                alerts, answers = await retention_queries.purge_alerts(
                    session, cutoff, now, self._batch
                )
            report.alerts += alerts
            report.answers += answers
            if alerts < self._batch:
                break
        while True:
            async with self._db.transaction() as session:
                blanked = await retention_queries.blank_deliveries(
                    session, cutoff, EMPTY_PAYLOAD, self._batch
                )
            report.deliveries += blanked
            if not blanked:
                break
        async with self._db.transaction() as session:
            # Update ids are kept a day at least, whatever the retention: a platform may
            # deliver an unconfirmed update again after an outage, and it must be known.
            seen_cutoff = min(cutoff, now - INBOUND_KEPT_AT_LEAST)
            report.inbound = await retention_queries.delete_inbound_seen(session, seen_cutoff)
            report.drafts = await retention_queries.delete_old_drafts(session, cutoff)
            if not report.empty:  # a day with nothing to purge leaves no entry
                audit_queries.record(
                    session,
                    action="purge",
                    actor_member_id=None,
                    organisation_id=None,
                    at=now,
                    detail=report.detail,
                )
        log.info("retention purge: %s", report.detail)
        return report


class PurgeJob:
    """The daily purge, supervised by `tocsin run`; `tick()` is one look at the clock."""

    def __init__(
        self,
        purger: Purger,
        *,
        database: Database,
        clock: Clock,
        every: timedelta = timedelta(days=1),
        check_every: float = 600.0,
    ) -> None:
        self._purger = purger
        self._db = database
        self._clock = clock
        self._every = every
        # Resumable: the next look (or tomorrow's purge) finishes what a failed one left.
        self._periodic = Periodic(
            self.tick,
            every=check_every,
            log=log,
            failure="retention purge failed; it resumes at the next run",
        )

    async def tick(self) -> PurgeReport | None:
        """Purge if the day's turn is free (stored: holds over restarts and processes)."""
        now: datetime = self._clock.now()
        async with self._db.transaction() as session:
            if not await queries.claim_turn(session, TURN_KEY, now, every=self._every):
                return None
        try:
            return await self._purger.purge()
        except BaseException:
            # Give the turn back, so the next look (minutes later) tries again; what
            # this one purged stays purged and counted.
            async with self._db.transaction() as session:
                await retention_queries.release_turn(session, TURN_KEY)
            raise

    async def run(self) -> None:
        await self._periodic.run()

    def stop(self) -> None:
        self._periodic.stop()
