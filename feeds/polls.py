"""What one poll of one feed reads before the network call, and what it reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from feeds.classify import FeedLabels
from storage.models import Feed

PollStatus = Literal["new", "not_modified", "failed", "paused", "skipped"]


@dataclass(frozen=True)
class FeedSnapshot:
    """What one poll needs, read before the network call so no session stays open."""

    id: str
    url: str
    name: str
    every: timedelta
    labels: FeedLabels
    etag: str | None
    last_modified: str | None

    @classmethod
    def of(cls, row: Feed) -> FeedSnapshot:
        return cls(
            id=row.id,
            url=row.url,
            name=row.name or row.id,
            every=timedelta(seconds=max(row.every_seconds, 1)),
            labels=FeedLabels(
                borders=json_labels(row.borders),
                themes=json_labels(row.themes),
                keywords=json_labels(row.keywords),
            ),
            etag=row.etag,
            last_modified=row.last_modified,
        )


@dataclass(frozen=True)
class PollOutcome:
    feed_id: str
    status: PollStatus
    new_items: int = 0
    announced: int = 0
    deliveries: int = 0
    error: str | None = None


@dataclass(frozen=True)
class PollReport:
    outcomes: tuple[PollOutcome, ...]

    def count(self, status: PollStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def new_items(self) -> int:
        return sum(outcome.new_items for outcome in self.outcomes)

    @property
    def announced(self) -> int:
        return sum(outcome.announced for outcome in self.outcomes)

    def of(self, feed_id: str) -> PollOutcome:
        return next(outcome for outcome in self.outcomes if outcome.feed_id == feed_id)


def json_labels(text: str | None) -> tuple[str, ...]:
    """A stored JSON list of strings; a damaged value reads as empty rather than failing."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(entry) for entry in value) if isinstance(value, list) else ()
