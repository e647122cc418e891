"""Reading the channel directory (channels + their subscriptions) as routing targets."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.routing import ChannelTarget, StoredSubscription, parse_subscriptions
from storage import queries


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


class ChannelDirectory:
    """The routing targets, cached briefly: intake reads them for every alert.

    Changes made in this process (chat commands, the dispatcher deactivating a channel,
    the configuration sync) invalidate the cache at once; changes made by another process
    (a `tocsin worker` on PostgreSQL) are seen within `ttl` seconds. A channel routed to
    in that window after it was deactivated fails at send and its row is cancelled.
    """

    def __init__(self, ttl: float = 2.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._monotonic = monotonic
        self._cached: list[ChannelTarget] | None = None
        self._loaded_at = 0.0

    async def targets(self, session: AsyncSession) -> list[ChannelTarget]:
        now = self._monotonic()
        if self._cached is None or now - self._loaded_at > self._ttl:
            self._cached = await load_targets(session)
            self._loaded_at = now
        return self._cached

    def invalidate(self) -> None:
        self._cached = None
