"""Bring the configuration's organisations, members and channels into the database.

Rows from the file are marked `source="config"` and follow the file at each start; rows
added from chat are left alone. A channel deactivated by the dispatcher (bot blocked,
kicked) stays inactive until someone re-enables it: a restart must not hide that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.routing import SubscriptionSpec
from alerts.types import Kind, Urgency
from config.schema import ChannelSettings, Settings
from storage.database import hold_start_lock
from storage.models import Channel, Member, Organisation, Subscription
from storage.queries import upsert


def spec_of(channel: ChannelSettings) -> SubscriptionSpec:
    return SubscriptionSpec(
        kinds=frozenset(Kind(kind) for kind in channel.kinds),
        borders=frozenset(channel.borders),
        themes=frozenset(channel.themes),
        min_urgency=Urgency(channel.min_urgency),
    )


REMOVED = "removed from the configuration"


async def sync_directory(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # Processes started together sync one after the other; the upserts keep a row written
    # meanwhile from chat (an invitation, /channel) from failing the start on a duplicate key.
    await hold_start_lock(session)
    for org in settings.organisations:
        await upsert(
            session,
            Organisation,
            {"id": org.id, "name": org.name, "source": "config"},
            key=["id"],
            update=lambda new: {"name": new.name},
        )

    wanted_members = {(m.platform, m.user): m for m in settings.members}
    for member in await session.scalars(select(Member).where(Member.source == "config")):
        if (member.platform, member.user_ref) not in wanted_members:
            await session.delete(member)
    await session.flush()
    for wanted_member in wanted_members.values():
        await upsert(
            session,
            Member,
            {
                "platform": wanted_member.platform,
                "user_ref": wanted_member.user,
                "organisation_id": wanted_member.organisation,
                "role": wanted_member.role,
                "language": wanted_member.language,
                "source": "config",
                "created_at": now,
            },
            key=["platform", "user_ref"],
            update=lambda new: {
                "organisation_id": new.organisation_id,
                "role": new.role,
                "source": new.source,
                "language": func.coalesce(new.language, Member.language),
            },
        )

    wanted = {c.id for c in settings.channels}
    for channel in await session.scalars(select(Channel).where(Channel.source == "config")):
        if channel.id not in wanted and channel.active:
            channel.active, channel.inactive_reason = False, REMOVED
    await session.flush()
    for entry in settings.channels:
        await upsert(
            session,
            Channel,
            {
                "id": entry.id,
                "platform": entry.platform,
                "address": entry.address,
                "organisation_id": entry.organisation,
                "language": entry.language,
                "timezone": entry.timezone,
                "quiet": entry.quiet,
                "share_locations": entry.share_locations,
                "active": True,
                "source": "config",
                "created_at": now,
            },
            key=["id"],
            # A channel the dispatcher deactivated (bot blocked, kicked) stays inactive.
            update=lambda new: {
                "platform": new.platform,
                "address": new.address,
                "organisation_id": new.organisation_id,
                "language": new.language,
                "timezone": new.timezone,
                "quiet": new.quiet,
                "share_locations": new.share_locations,
                "active": case((Channel.inactive_reason == REMOVED, True), else_=Channel.active),
                "inactive_reason": case(
                    (Channel.inactive_reason == REMOVED, None), else_=Channel.inactive_reason
                ),
            },
        )
        await session.execute(
            delete(Subscription).where(
                Subscription.channel_id == entry.id, Subscription.source == "config"
            )
        )
        session.add(
            Subscription(channel_id=entry.id, spec=spec_of(entry).to_json(), source="config")
        )
    await session.flush()
