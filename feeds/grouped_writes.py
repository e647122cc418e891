"""Record "not modified" polls in shared transactions (group commit).

Most polls end with a 304 and only move the feed's schedule. One transaction each costs
more CPU than the HTTP request itself, so the polls that finish while a write is under
way are written together in the next one: a single UPDATE executed for many feeds. Each
poll still waits for its own write, so nothing is reported done before it is stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, update

from storage.database import Database
from storage.models import Feed


@dataclass(frozen=True)
class NotModified:
    feed_id: str
    etag: str | None
    last_modified: str | None
    polled_at: datetime
    next_poll_at: datetime


_FEEDS = cast(Table, Feed.__table__)
# A Core UPDATE run once with many parameter sets. Feeds removed or paused while their
# request was in flight are left as they are.
_UPDATE = (
    update(_FEEDS)
    .where(
        and_(
            _FEEDS.c.id == bindparam("feed_id"),
            _FEEDS.c.enabled.is_(True),
            _FEEDS.c.paused.is_(False),
        )
    )
    .values(
        etag=bindparam("new_etag"),
        last_modified=bindparam("new_last_modified"),
        last_success_at=bindparam("polled_at"),
        consecutive_failures=0,
        next_poll_at=bindparam("new_next_poll_at"),
    )
)


class NotModifiedWriter:
    def __init__(self, database: Database, writes: asyncio.Semaphore) -> None:
        self._db = database
        self._writes = writes  # the watcher's bound on concurrent write transactions
        self._pending: list[tuple[NotModified, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, entry: NotModified) -> None:
        """Return once ``entry`` is committed; raise what the database raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="feed-304-writer")
        await done

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._writes, self._db.transaction() as session:
                    await session.execute(
                        _UPDATE,
                        [
                            {
                                "feed_id": entry.feed_id,
                                "new_etag": entry.etag,
                                "new_last_modified": entry.last_modified,
                                "polled_at": entry.polled_at,
                                "new_next_poll_at": entry.next_poll_at,
                            }
                            for entry, _ in batch
                        ],
                    )
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
