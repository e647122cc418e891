"""The routing cache: the channels and their subscriptions, read as routing targets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from alerts.routing import ChannelTarget, StoredSubscription, parse_subscriptions
from storage import queries

log = logging.getLogger(__name__)
_INVALIDATE_AT_COMMIT = "tocsin.directory_changed"


async def load_targets(session: AsyncSession) -> list[ChannelTarget]:
    channels = await queries.active_channels(session)
    rows = await queries.subscriptions_of(session, [channel.id for channel in channels])
    specs = parse_subscriptions(
        StoredSubscription(row.channel_id, row.id, row.spec) for row in rows
    )
    return [
        ChannelTarget(
            id=channel.id,
            platform=channel.platform,
            address=channel.address,
            organisation_id=channel.organisation_id,
            language=channel.language,
            timezone=channel.timezone,
            quiet=channel.quiet,
            muted_until=channel.muted_until,
            share_locations=channel.share_locations,
            subscriptions=tuple(specs.get(channel.id, ())),
        )
        for channel in channels
    ]


class ChannelCache:
    """The routing targets, cached: intake reads them for every alert.

    Changes made in this process (chat commands, the dispatcher deactivating a channel,
    the configuration sync) invalidate the cache, at once and when their transaction
    commits, and the next reader loads it again in its own transaction. Another process
    (a `tocsin worker` on PostgreSQL) only ever deactivates or moves a channel, and both
    heal at send (the send is refused and the row cancelled, or the chat is moved again):
    its changes are picked up by a refresh in the background once the cache is `ttl`
    seconds old. So an alert never waits for a reload it does not need; with a thousand
    channels a load takes tens of milliseconds.
    """

    def __init__(
        self,
        sessions: Callable[[], AsyncSession] | None = None,
        *,
        ttl: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._monotonic = monotonic
        self._cached: list[ChannelTarget] | None = None
        self._loaded_at = 0.0
        self._generation = 0  # bumped by `invalidate`: a refresh begun before is stale
        self._refresh: asyncio.Task[None] | None = None

    async def targets(self, session: AsyncSession) -> list[ChannelTarget]:
        cached = self._cached
        if cached is not None and self._monotonic() - self._loaded_at <= self._ttl:
            return cached
        if cached is not None and self._sessions is not None:
            self._refresh_in_background()
            return cached
        generation = self._generation
        loaded = await load_targets(session)
        self._store(loaded, generation)
        return loaded

    async def warm(self) -> None:
        """Load now (at start), so the first alert does not wait for it."""
        if self._sessions is not None:
            async with self._sessions() as session:
                await self.targets(session)

    async def stop(self) -> None:
        """Cancel a refresh in progress (before the database closes)."""
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh

    def invalidate(self) -> None:
        self._cached = None
        self._generation += 1

    def changed_in(self, session: AsyncSession) -> None:
        """The directory changes in `session`'s transaction: forget it now (later reads in
        that transaction load the change) and again when it commits, since a load made by
        another transaction in between saw the old rows."""
        self.invalidate()
        sync_session = session.sync_session
        if not sync_session.info.get(_INVALIDATE_AT_COMMIT):
            sync_session.info[_INVALIDATE_AT_COMMIT] = True
            event.listen(sync_session, "after_commit", self._committed, once=True)

    def _committed(self, session: Session) -> None:
        session.info.pop(_INVALIDATE_AT_COMMIT, None)
        self.invalidate()

    def _store(self, targets: list[ChannelTarget], generation: int) -> None:
        if generation == self._generation:
            self._cached, self._loaded_at = targets, self._monotonic()

    def _refresh_in_background(self) -> None:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._reload(), name="directory-refresh")

    async def _reload(self) -> None:
        if self._sessions is None:
            raise RuntimeError("the channel cache was built without sessions")
        generation = self._generation
        try:
            async with self._sessions() as session:
                targets = await load_targets(session)
        except Exception as error:  # keep serving what we have; the next reader retries
            log.warning("channel directory not refreshed: %s", type(error).__name__)
            return
        self._store(targets, generation)
