"""Reading the channel directory (channels + their subscriptions) as routing targets."""

from __future__ import annotations

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
