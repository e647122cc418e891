"""Bring the configuration's organisations, members and channels into the database.

Rows from the file are marked `source="config"` and follow the file at each start; rows
added from chat are left alone. A channel deactivated by the dispatcher (bot blocked,
kicked) stays inactive until someone re-enables it: a restart must not hide that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.routing import SubscriptionSpec
from alerts.types import Kind, Urgency
from config.schema import ChannelSettings, Settings
from storage import directory_queries
from storage.database import hold_start_lock


def spec_of(channel: ChannelSettings) -> SubscriptionSpec:
    return SubscriptionSpec(
        kinds=frozenset(Kind(kind) for kind in channel.kinds),
        borders=frozenset(channel.borders),
        themes=frozenset(channel.themes),
        min_urgency=Urgency(channel.min_urgency),
    )


REMOVED = "removed from the configuration"


async def sync_config(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # Processes started together sync one after the other; the upserts keep a row written
    # meanwhile from chat (an invitation, /channel) from failing the start on a duplicate key.
    await hold_start_lock(session)
    for org in settings.organisations:
        await directory_queries.upsert_config_organisation(
            session, org.id, org.name, contact=org.contact, description=org.description
        )

    wanted_members = {(m.platform, m.user): m for m in settings.members}
    await directory_queries.delete_config_members_except(session, wanted_members.keys())
    for wanted_member in wanted_members.values():
        await directory_queries.upsert_config_member(
            session,
            {
                "platform": wanted_member.platform,
                "user_ref": wanted_member.user,
                "organisation_id": wanted_member.organisation,
                "role": wanted_member.role,
                "language": wanted_member.language,
                "created_at": now,
            },
        )

    wanted = {c.id for c in settings.channels}
    await directory_queries.deactivate_config_channels_except(session, wanted, reason=REMOVED)
    for entry in settings.channels:
        await directory_queries.upsert_config_channel(
            session,
            {
                "id": entry.id,
                "platform": entry.platform,
                "address": entry.address,
                "organisation_id": entry.organisation,
                "language": entry.language,
                "timezone": entry.timezone,
                "quiet": entry.quiet,
                "share_locations": entry.share_locations,
                "created_at": now,
            },
            removed_reason=REMOVED,
        )
        await directory_queries.replace_config_subscription(
            session, entry.id, spec_of(entry).to_json()
        )
    await session.flush()
