"""Invented facts for the digest's tests and benchmark, written straight into the tables
the intake, the mobilisations and the feed watcher fill (their shapes, not their code)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Alert,
    Feed,
    FeedItem,
    Mobilisation,
    MobilisationAnswer,
    MobilisationNeed,
)


async def add_alert(
    session: AsyncSession,
    *,
    text: str,
    at: datetime,
    border: str | None = "franco-italienne",
    themes: Iterable[str] = ("refoulement",),
    urgency: str = "normal",
    kind: str = "alert",
    place: str | None = None,
    status: str = "open",
    outcome: str | None = None,
    parent_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> int:
    alert = Alert(
        kind=kind,
        text=text,
        border=border,
        themes=json.dumps(list(themes)),
        urgency=urgency,
        place=place,
        latitude=latitude,
        longitude=longitude,
        status=status,
        outcome=outcome,
        closed_at=at + timedelta(hours=1) if status == "closed" else None,
        parent_id=parent_id,
        created_at=at,
        updated_at=at,
    )
    session.add(alert)
    await session.flush()
    return alert.id


async def add_mobilisation(
    session: AsyncSession,
    *,
    text: str,
    at: datetime,
    needs: dict[str, int],
    answers: Iterable[tuple[str, str | None]] = (),
    **alert: object,
) -> int:
    alert_id = await add_alert(session, text=text, at=at, kind="mobilisation", **alert)  # type: ignore[arg-type]
    session.add(Mobilisation(alert_id=alert_id, close_at=at + timedelta(hours=6)))
    for need, wanted in needs.items():
        session.add(MobilisationNeed(alert_id=alert_id, need=need, wanted=wanted))
    for answer, need in answers:
        session.add(
            MobilisationAnswer(
                alert_id=alert_id,
                member_id=None,
                answer=answer,
                need=need,
                created_at=at,
                updated_at=at,
            )
        )
    await session.flush()
    return alert_id


async def add_feed(
    session: AsyncSession,
    feed_id: str,
    *,
    name: str | None = None,
    themes: Iterable[str] = (),
    failures: int = 0,
    last_error_at: datetime | None = None,
    paused: bool = False,
) -> None:
    session.add(
        Feed(
            id=feed_id,
            url=f"http://127.0.0.1:9/{feed_id}.xml",
            name=name,
            every_seconds=1800,
            themes=json.dumps(list(themes)),
            consecutive_failures=failures,
            last_error="HTTP 500" if failures else None,
            last_error_at=last_error_at,
            paused=paused,
        )
    )
    await session.flush()


async def add_item(
    session: AsyncSession,
    feed_id: str,
    *,
    title: str,
    at: datetime,
    link: str | None = None,
    themes: Iterable[str] = (),
    borders: Iterable[str] = (),
) -> None:
    session.add(
        FeedItem(
            feed_id=feed_id,
            item_key=f"{feed_id}:{zlib.crc32(f'{title}{at}'.encode()):x}:{len(title)}",
            title=title,
            link=link,
            themes=json.dumps(list(themes)),
            borders=json.dumps(list(borders)),
            published_at=at,
            created_at=at,
            announced=True,
        )
    )
