"""Bring the configuration's organisations, members and channels into the database.

Rows from the file are marked `source="config"` and follow the file at each start; rows
added from chat are left alone. A channel deactivated by the dispatcher (bot blocked,
kicked) stays inactive until someone re-enables it: a restart must not hide that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.routing import SubscriptionSpec
from alerts.types import Kind, Urgency
from config.schema import ChannelSettings, Settings
from storage.models import Channel, Member, Organisation, Subscription


def spec_of(channel: ChannelSettings) -> SubscriptionSpec:
    return SubscriptionSpec(
        kinds=frozenset(Kind(kind) for kind in channel.kinds),
        borders=frozenset(channel.borders),
        themes=frozenset(channel.themes),
        min_urgency=Urgency(channel.min_urgency),
    )


async def sync_directory(session: AsyncSession, settings: Settings, now: datetime) -> None:
    for org in settings.organisations:
        org_row = await session.get(Organisation, org.id)
        if org_row is None:
            session.add(Organisation(id=org.id, name=org.name, source="config"))
        else:
            org_row.name = org.name
    await session.flush()

    wanted_members = {(m.platform, m.user): m for m in settings.members}
    existing = {(m.platform, m.user_ref): m for m in await session.scalars(select(Member))}
    for key, member in existing.items():
        if member.source == "config" and key not in wanted_members:
            await session.delete(member)
    for key, wanted_member in wanted_members.items():
        member_row = existing.get(key)
        if member_row is None:
            session.add(
                Member(
                    platform=wanted_member.platform,
                    user_ref=wanted_member.user,
                    organisation_id=wanted_member.organisation,
                    role=wanted_member.role,
                    language=wanted_member.language,
                    source="config",
                    created_at=now,
                )
            )
        else:
            member_row.organisation_id = wanted_member.organisation
            member_row.role, member_row.source = wanted_member.role, "config"
            member_row.language = wanted_member.language or member_row.language
    await session.flush()

    channels = {c.id: c for c in await session.scalars(select(Channel))}
    wanted = {c.id for c in settings.channels}
    for channel in channels.values():
        if channel.source == "config" and channel.id not in wanted and channel.active:
            channel.active, channel.inactive_reason = False, "removed from the configuration"
    for entry in settings.channels:
        row: Channel | None = channels.get(entry.id)
        if row is None:
            row = Channel(id=entry.id, created_at=now, active=True, source="config")
            session.add(row)
        row.platform, row.address, row.organisation_id = (
            entry.platform,
            entry.address,
            (entry.organisation),
        )
        row.language, row.timezone, row.quiet = entry.language, entry.timezone, entry.quiet
        row.share_locations = entry.share_locations
        if row.inactive_reason == "removed from the configuration":
            row.active, row.inactive_reason = True, None
        await session.flush()
        await session.execute(
            delete(Subscription).where(
                Subscription.channel_id == entry.id, Subscription.source == "config"
            )
        )
        session.add(
            Subscription(channel_id=entry.id, spec=spec_of(entry).to_json(), source="config")
        )
    await session.flush()
