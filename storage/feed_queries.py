"""Reads and small writes on the `feeds` and `feed_items` tables, in the caller's session."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Feed, FeedItem

# Bound the size of one IN (...) list; SQLite caps bound parameters per statement.
_KEY_BATCH = 500


async def feed(session: AsyncSession, feed_id: str) -> Feed | None:
    return await session.get(Feed, feed_id)


def add_feed(session: AsyncSession, new: Feed) -> None:
    """A new feed, written with the session."""
    session.add(new)


async def all_feeds(session: AsyncSession) -> Sequence[Feed]:
    return (await session.scalars(select(Feed).order_by(Feed.id))).all()


async def active_feeds(session: AsyncSession) -> Sequence[Feed]:
    """Feeds that are polled: enabled and not paused."""
    query = select(Feed).where(Feed.enabled.is_(True), Feed.paused.is_(False)).order_by(Feed.id)
    return (await session.scalars(query)).all()


async def due_feeds(session: AsyncSession, now: datetime) -> Sequence[Feed]:
    query = (
        select(Feed)
        .where(
            Feed.enabled.is_(True),
            Feed.paused.is_(False),
            or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now),
        )
        .order_by(Feed.next_poll_at, Feed.id)
    )
    return (await session.scalars(query)).all()


async def next_poll_at(session: AsyncSession) -> datetime | None:
    """The earliest scheduled poll of an active feed."""
    return await session.scalar(
        select(func.min(Feed.next_poll_at)).where(Feed.enabled.is_(True), Feed.paused.is_(False))
    )


async def watched_feed_by_url(session: AsyncSession, url: str) -> Feed | None:
    """An enabled feed with this address (a feed dropped from the file does not count)."""
    return await session.scalar(
        select(Feed).where(Feed.url == url, Feed.enabled.is_(True)).order_by(Feed.id).limit(1)
    )


async def existing_item_keys(
    session: AsyncSession, feed_id: str, keys: Collection[str]
) -> set[str]:
    found: set[str] = set()
    ordered = list(keys)
    for start in range(0, len(ordered), _KEY_BATCH):
        batch = ordered[start : start + _KEY_BATCH]
        rows = await session.scalars(
            select(FeedItem.item_key).where(
                FeedItem.feed_id == feed_id, FeedItem.item_key.in_(batch)
            )
        )
        found.update(rows)
    return found


async def item_count(session: AsyncSession, feed_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(FeedItem).where(FeedItem.feed_id == feed_id)
    )
    return int(count or 0)


async def delete_feed(session: AsyncSession, feed_id: str) -> None:
    # Items first: SQLite only cascades when its foreign keys pragma is on.
    await session.execute(delete(FeedItem).where(FeedItem.feed_id == feed_id))
    await session.execute(delete(Feed).where(Feed.id == feed_id))
