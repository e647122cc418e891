"""The neutral facts of one period, from which every digest is drawn: the whole network's
(`PeriodFacts`) and one audience's selection of them (`DigestView`). No author, no member,
no coordinates ever enter these types, so no digest or archive can show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerts.types import Urgency


@dataclass(frozen=True)
class Period:
    start: datetime  # aware UTC, included
    end: datetime  # aware UTC, excluded: the scheduled time
    timezone: str  # how its dates are shown


@dataclass(frozen=True)
class FollowUp:
    id: int
    text: str
    status: str
    outcome: str | None


@dataclass(frozen=True)
class IncidentFact:
    """What an alert and a call share in a digest."""

    id: int
    text: str
    border: str | None
    themes: frozenset[str]
    urgency: Urgency
    place: str | None
    status: str  # open | closed | …
    outcome: str | None
    created_at: datetime


@dataclass(frozen=True)
class AlertFact(IncidentFact):
    follow_ups: tuple[FollowUp, ...] = ()


@dataclass(frozen=True)
class NeedFact:
    need: str
    wanted: int
    going: int


@dataclass(frozen=True)
class MobilisationFact(IncidentFact):
    needs: tuple[NeedFact, ...]
    going: int
    cannot: int
    withdrawn: int


@dataclass(frozen=True)
class AnnouncementFact:
    id: int
    title: str
    link: str | None
    feed: str  # the feed's name (or id)
    borders: frozenset[str]
    themes: frozenset[str]
    published_at: datetime | None


@dataclass(frozen=True)
class FailingFeed:
    id: str
    name: str
    failures: int
    paused: bool


@dataclass(frozen=True)
class UnreachableChannel:
    id: str
    platform: str
    reason: str
    organisation_id: str


# (border or None, theme or None) → count; an alert with several themes counts once per
# theme, one with none under None.
Counts = dict[tuple[str | None, str | None], int]


@dataclass(frozen=True)
class CountKey:
    """What decides whether an alert counts for an audience."""

    kind: str
    border: str | None
    themes: frozenset[str]
    urgency: Urgency


@dataclass(frozen=True)
class PeriodFacts:
    period: Period
    previous: Period
    alerts: tuple[AlertFact, ...]  # incidents (no follow-ups), most urgent first
    mobilisations: tuple[MobilisationFact, ...]  # most urgent first
    announcements: tuple[AnnouncementFact, ...]
    # incidents of this and the previous period by routing key, with their counts
    current_keys: dict[CountKey, int]
    previous_keys: dict[CountKey, int]
    failing_feeds: tuple[FailingFeed, ...]
    unreachable: tuple[UnreachableChannel, ...]


@dataclass(frozen=True)
class CountRow:
    border: str | None
    theme: str | None
    count: int
    previous: int


@dataclass(frozen=True)
class ThemeGroup:
    theme: str | None
    items: tuple[AnnouncementFact, ...]
    more: int  # announcements of this theme not listed


@dataclass(frozen=True)
class DigestView:
    """One audience's digest: what its subscriptions cover, ready to render."""

    period: Period
    counts: tuple[CountRow, ...]
    total: int
    previous_total: int
    alerts: tuple[AlertFact, ...]
    more_alerts: int
    mobilisations: tuple[MobilisationFact, ...]
    more_mobilisations: int
    announcements: tuple[ThemeGroup, ...]
    failing_feeds: tuple[FailingFeed, ...]
    unreachable: tuple[UnreachableChannel, ...]

    @property
    def empty(self) -> bool:
        """Nothing happened on the audience's borders and themes (the network's health,
        failing feeds and lost channels, alone does not make a digest worth sending)."""
        return not (self.total or self.alerts or self.mobilisations or self.announcements)
