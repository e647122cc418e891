"""One audience's selection of a period's facts: the borders and themes its digest
subscriptions cover (every fact for the network's archive)."""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from alerts.digest.model import (
    AlertFact,
    AnnouncementFact,
    CountKey,
    CountRow,
    DigestView,
    MobilisationFact,
    PeriodFacts,
    ThemeGroup,
)
from alerts.routing import ALL, SubscriptionSpec
from alerts.types import Kind

COURT = "juridique"  # court decisions come first among the announcements


@dataclass(frozen=True)
class Limits:
    alerts: int = 10
    mobilisations: int = 10
    per_theme: int = 5


@dataclass(frozen=True)
class Audience:
    """The digest subscriptions of a channel; `None` specs: the whole network. A
    channel's digest lists the unreachable channels of its own organisation only."""

    specs: frozenset[SubscriptionSpec] | None
    organisation_id: str | None = None

    def covers(self, borders: Iterable[str | None], themes: frozenset[str]) -> bool:
        if self.specs is None:
            return True
        border_set = {b for b in borders if b is not None}
        for spec in self.specs:
            if Kind.DIGEST not in spec.kinds:
                continue
            if ALL not in spec.borders and not border_set.intersection(spec.borders):
                continue
            if ALL not in spec.themes and not spec.themes.intersection(themes):
                continue
            return True
        return False


NETWORK = Audience(None)

Fact = TypeVar("Fact", AlertFact, MobilisationFact)
Key = tuple[tuple[str | None, ...], frozenset[str]]  # (borders, themes)


def _urgent_first(fact: AlertFact | MobilisationFact) -> tuple[int, float, int]:
    return (-fact.urgency.rank, -fact.created_at.timestamp(), fact.id)


def _grouped(facts: Sequence[Fact]) -> dict[Key, list[Fact]]:
    groups: dict[Key, list[Fact]] = {}
    for fact in sorted(facts, key=_urgent_first):
        groups.setdefault(((fact.border,), fact.themes), []).append(fact)
    return groups


def _theme_of(item: AnnouncementFact) -> str | None:
    """One theme per item, court decisions first: an item is listed once."""
    return COURT if COURT in item.themes else min(item.themes, default=None)


class PeriodIndex:
    """A period's facts grouped by what routing looks at (borders, themes): an audience
    then checks each group once, not each fact; 200 channels over 10,000 alerts stay fast."""

    def __init__(self, facts: PeriodFacts) -> None:
        self.facts = facts
        self.alerts = _grouped(facts.alerts)
        self.mobilisations = _grouped(facts.mobilisations)
        self.current = _cells(facts.current_keys)
        self.previous = _cells(facts.previous_keys)
        self.items: dict[str | None, dict[Key, list[AnnouncementFact]]] = {}
        for item in sorted(facts.announcements, key=lambda i: i.id):
            key = (tuple(sorted(item.borders)) or (None,), item.themes)
            self.items.setdefault(_theme_of(item), {}).setdefault(key, []).append(item)


def select_view(
    facts: PeriodFacts | PeriodIndex, audience: Audience, limits: Limits = Limits()
) -> DigestView:
    index = facts if isinstance(facts, PeriodIndex) else PeriodIndex(facts)
    counts, total, previous_total = _counts(index, audience)
    alerts, more_alerts = _first(index.alerts, audience, limits.alerts, _urgent_first)
    mobilisations, more_mobilisations = _first(
        index.mobilisations, audience, limits.mobilisations, _urgent_first
    )
    return DigestView(
        period=index.facts.period,
        counts=counts,
        total=total,
        previous_total=previous_total,
        alerts=alerts,
        more_alerts=more_alerts,
        mobilisations=mobilisations,
        more_mobilisations=more_mobilisations,
        announcements=_announcements(index, audience, limits.per_theme),
        failing_feeds=index.facts.failing_feeds,
        unreachable=tuple(
            channel
            for channel in index.facts.unreachable
            if audience.organisation_id in (None, channel.organisation_id)
        ),
    )


def _first(
    groups: dict[Key, list[Any]],
    audience: Audience,
    limit: int,
    order: Callable[[Any], Any],
) -> tuple[tuple[Any, ...], int]:
    """The first `limit` covered facts, in `order` (each group is sorted so), and how
    many more there are."""
    chosen = [group for key, group in groups.items() if audience.covers(key[0], key[1])]
    total = sum(len(group) for group in chosen)
    first = tuple(itertools.islice(heapq.merge(*chosen, key=order), limit))
    return first, max(0, total - limit)


def _cells(keys: dict[CountKey, int]) -> dict[Key, int]:
    """Alert counts by (border, themes): urgency does not decide a digest's audience."""
    cells: Counter[Key] = Counter()
    for key, count in keys.items():
        if key.kind == Kind.ALERT.value:
            cells[((key.border,), key.themes)] += count
    return dict(cells)


def _counts(index: PeriodIndex, audience: Audience) -> tuple[tuple[CountRow, ...], int, int]:
    now, now_total = _by_cell(index.current, audience)
    before, before_total = _by_cell(index.previous, audience)
    cells = sorted(set(now) | set(before), key=lambda c: (c[0] or "\uffff", c[1] or "\uffff"))
    rows = tuple(CountRow(b, t, now.get((b, t), 0), before.get((b, t), 0)) for b, t in cells)
    return rows, now_total, before_total


def _by_cell(
    keys: dict[Key, int], audience: Audience
) -> tuple[dict[tuple[str | None, str | None], int], int]:
    """Counts per (border, theme) cell (an alert with two themes in both) and incidents."""
    cells: Counter[tuple[str | None, str | None]] = Counter()
    total = 0
    for (borders, themes), count in keys.items():
        if not audience.covers(borders, themes):
            continue
        total += count
        for theme in _themes_or_none(themes):
            cells[(borders[0], theme)] += count
    return dict(cells), total


def _themes_or_none(themes: frozenset[str]) -> list[str | None]:
    return [*sorted(themes)] or [None]


def _announcements(
    index: PeriodIndex, audience: Audience, per_theme: int
) -> tuple[ThemeGroup, ...]:
    groups: list[ThemeGroup] = []
    order = sorted(index.items, key=lambda t: (t != COURT, t is None, t or ""))
    for theme in order:
        items, more = _first(index.items[theme], audience, per_theme, lambda i: i.id)
        if items:
            groups.append(ThemeGroup(theme, items, more))
    return tuple(groups)
