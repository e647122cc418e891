"""Outbox rows buffered per transaction, on SQLite and PostgreSQL: seen by the
transaction's own queries, committed with it, dropped with a rollback, written after the
rows they refer to, and never silently lost in a session that cannot write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.messages import text_message
from alerts.outbox import NOTICE, Outbox, Target
from bot.wiring.platforms import platform_catalogue
from storage.database import Database
from storage.models import Channel, Delivery, Organisation

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


def enqueue(session: AsyncSession, outbox: Outbox, text: str, channel: str | None = None) -> int:
    return outbox.enqueue(
        session,
        Target("telegram", "-1001", channel),
        text_message(text),
        fact=NOTICE,
        priority=20,
        now=NOW,
    )


async def test_rows_are_seen_by_their_own_transaction_and_committed(database: Database) -> None:
    outbox = Outbox(platform_catalogue())
    async with database.transaction() as session:
        assert enqueue(session, outbox, "un") == 1
        enqueue(session, outbox, "deux")
        assert await count(session) == 2  # a query in the transaction writes them first
        enqueue(session, outbox, "trois")
    async with database.sessions() as session:
        payloads = (await session.scalars(select(Delivery.payload).order_by(Delivery.id))).all()
    assert [text_message(t).to_json() for t in ("un", "deux", "trois")] == list(payloads)


async def test_a_failed_transaction_writes_none_of_its_rows(database: Database) -> None:
    outbox = Outbox(platform_catalogue())

    async def failing_handler() -> None:
        async with database.transaction() as session:
            enqueue(session, outbox, "perdu")
            await count(session)
            enqueue(session, outbox, "jamais écrit")
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError, match="the handler failed"):
        await failing_handler()
    async with database.sessions() as session:
        assert await count(session) == 0


async def test_rows_written_at_once_get_their_ids_in_order(database: Database) -> None:
    outbox = Outbox(platform_catalogue())
    async with database.transaction() as session:
        enqueue(session, outbox, "avant")
        ids = await outbox.enqueue_now(
            session,
            Target("matrix", "!room:example.org"),
            text_message("question"),
            fact=NOTICE,
            priority=20,
            now=NOW,
        )
    async with database.sessions() as session:
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert [row.id for row in rows][1:] == ids
    assert rows[0].address == "-1001"  # the buffered row went first


async def test_rows_follow_the_objects_they_refer_to(database: Database) -> None:
    outbox = Outbox(platform_catalogue())
    async with database.transaction() as session:
        session.add(Organisation(id="cimade", name="La Cimade"))
        await session.flush()
        session.add(
            Channel(
                id="tg-hendaye",
                platform="telegram",
                address="-1001",
                organisation_id="cimade",
                created_at=NOW,
            )
        )
        enqueue(session, outbox, "bienvenue", channel="tg-hendaye")  # foreign key to it
    async with database.sessions() as session:
        assert await session.scalar(select(Delivery.channel_id)) == "tg-hendaye"


async def test_a_session_that_cannot_write_them_refuses_rows(database: Database) -> None:
    plain = AsyncSession(database.engine)
    with pytest.raises(TypeError, match=r"Database\.sessions"):
        enqueue(plain, Outbox(platform_catalogue()), "jamais perdu en silence")
    await plain.close()
