"""The retention purge's reads and writes, one batch at a time in the caller's
transaction: content older than the cutoff goes, anonymous counts stay."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Alert,
    AlertCount,
    AlertRefusal,
    Conversation,
    Delivery,
    InboundSeen,
    MobilisationAnswer,
    PlatformState,
)
from storage.queries import upsert

FINAL = ("sent", "dead", "cancelled")
ALL_THEMES = "*"
ERASED_ADDRESS = "erased"  # a delivery's address once the person it named is gone


def week_of(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def _count_keys(alert: Alert) -> list[tuple[date, str, str, str, str]]:
    """The count rows one alert adds to: its total (theme "*") and each of its themes."""
    try:
        themes = [str(theme) for theme in json.loads(alert.themes or "[]")]
    except ValueError:
        themes = []
    week, border = week_of(alert.created_at), alert.border or ""
    return [
        (week, border, theme, alert.urgency, alert.kind)
        for theme in (ALL_THEMES, *sorted(set(themes)))
    ]


async def purge_alerts(
    session: AsyncSession, cutoff: datetime, now: datetime, limit: int
) -> tuple[int, int]:
    """Count and blank up to `limit` alerts older than `cutoff` not purged yet; unlink
    their answers from the people who gave them. Returns (alerts, answers)."""
    alerts = (
        await session.scalars(
            select(Alert)
            .where(Alert.created_at < cutoff, Alert.purged_at.is_(None))
            .order_by(Alert.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not alerts:
        return 0, 0
    counts: Counter[tuple[date, str, str, str, str]] = Counter()
    for alert in alerts:
        counts.update(_count_keys(alert))
        alert.text, alert.place, alert.place_key = "", None, None
        alert.latitude = alert.longitude = None
        alert.photo = alert.outcome = None
        alert.author_member_id = None
        alert.source_chat = alert.source_message_id = None
        alert.purged_at = now
    for (week, border, theme, urgency, kind), count in counts.items():
        await upsert(
            session,
            AlertCount,
            {
                "week_start": week,
                "border": border,
                "theme": theme,
                "urgency": urgency,
                "kind": kind,
                "count": count,
            },
            key=["week_start", "border", "theme", "urgency", "kind"],
            update=lambda new: {"count": AlertCount.count + new.count},
        )
    answers = await session.execute(
        update(MobilisationAnswer)
        .where(
            MobilisationAnswer.alert_id.in_([alert.id for alert in alerts]),
            MobilisationAnswer.member_id.is_not(None),
        )
        .values(member_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return len(alerts), int(answers.rowcount)  # type: ignore[attr-defined]


async def blank_deliveries(
    session: AsyncSession, cutoff: datetime, empty_payload: str, limit: int
) -> int:
    """Messages sent (or given up) before `cutoff` lose their body; those to people
    (answers, receipts: no channel) lose their address too, which is the person. Rows
    stay (not deleted: SQLite would hand a deleted last id to the next row, and an edit
    or reply refers to rows by id)."""
    rows = (
        await session.execute(
            select(Delivery.id, Delivery.channel_id)
            .where(
                Delivery.status.in_(FINAL),
                Delivery.created_at < cutoff,
                Delivery.payload != empty_payload,
            )
            .order_by(Delivery.id)
            .limit(limit)
        )
    ).all()
    private = [row_id for row_id, channel_id in rows if channel_id is None]
    shared = [row_id for row_id, channel_id in rows if channel_id is not None]
    await _blank(session, private, empty_payload, address=ERASED_ADDRESS)
    await _blank(session, shared, empty_payload)
    return len(rows)


async def _blank(
    session: AsyncSession, ids: Sequence[int], payload: str, address: str | None = None
) -> None:
    if not ids:
        return
    values: dict[str, object] = {"payload": payload, "last_error": None}
    if address is not None:
        values["address"] = address
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(values)
        .execution_options(synchronize_session=False)
    )


async def delete_inbound_seen(session: AsyncSession, cutoff: datetime) -> int:
    """Inbound update records (platform ids of handled updates) older than `cutoff`."""
    result = await session.execute(delete(InboundSeen).where(InboundSeen.seen_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_old_drafts(session: AsyncSession, cutoff: datetime) -> int:
    """Guided drafts (conversations in progress) and intake-limit refusals."""
    drafts = await session.execute(delete(Conversation).where(Conversation.updated_at < cutoff))
    refusals = await session.execute(delete(AlertRefusal).where(AlertRefusal.last_at < cutoff))
    return int(drafts.rowcount) + int(refusals.rowcount)  # type: ignore[attr-defined]


async def counts(session: AsyncSession) -> Sequence[AlertCount]:
    query = select(AlertCount).order_by(
        AlertCount.week_start, AlertCount.border, AlertCount.theme, AlertCount.kind
    )
    return (await session.scalars(query)).all()


async def release_turn(session: AsyncSession, key: str) -> None:
    """Forget a daily turn taken with `queries.claim_turn`, so it can be taken again."""
    await session.execute(delete(PlatformState).where(PlatformState.key == key))
