"""Which new items of a feed are announced, and in which order.

Every item not seen before is recorded, so it is looked at once. It is announced unless
the feed's keywords exclude it or this is the feed's first poll: a first poll records what
the feed already holds in silence, except its latest ``announce_first`` items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from alerts.feed_announcements import ItemToRecord
from feeds.classify import ItemClassifier
from feeds.parse import FeedItem

_EPOCH = datetime.fromtimestamp(0, UTC)


def chronological(items: Sequence[FeedItem]) -> list[FeedItem]:
    """Oldest first, so channels read items in the order they were published. Without a
    date on every item, the document's order is trusted: feeds list the newest first."""
    if all(item.published is not None for item in items):
        return sorted(items, key=lambda item: item.published or _EPOCH)
    return list(reversed(items))


def items_to_record(
    fresh: Sequence[FeedItem],
    classifier: ItemClassifier,
    *,
    first_poll: bool,
    announce_first: int,
) -> list[ItemToRecord]:
    """``fresh`` (new to the feed, oldest first) with their labels and announce flags."""
    classified = [(item, classifier.classify(item.title, item.summary)) for item in fresh]
    kept = [item.key for item, classification in classified if classification.kept]
    if not first_poll:
        announce = set(kept)
    else:
        announce = set(kept[-announce_first:]) if announce_first > 0 else set()
    return [
        ItemToRecord(
            key=item.key,
            title=item.title,
            link=item.link,
            summary=item.summary,
            published=item.published,
            borders=classification.borders,
            themes=classification.themes,
            announce=item.key in announce,
        )
        for item, classification in classified
    ]
