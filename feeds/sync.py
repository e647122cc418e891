"""Bring the configured feeds into the `feeds` table at start.

Rows from the file are marked `source="config"` and follow the file; feeds added from
chat (`source="chat"`) are left alone, unless the file now lists the same address: then the
file's entry takes over and the chat one is disabled. A feed dropped from the file is disabled, not
deleted, so its items keep deduplicating if it comes back. A feed whose address changed,
or that comes back after being dropped, starts over with a silent first poll: announcing
everything it published in the meantime would flood the channels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from config.checks import feed_address_key
from config.schema import FeedSettings
from storage.database import hold_start_lock
from storage.feed_queries import all_feeds
from storage.models import Feed

CONFIG_SOURCE = "config"
CHAT_SOURCE = "chat"


def restart_state(row: Feed, now: datetime) -> None:
    """Forget what was learnt about a feed's previous address or life: validators,
    failures, pause, and whether its first poll happened."""
    row.etag = row.last_modified = None
    row.consecutive_failures = 0
    row.paused = row.pause_notified = False
    row.initialised = False
    row.next_poll_at = now


async def sync_configured_feeds(
    session: AsyncSession, feeds: Sequence[FeedSettings], now: datetime
) -> None:
    await hold_start_lock(session)  # two `tocsin run` started together sync in turn
    rows = {row.id: row for row in await all_feeds(session)}
    wanted = {feed.id for feed in feeds}
    configured = {feed_address_key(feed.url) for feed in feeds}
    for existing in rows.values():
        if existing.source == CONFIG_SOURCE and existing.id not in wanted:
            existing.enabled = False
        elif (
            existing.source == CHAT_SOURCE
            and existing.enabled
            and feed_address_key(existing.url) in configured
        ):
            # The file now lists a feed added from chat: the file's entry takes over, so
            # its items are announced once, not once per entry.
            existing.enabled = False
    for feed in feeds:
        row = rows.get(feed.id)
        if row is None:
            row = Feed(id=feed.id, url=feed.url, source=CONFIG_SOURCE, enabled=True)
            restart_state(row, now)
            session.add(row)
        elif row.url != feed.url or not row.enabled:
            row.url, row.enabled = feed.url, True
            restart_state(row, now)
        row.source = CONFIG_SOURCE
        row.name = feed.name
        row.every_seconds = int(feed.every.total_seconds())
        row.themes = json.dumps(list(feed.themes))
        row.borders = json.dumps(list(feed.borders))
        row.keywords = json.dumps(list(feed.keywords), ensure_ascii=False)
    await session.flush()
