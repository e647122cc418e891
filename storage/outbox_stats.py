"""What the metrics read from the outbox at scrape time: two small indexed queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery


async def pending_by_priority(session: AsyncSession) -> dict[int, int]:
    """Deliveries not yet taken by their platform (due, held or leased), by priority."""
    rows = await session.execute(
        select(Delivery.priority, func.count())
        .where(Delivery.status == "pending")
        .group_by(Delivery.priority)
    )
    return {int(priority): int(count) for priority, count in rows}


async def oldest_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the pending delivery that has been due longest became due."""
    return await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending", Delivery.next_attempt_at <= now
        )
    )
