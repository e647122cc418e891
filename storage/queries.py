"""Reusable reads and small writes. Each function runs inside the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Channel,
    Delivery,
    InboundSeen,
    Member,
    Organisation,
    PlatformState,
    Subscription,
)


async def active_channels(session: AsyncSession) -> Sequence[Channel]:
    result = await session.scalars(
        select(Channel).where(Channel.active.is_(True)).order_by(Channel.id)
    )
    return result.all()


async def subscriptions_of(
    session: AsyncSession, channel_ids: Sequence[str]
) -> Sequence[Subscription]:
    if not channel_ids:
        return []
    result = await session.scalars(
        select(Subscription)
        .where(Subscription.channel_id.in_(channel_ids))
        .order_by(Subscription.id)
    )
    return result.all()


async def member_by_account(session: AsyncSession, platform: str, user: str) -> Member | None:
    return await session.scalar(
        select(Member).where(Member.platform == platform, Member.user_ref == user)
    )


async def organisation(session: AsyncSession, organisation_id: str) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def admins_of(session: AsyncSession, organisation_id: str | None) -> Sequence[Member]:
    """The organisation's admins, and the network admins (who hear about everything)."""
    query = select(Member).where(
        (Member.role == "admin")
        | ((Member.role == "org-admin") & (Member.organisation_id == organisation_id))
    )
    return (await session.scalars(query.order_by(Member.id))).all()


async def mark_inbound_seen(
    session: AsyncSession, platform: str, update_id: str, now: datetime
) -> bool:
    """Record an inbound update id; False if it was already handled (a redelivery)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(InboundSeen)
        .values(platform=platform, update_id=update_id, seen_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "update_id"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def prune_inbound_seen(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(InboundSeen).where(InboundSeen.seen_at < before))


async def get_state(session: AsyncSession, key: str) -> str | None:
    row = await session.get(PlatformState, key)
    return row.value if row else None


async def set_state(session: AsyncSession, key: str, value: str, now: datetime) -> None:
    row = await session.get(PlatformState, key)
    if row is None:
        session.add(PlatformState(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


async def first_parts_of(
    session: AsyncSession, fact_type: str, fact_id: int
) -> dict[tuple[str, str], int]:
    """(platform, address) → id of the first delivery of a fact there (for replies)."""
    rows = await session.execute(
        select(Delivery.platform, Delivery.address, Delivery.id)
        .where(Delivery.fact_type == fact_type, Delivery.fact_id == fact_id, Delivery.part == 0)
        .order_by(Delivery.id)
    )
    found: dict[tuple[str, str], int] = {}
    for platform, address, delivery_id in rows:
        found.setdefault((platform, address), delivery_id)
    return found
