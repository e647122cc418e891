"""Writes that bring the configuration's organisations, members and channels into the
database (`bot/config_sync.py` decides what the file wants), in the caller's session.
Rows from the file carry `source="config"`; rows added from chat are left alone."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Channel, Member, Organisation, Subscription
from storage.queries import upsert

CONFIG = "config"


async def upsert_config_organisation(
    session: AsyncSession,
    organisation_id: str,
    name: str,
    *,
    contact: str | None = None,
    description: str | None = None,
) -> None:
    """An organisation from the file; a contact or description set from chat is kept
    when the file gives none."""
    await upsert(
        session,
        Organisation,
        {
            "id": organisation_id,
            "name": name,
            "source": CONFIG,
            "contact": contact,
            "description": description,
        },
        key=["id"],
        update=lambda new: {
            "name": new.name,
            "contact": func.coalesce(new.contact, Organisation.contact),
            "description": func.coalesce(new.description, Organisation.description),
        },
    )


async def delete_config_members_except(
    session: AsyncSession, keep: Collection[tuple[str, str]]
) -> None:
    """Delete the members from the file whose (platform, user) is not in `keep`."""
    for member in await session.scalars(select(Member).where(Member.source == CONFIG)):
        if (member.platform, member.user_ref) not in keep:
            await session.delete(member)
    await session.flush()


async def upsert_config_member(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """A member from the file (column → value); a language set from chat is kept when
    the file gives none."""
    await upsert(
        session,
        Member,
        {**values, "source": CONFIG},
        key=["platform", "user_ref"],
        update=lambda new: {
            "organisation_id": new.organisation_id,
            "role": new.role,
            "source": new.source,
            "language": func.coalesce(new.language, Member.language),
        },
    )


async def deactivate_config_channels_except(
    session: AsyncSession, keep: Collection[str], *, reason: str
) -> None:
    """Deactivate, for `reason`, the active channels from the file not in `keep`."""
    for channel in await session.scalars(select(Channel).where(Channel.source == CONFIG)):
        if channel.id not in keep and channel.active:
            channel.active, channel.inactive_reason = False, reason
    await session.flush()


async def upsert_config_channel(
    session: AsyncSession, values: Mapping[str, Any], *, removed_reason: str
) -> None:
    """A channel from the file (column → value), active. One the dispatcher deactivated
    (bot blocked, kicked) stays inactive; one deactivated for `removed_reason` (it had
    left the file) is active again."""
    await upsert(
        session,
        Channel,
        {**values, "active": True, "source": CONFIG},
        key=["id"],
        update=lambda new: {
            "platform": new.platform,
            "address": new.address,
            "organisation_id": new.organisation_id,
            "language": new.language,
            "timezone": new.timezone,
            "quiet": new.quiet,
            "share_locations": new.share_locations,
            "active": case((Channel.inactive_reason == removed_reason, True), else_=Channel.active),
            "inactive_reason": case(
                (Channel.inactive_reason == removed_reason, None), else_=Channel.inactive_reason
            ),
        },
    )


async def replace_config_subscription(session: AsyncSession, channel_id: str, spec: str) -> None:
    """The channel's one subscription from the file (`spec`: JSON) replaces the former."""
    await session.execute(
        delete(Subscription).where(
            Subscription.channel_id == channel_id, Subscription.source == CONFIG
        )
    )
    session.add(Subscription(channel_id=channel_id, spec=spec, source=CONFIG))
