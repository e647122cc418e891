"""One audience's selection of a period's facts: the borders and themes its digest
subscriptions cover (every fact for the network's archive)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
    """The digest subscriptions of a channel; `None` specs: the whole network."""

    specs: frozenset[SubscriptionSpec] | None

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


def select_view(facts: PeriodFacts, audience: Audience, limits: Limits = Limits()) -> DigestView:
    counts, total, previous_total = _counts(facts, audience)
    alerts, more_alerts = _first(facts.alerts, audience, limits.alerts)
    mobilisations, more_mobilisations = _first(facts.mobilisations, audience, limits.mobilisations)
    return DigestView(
        period=facts.period,
        counts=counts,
        total=total,
        previous_total=previous_total,
        alerts=alerts,
        more_alerts=more_alerts,
        mobilisations=mobilisations,
        more_mobilisations=more_mobilisations,
        announcements=_announcements(facts.announcements, audience, limits.per_theme),
        failing_feeds=facts.failing_feeds,
        unreachable=facts.unreachable,
    )


def _first(facts: Sequence[Fact], audience: Audience, limit: int) -> tuple[tuple[Fact, ...], int]:
    """The first `limit` covered facts (they come most urgent first) and how many more."""
    chosen = [f for f in facts if audience.covers((f.border,), f.themes)]
    return tuple(chosen[:limit]), max(0, len(chosen) - limit)


def _counts(facts: PeriodFacts, audience: Audience) -> tuple[tuple[CountRow, ...], int, int]:
    now = _by_cell(facts.current_keys, audience)
    before = _by_cell(facts.previous_keys, audience)
    cells = sorted(set(now) | set(before), key=lambda c: (c[0] or "\uffff", c[1] or "\uffff"))
    rows = tuple(CountRow(b, t, now.get((b, t), 0), before.get((b, t), 0)) for b, t in cells)
    return rows, _incidents(facts.current_keys, audience), _incidents(facts.previous_keys, audience)


def _alert_keys(keys: dict[CountKey, int], audience: Audience) -> Iterable[tuple[CountKey, int]]:
    for key, count in keys.items():
        if key.kind == Kind.ALERT.value and audience.covers((key.border,), key.themes):
            yield key, count


def _by_cell(
    keys: dict[CountKey, int], audience: Audience
) -> dict[tuple[str | None, str | None], int]:
    cells: Counter[tuple[str | None, str | None]] = Counter()
    for key, count in _alert_keys(keys, audience):
        for theme in _themes_or_none(key.themes):
            cells[(key.border, theme)] += count
    return dict(cells)


def _themes_or_none(themes: frozenset[str]) -> list[str | None]:
    return [*sorted(themes)] or [None]


def _incidents(keys: dict[CountKey, int], audience: Audience) -> int:
    return sum(count for _key, count in _alert_keys(keys, audience))


def _announcements(
    items: Sequence[AnnouncementFact], audience: Audience, per_theme: int
) -> tuple[ThemeGroup, ...]:
    groups: dict[str | None, list[AnnouncementFact]] = {}
    for item in items:
        if not audience.covers(item.borders or (None,), item.themes):
            continue
        # One theme per item, court decisions first: an item is listed once.
        theme = COURT if COURT in item.themes else min(item.themes, default=None)
        groups.setdefault(theme, []).append(item)
    order = sorted(groups, key=lambda t: (t != COURT, t is None, t or ""))
    return tuple(
        ThemeGroup(theme, tuple(groups[theme][:per_theme]), max(0, len(groups[theme]) - per_theme))
        for theme in order
    )
