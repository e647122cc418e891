"""Reads for the weekly digest (what happened in a period) and the claims that make a
scheduled digest idempotent, in the caller's session. Rows come back as plain tuples:
`alerts/digest/gather.py` turns them into the domain's summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Alert,
    Channel,
    Digest,
    Feed,
    FeedItem,
    MobilisationAnswer,
    MobilisationNeed,
    PlatformState,
)

NETWORK = "*"  # the audience of the network's archive row (channel ids are identifiers)
_WATCHING_SINCE = "digest.watching_since"
_ID_BATCH = 500  # SQLite caps bound parameters per statement


async def alerts_between(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    """Alerts and mobilisations raised in [start, end), follow-ups included. No author,
    no coordinates: the digest never shows them."""
    query = (
        select(
            Alert.id,
            Alert.kind,
            Alert.text,
            Alert.border,
            Alert.themes,
            Alert.urgency,
            Alert.place,
            Alert.status,
            Alert.outcome,
            Alert.parent_id,
            Alert.created_at,
        )
        .where(Alert.created_at >= start, Alert.created_at < end)
        .order_by(Alert.id)
    )
    return (await session.execute(query)).all()


async def alert_keys_between(
    session: AsyncSession, start: datetime, end: datetime
) -> Sequence[Any]:
    """(kind, border, themes, urgency) of the incidents (no follow-ups) raised in
    [start, end): the previous period's counts."""
    query = select(Alert.kind, Alert.border, Alert.themes, Alert.urgency).where(
        Alert.created_at >= start, Alert.created_at < end, Alert.parent_id.is_(None)
    )
    return (await session.execute(query)).all()


async def needs_of(session: AsyncSession, alert_ids: Sequence[int]) -> Sequence[Any]:
    rows: list[Any] = []
    for batch in _batches(alert_ids):
        query = select(
            MobilisationNeed.alert_id, MobilisationNeed.need, MobilisationNeed.wanted
        ).where(MobilisationNeed.alert_id.in_(batch))
        rows.extend((await session.execute(query)).all())
    return rows


async def answer_counts_of(session: AsyncSession, alert_ids: Sequence[int]) -> Sequence[Any]:
    """(alert_id, answer, need, count): how many answered what; never who."""
    rows: list[Any] = []
    for batch in _batches(alert_ids):
        query = (
            select(
                MobilisationAnswer.alert_id,
                MobilisationAnswer.answer,
                MobilisationAnswer.need,
                func.count(),
            )
            .where(MobilisationAnswer.alert_id.in_(batch))
            .group_by(
                MobilisationAnswer.alert_id, MobilisationAnswer.answer, MobilisationAnswer.need
            )
        )
        rows.extend((await session.execute(query)).all())
    return rows


async def feed_items_between(
    session: AsyncSession, start: datetime, end: datetime
) -> Sequence[Any]:
    """Announcements found in [start, end), with their feed's name and themes."""
    query = (
        select(
            FeedItem.id,
            FeedItem.title,
            FeedItem.link,
            FeedItem.borders,
            FeedItem.themes,
            FeedItem.published_at,
            FeedItem.created_at,
            Feed.id,
            Feed.name,
            Feed.themes,
            Feed.borders,
        )
        .join(Feed, Feed.id == FeedItem.feed_id)
        .where(FeedItem.created_at >= start, FeedItem.created_at < end)
        .order_by(FeedItem.id)
    )
    return (await session.execute(query)).all()


async def failing_feeds(session: AsyncSession, start: datetime) -> Sequence[Any]:
    """Enabled feeds still failing, whose last failure falls after `start`."""
    query = (
        select(Feed.id, Feed.name, Feed.consecutive_failures, Feed.paused, Feed.last_error_at)
        .where(
            Feed.enabled.is_(True),
            Feed.consecutive_failures > 0,
            or_(Feed.last_error_at.is_(None), Feed.last_error_at >= start),
        )
        .order_by(Feed.id)
    )
    return (await session.execute(query)).all()


async def unreachable_channels(session: AsyncSession, *, except_reason: str) -> Sequence[Any]:
    """Channels deactivated by a failure (blocked, kicked, gone), not those an operator
    removed from the configuration (`except_reason`)."""
    query = (
        select(Channel.id, Channel.platform, Channel.inactive_reason, Channel.organisation_id)
        .where(
            Channel.active.is_(False),
            or_(Channel.inactive_reason.is_(None), Channel.inactive_reason != except_reason),
        )
        .order_by(Channel.id)
    )
    return (await session.execute(query)).all()


# -- claims -------------------------------------------------------------------------------


async def claim(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert the digest rows that do not exist yet (ON CONFLICT DO NOTHING on
    (audience, scheduled_for)); audience → id of those this transaction inserted. Another
    process inserting the same key waits for this one's commit, then inserts nothing."""
    if not rows:
        return {}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed: dict[str, int] = {}
    for start in range(0, len(rows), _ID_BATCH):
        statement = (
            insert(Digest)
            .values(list(rows[start : start + _ID_BATCH]))
            .on_conflict_do_nothing(index_elements=["audience", "scheduled_for"])
            .returning(Digest.audience, Digest.id)
        )
        for audience, digest_id in (await session.execute(statement)).all():
            claimed[audience] = digest_id
    return claimed


async def network_done(session: AsyncSession, scheduled_for: datetime) -> bool:
    query = select(Digest.id).where(
        and_(Digest.audience == NETWORK, Digest.scheduled_for == scheduled_for)
    )
    return (await session.scalar(query)) is not None


async def network_digests(session: AsyncSession) -> Sequence[Digest]:
    """The network's archived periods, latest first."""
    query = select(Digest).where(Digest.audience == NETWORK).order_by(Digest.scheduled_for.desc())
    return (await session.scalars(query)).all()


async def channel_digest_count(session: AsyncSession, scheduled_for: datetime) -> int:
    query = select(func.count()).where(
        Digest.audience != NETWORK, Digest.scheduled_for == scheduled_for
    )
    return int(await session.scalar(query) or 0)


async def watching_since(session: AsyncSession, now: datetime) -> datetime:
    """When this database first ran the digest schedule (recorded now if never): a
    digest missed while Tocsin was down is only one that fell after it."""
    stored = await session.get(PlatformState, _WATCHING_SINCE)
    if stored is not None:
        try:
            return datetime.fromisoformat(stored.value)
        except ValueError:
            pass
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(PlatformState)
        .values(key=_WATCHING_SINCE, value=now.isoformat(), updated_at=now)
        .on_conflict_do_update(
            index_elements=["key"], set_={"value": now.isoformat(), "updated_at": now}
        )
    )
    return now


def _batches(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _ID_BATCH] for i in range(0, len(ids), _ID_BATCH)]
