"""Sending a scheduled digest: once per (channel, scheduled time), in one transaction with
its outbox rows, whatever fires it (the cron job, the catch-up at start, a second process).

The network's archive row is claimed first: the transaction that inserts it sends the
channels' digests; any other (a job firing twice, another process at the same minute)
finds it and sends nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.channel_cache import ChannelCache
from alerts.digest.archive import totals_json
from alerts.digest.audience import NETWORK, Audience, PeriodIndex, select_view
from alerts.digest.gather import gather, period_ending
from alerts.digest.model import DigestView, Period, PeriodFacts
from alerts.digest.render import ChatRenderer
from alerts.messages import OutboundMessage
from alerts.outbox import FactRef, Outbox, Target
from alerts.routing import ChannelTarget, RoutableFact, deliver_at
from alerts.types import Kind, Urgency, delivery_priority
from bot.config_sync import REMOVED
from bot.digest.archive import ArchiveWriter
from storage import digest_queries
from storage.database import Database

log = logging.getLogger(__name__)
PRIORITY = delivery_priority(Kind.DIGEST, Urgency.NORMAL)
_ROUTING = RoutableFact(Kind.DIGEST, None, frozenset(), Urgency.NORMAL)


@dataclass(frozen=True)
class Fired:
    scheduled_for: datetime
    sent: bool  # False: this scheduled digest had already been sent
    channels: int = 0  # digests enqueued
    skipped: int = 0  # empty digests not sent (`digest_empty = "skip"`)


def audience_of(target: ChannelTarget) -> Audience | None:
    """The channel's digest subscriptions; None when it takes no digest."""
    specs = frozenset(s for s in target.subscriptions if Kind.DIGEST in s.kinds)
    return Audience(specs, target.organisation_id) if specs else None


class DigestService:
    def __init__(
        self,
        *,
        database: Database,
        directory: ChannelCache,
        outbox: Outbox,
        renderer: ChatRenderer,
        archive: ArchiveWriter | None,
        period: timedelta,
        timezone: str,
        empty_policy: Mapping[str, str],
    ) -> None:
        self._database = database
        self._directory = directory
        self._outbox = outbox
        self._renderer = renderer
        self._archive = archive
        self.period = period
        self.timezone = timezone
        self._empty_policy = dict(empty_policy)  # channel id → "say" | "skip"

    async def facts(self, period: Period) -> PeriodFacts:
        async with self._database.sessions() as session:
            return await gather(session, period, removed_reason=REMOVED)

    async def targets(self) -> list[ChannelTarget]:
        async with self._database.sessions() as session:
            return await self._directory.targets(session)

    def view(self, facts: PeriodFacts, target: ChannelTarget | None) -> DigestView | None:
        """A channel's digest of these facts (the network's for None); None when the
        channel takes no digest."""
        if target is None:
            return select_view(facts, NETWORK)
        audience = audience_of(target)
        return None if audience is None else select_view(facts, audience)

    def render(self, view: DigestView, language: str) -> OutboundMessage:
        return self._renderer.render(view, language)

    def plan(
        self, facts: PeriodFacts | PeriodIndex, targets: list[ChannelTarget]
    ) -> list[tuple[ChannelTarget, OutboundMessage | None]]:
        """Each digest channel and its message (None: empty and set to skip). Channels
        with the same subscriptions and language share one rendering."""
        rendered: dict[tuple[Audience, str, str], OutboundMessage | None] = {}
        plan: list[tuple[ChannelTarget, OutboundMessage | None]] = []
        for target in targets:
            audience = audience_of(target)
            if audience is None:
                continue
            policy = self._empty_policy.get(target.id, "say")
            key = (audience, target.language, policy)
            if key not in rendered:
                view = select_view(facts, audience)
                skip = view.empty and policy == "skip"
                rendered[key] = None if skip else self._renderer.render(view, target.language)
            plan.append((target, rendered[key]))
        return plan

    async def fire(self, scheduled_for: datetime, now: datetime) -> Fired:
        """Send the digest scheduled for `scheduled_for` unless it was sent."""
        async with self._database.sessions() as session:
            if await digest_queries.network_done(session, scheduled_for):
                return Fired(scheduled_for, sent=False)
        period = period_ending(scheduled_for, self.period, self.timezone)
        index = PeriodIndex(await self.facts(period))
        plan = self.plan(index, await self.targets())
        network = select_view(index, NETWORK)
        row = {
            "scheduled_for": scheduled_for,
            "period_start": period.start,
            "period_end": period.end,
            "created_at": now,
        }
        async with self._database.transaction() as session:
            network_row = {**row, "audience": digest_queries.NETWORK, "channel_id": None}
            if not await digest_queries.claim(
                session, [{**network_row, "totals": totals_json(network)}]
            ):
                return Fired(scheduled_for, sent=False)  # another firing sent it
            claimed = await digest_queries.claim(
                session,
                [{**row, "audience": t.id, "channel_id": t.id, "totals": None} for t, _ in plan],
            )
            sent, skipped = self._enqueue(session, plan, claimed, now)
        log.info(
            "digest %s: %d channel(s), %d empty skipped", scheduled_for.isoformat(), sent, skipped
        )
        if self._archive is not None:
            await self._archive.write(network)
        return Fired(scheduled_for, sent=True, channels=sent, skipped=skipped)

    def _enqueue(
        self,
        session: AsyncSession,
        plan: list[tuple[ChannelTarget, OutboundMessage | None]],
        claimed: dict[str, int],
        now: datetime,
    ) -> tuple[int, int]:
        """The claimed channels' outbox rows, in the claim's transaction: (sent, skipped)."""
        sent = skipped = 0
        for target, message in plan:
            digest_id = claimed.get(target.id)
            if digest_id is None:
                continue
            if message is None:
                skipped += 1
                continue
            self._outbox.enqueue(
                session,
                Target(target.platform, target.address, target.id),
                message,
                fact=FactRef("digest", digest_id, "digest"),
                priority=PRIORITY,
                now=now,
                deliver_at=deliver_at(target, _ROUTING, now),
            )
            sent += 1
        return sent, skipped
