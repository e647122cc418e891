"""Reading one period's facts from the database into `PeriodFacts` (one read for all
audiences: each channel's digest is then a selection made in memory)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.digest.model import (
    AlertFact,
    AnnouncementFact,
    CountKey,
    FailingFeed,
    FollowUp,
    IncidentFact,
    MobilisationFact,
    NeedFact,
    Period,
    PeriodFacts,
    UnreachableChannel,
)
from alerts.types import Kind, Urgency
from storage import digest_queries

MOBILISATION = Kind.MOBILISATION.value


def period_ending(end: datetime, length: timedelta, timezone: str) -> Period:
    """The period of `length` ending at `end`, counted in local wall time: a week across
    a change of clocks still runs from Monday 08:00 to Monday 08:00."""
    zone = ZoneInfo(timezone)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    start = (local_end - length).replace(tzinfo=zone).astimezone(end.tzinfo)
    return Period(start=start, end=end, timezone=timezone)


def _ids(text: str | None) -> frozenset[str]:
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return frozenset()
    return frozenset(str(x) for x in data) if isinstance(data, list) else frozenset()


def _urgency(value: str) -> Urgency:
    try:
        return Urgency(value)
    except ValueError:
        return Urgency.NORMAL


async def gather(session: AsyncSession, period: Period, *, removed_reason: str) -> PeriodFacts:
    previous = Period(period.start - (period.end - period.start), period.start, period.timezone)
    rows = await digest_queries.alerts_between(session, period.start, period.end)
    alerts, mobilisation_rows = _incidents(rows)
    mobilisations = await _mobilisations(session, mobilisation_rows)
    current = Counter(
        _key(r.kind, r.border, r.themes, r.urgency) for r in rows if r.parent_id is None
    )
    previous_rows = await digest_queries.alert_keys_between(session, previous.start, previous.end)
    previous_keys = Counter(_key(r.kind, r.border, r.themes, r.urgency) for r in previous_rows)
    items = await digest_queries.feed_items_between(session, period.start, period.end)
    feeds = await digest_queries.failing_feeds(session, period.start)
    channels = await digest_queries.unreachable_channels(session, except_reason=removed_reason)
    return PeriodFacts(
        period=period,
        previous=previous,
        alerts=tuple(alerts),
        mobilisations=tuple(mobilisations),
        announcements=tuple(_announcement(item) for item in items),
        current_keys=dict(current),
        previous_keys=dict(previous_keys),
        failing_feeds=tuple(FailingFeed(f[0], f[1] or f[0], f[2], f[3]) for f in feeds),
        unreachable=tuple(UnreachableChannel(c[0], c[1], c[2] or "", c[3]) for c in channels),
    )


def _key(kind: str, border: str | None, themes: str, urgency: str) -> CountKey:
    return CountKey(kind, border, _ids(themes), _urgency(urgency))


Fact = TypeVar("Fact", bound=IncidentFact)


def _incident(fact: type[Fact], row: Any, **rest: Any) -> Fact:
    """An alert's or a call's fact: the fields both have, read once, and `rest`."""
    return fact(
        id=row.id,
        text=row.text,
        border=row.border,
        themes=_ids(row.themes),
        urgency=_urgency(row.urgency),
        place=row.place,
        status=row.status,
        outcome=row.outcome,
        created_at=row.created_at,
        **rest,
    )


def _by_urgency(fact: AlertFact | MobilisationFact) -> tuple[int, float]:
    return (-fact.urgency.rank, -fact.created_at.timestamp())


def _incidents(rows: Sequence[Any]) -> tuple[list[AlertFact], list[Any]]:
    """Alerts (follow-ups attached to their parent) and the mobilisation rows."""
    follow_ups: dict[int, list[FollowUp]] = {}
    for row in rows:
        if row.parent_id is not None:
            follow_ups.setdefault(row.parent_id, []).append(
                FollowUp(row.id, row.text, row.status, row.outcome)
            )
    alerts = [
        _incident(AlertFact, row, follow_ups=tuple(follow_ups.get(row.id, ())))
        for row in rows
        if row.parent_id is None and row.kind != MOBILISATION
    ]
    alerts.sort(key=_by_urgency)
    return alerts, [r for r in rows if r.parent_id is None and r.kind == MOBILISATION]


async def _mobilisations(session: AsyncSession, rows: Sequence[Any]) -> list[MobilisationFact]:
    ids = [row.id for row in rows]
    needs: dict[int, list[tuple[str, int]]] = {}
    for alert_id, need, wanted in await digest_queries.needs_of(session, ids):
        needs.setdefault(alert_id, []).append((need, wanted))
    answers: Counter[tuple[int, str]] = Counter()
    going_for: Counter[tuple[int, str | None]] = Counter()
    for alert_id, answer, need, count in await digest_queries.answer_counts_of(session, ids):
        answers[(alert_id, answer)] += count
        if answer == "going":
            going_for[(alert_id, need)] += count
    facts = [
        _incident(
            MobilisationFact,
            row,
            needs=tuple(
                NeedFact(need, wanted, going_for[(row.id, need)])
                for need, wanted in sorted(needs.get(row.id, ()))
            ),
            going=answers[(row.id, "going")],
            cannot=answers[(row.id, "cannot")],
            withdrawn=answers[(row.id, "withdrawn")],
        )
        for row in rows
    ]
    facts.sort(key=_by_urgency)
    return facts


def _announcement(row: Any) -> AnnouncementFact:
    (
        item_id,
        title,
        link,
        borders,
        themes,
        published,
        _created,
        feed_id,
        name,
        feed_themes,
        feed_borders,
    ) = row
    return AnnouncementFact(
        id=item_id,
        title=title,
        link=link,
        feed=name or feed_id,
        borders=_ids(borders) or _ids(feed_borders),
        themes=_ids(themes) or _ids(feed_themes),
        published_at=published,
    )
