"""Routing: which channels receive a fact, and when (quiet hours, silences).

Like Alertmanager's route tree flattened: each channel's subscriptions are matchers on
kind × border × theme × minimum urgency; a fact goes to every channel with a match.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.types import Kind, Urgency

log = logging.getLogger(__name__)
ALL = "*"


@dataclass(frozen=True)
class SubscriptionSpec:
    kinds: frozenset[Kind]
    borders: frozenset[str]  # may contain "*"
    themes: frozenset[str]  # may contain "*"
    min_urgency: Urgency = Urgency.NORMAL

    def to_json(self) -> str:
        return json.dumps(
            {
                "kinds": sorted(kind.value for kind in self.kinds),
                "borders": sorted(self.borders),
                "themes": sorted(self.themes),
                "min_urgency": self.min_urgency.value,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> SubscriptionSpec:
        """Raises ValueError (or its subclasses) when the stored row no longer parses."""
        data = json.loads(text)
        if not isinstance(data, dict):
            # ValueError as documented: callers treat any unreadable row alike.
            raise ValueError("subscription spec is not an object")  # noqa: TRY004
        return cls(
            kinds=frozenset(Kind(kind) for kind in data["kinds"]),
            borders=frozenset(str(border) for border in data["borders"]),
            themes=frozenset(str(theme) for theme in data["themes"]),
            min_urgency=Urgency(data.get("min_urgency", "normal")),
        )

    def matches(self, fact: RoutableFact) -> bool:
        if fact.kind not in self.kinds:
            return False
        if ALL not in self.borders and (fact.border is None or fact.border not in self.borders):
            return False  # a fact with no border only reaches "all borders" channels
        if ALL not in self.themes and not self.themes.intersection(fact.themes):
            return False
        if fact.kind in (Kind.ALERT, Kind.MOBILISATION):
            return fact.urgency.at_least(self.min_urgency)
        return True


@dataclass(frozen=True)
class RoutableFact:
    kind: Kind
    border: str | None
    themes: frozenset[str]
    urgency: Urgency


@dataclass(frozen=True)
class ChannelTarget:
    id: str
    platform: str
    address: str
    organisation_id: str
    language: str
    timezone: str
    quiet: str | None
    muted_until: datetime | None
    share_locations: bool
    subscriptions: tuple[SubscriptionSpec, ...]


@dataclass(frozen=True)
class StoredSubscription:
    channel_id: str
    subscription_id: int
    spec: str


def parse_subscriptions(rows: Iterable[StoredSubscription]) -> dict[str, list[SubscriptionSpec]]:
    """Parse stored rows; a row that no longer parses is skipped with a logged error."""
    parsed: dict[str, list[SubscriptionSpec]] = {}
    for row in rows:
        try:
            spec = SubscriptionSpec.from_json(row.spec)
        except (ValueError, KeyError, TypeError) as error:
            log.error(
                "subscription %s of channel %s skipped: it does not parse (%s)",
                row.subscription_id,
                row.channel_id,
                type(error).__name__,
            )
            continue
        parsed.setdefault(row.channel_id, []).append(spec)
    return parsed


def route(fact: RoutableFact, channels: Sequence[ChannelTarget]) -> list[ChannelTarget]:
    return [channel for channel in channels if any(s.matches(fact) for s in channel.subscriptions)]


def deliver_at(channel: ChannelTarget, fact: RoutableFact, now: datetime) -> datetime:
    """When the channel should get the fact: now, or after its quiet hours / silence.

    `urgent` and `vital` go through quiet hours; only `vital` goes through a silence.
    Nothing is dropped: a held delivery waits in the outbox.
    """
    at = now
    urgent = fact.kind in (Kind.ALERT, Kind.MOBILISATION) and fact.urgency.at_least(Urgency.URGENT)
    vital = fact.kind in (Kind.ALERT, Kind.MOBILISATION) and fact.urgency is Urgency.VITAL
    if channel.muted_until is not None and channel.muted_until > at and not vital:
        at = channel.muted_until
    if channel.quiet and not urgent:
        at = quiet_end(channel.quiet, channel.timezone, at) or at
    return at


def quiet_end(window: str, timezone: str, moment: datetime) -> datetime | None:
    """The end of the quiet window containing `moment`, or None if outside it."""
    start_text, end_text = window.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    now_t = local.time()
    inside = (start <= now_t < end) if start < end else (now_t >= start or now_t < end)
    if not inside:
        return None
    end_day = local.date()
    if start > end and now_t >= start:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(moment.tzinfo)
