"""Reads on `alerts` and their `deliveries` for the bot's commands and chores, in the
caller's session."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, Delivery, Member


def _raised_by(platform: str, chat: str, message_id: str | None) -> ColumnElement[bool]:
    return and_(
        Alert.source_platform == platform,
        Alert.source_chat == chat,
        Alert.source_message_id == message_id,
    )


async def alert_from_message(
    session: AsyncSession, platform: str, chat: str, message_id: str | None
) -> Alert | None:
    """The alert raised by this message (its source), if any."""
    return await session.scalar(select(Alert).where(_raised_by(platform, chat, message_id)))


async def alert_id_from_message(
    session: AsyncSession, platform: str, chat: str, message_id: str
) -> int | None:
    """`alert_from_message`'s id only."""
    return await session.scalar(select(Alert.id).where(_raised_by(platform, chat, message_id)))


async def alert_author(session: AsyncSession, alert_id: int) -> Member | None:
    """The member who raised the alert (None: no such alert, or no member behind it)."""
    alert = await session.get(Alert, alert_id)
    if alert is None or not alert.author_member_id:
        return None
    return await session.get(Member, alert.author_member_id)


async def editable_copies(
    session: AsyncSession, alert_id: int, *, first_parts_only: bool = False
) -> Sequence[Delivery]:
    """The alert's copies in channels, queued or sent, not edits themselves (by id);
    `first_parts_only`: one row a copy, even where the text was split into parts."""
    query = select(Delivery).where(
        Delivery.fact_type == "alert",
        Delivery.fact_id == alert_id,
        Delivery.channel_id.is_not(None),
        Delivery.edit_of_delivery_id.is_(None),
        Delivery.status.in_(("pending", "sent")),
    )
    if first_parts_only:
        query = query.where(Delivery.part == 0)
    return (await session.scalars(query.order_by(Delivery.id))).all()


async def channel_outcomes_of_failing_alerts(
    session: AsyncSession, since: datetime, *, failed: Collection[str]
) -> Sequence[tuple[int | None, str | None, str]]:
    """(alert id, channel id, status) of every channel copy (not edits) of the alerts
    with a copy in a `failed` status created since `since`."""
    failing = select(Delivery.fact_id).where(
        Delivery.fact_type == "alert",
        Delivery.status.in_(failed),
        Delivery.channel_id.is_not(None),
        Delivery.created_at >= since,
    )
    rows = await session.execute(
        select(Delivery.fact_id, Delivery.channel_id, Delivery.status).where(
            Delivery.fact_type == "alert",
            Delivery.channel_id.is_not(None),
            Delivery.edit_of_delivery_id.is_(None),
            Delivery.fact_id.in_(failing),
        )
    )
    return [(fact_id, channel_id, status) for fact_id, channel_id, status in rows.all()]


async def delivery_status(session: AsyncSession, delivery_id: int) -> str | None:
    """The delivery's status (None: no such delivery)."""
    row = await session.get(Delivery, delivery_id)
    return row.status if row is not None else None
