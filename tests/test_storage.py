"""Storage on SQLite and PostgreSQL alike: migrations, schema checks, dedup, the claim."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from alerts.messages import text_message
from alerts.outbox import NOTICE, Outbox, Target
from bot.wiring.platforms import platform_catalogue
from storage import outbox as store
from storage import queries
from storage.database import (
    Database,
    SchemaTooNew,
    StorageError,
    alembic_config,
    open_database,
)
from storage.models import Delivery

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_migrations_are_idempotent(database_url: str) -> None:
    first = await open_database(database_url)
    await first.close()
    second = await open_database(database_url)
    async with second.sessions() as session:
        revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    await second.close()
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_newer_schema_is_refused_and_left_untouched(database_url: str) -> None:
    db = await open_database(database_url)
    await _enqueue(db, ["kept"])
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    await db.close()
    with pytest.raises(SchemaTooNew, match="newer Tocsin"):
        await open_database(database_url)
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        kept = await connection.scalar(text("SELECT count(*) FROM deliveries"))
    await engine.dispose()
    assert (version, kept) == ("9999_future", 1)


async def test_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StorageError) as caught:
        await open_database("postgresql+asyncpg://tocsin:s3cret@127.0.0.1:9/tocsin")
    message = str(caught.value)
    assert message.startswith("cannot use the database postgresql+asyncpg://tocsin:***@")
    assert "s3cret" not in message


async def test_unsupported_url() -> None:
    with pytest.raises(StorageError, match="unsupported database"):
        await open_database("mysql://x@127.0.0.1/db")


async def test_sqlite_creates_its_data_folder_and_uses_wal(tmp_path: Path) -> None:
    db = await open_database(f"sqlite+aiosqlite:///{tmp_path}/nested/data/t.db")
    async with db.sessions() as session:
        mode = await session.scalar(text("PRAGMA journal_mode"))
    await db.close()
    assert mode == "wal"
    assert (tmp_path / "nested" / "data" / "t.db").exists()


async def test_inbound_update_is_handled_once(database: Database) -> None:
    async with database.transaction() as session:
        assert await queries.mark_inbound_seen(session, "telegram", "42", NOW)
    async with database.transaction() as session:
        assert not await queries.mark_inbound_seen(session, "telegram", "42", NOW)
        assert await queries.mark_inbound_seen(session, "matrix", "42", NOW)


async def test_a_failed_transaction_writes_nothing(database: Database) -> None:
    outbox = Outbox(platform_catalogue())

    async def crashing_handler() -> None:
        async with database.transaction() as session:
            outbox.enqueue(
                session, Target("console", "a"), text_message("x"), fact=NOTICE, priority=1, now=NOW
            )
            await session.flush()
            raise RuntimeError("crash between the fact and its commit")

    with pytest.raises(RuntimeError, match="crash between the fact and its commit"):
        await crashing_handler()
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


async def _enqueue(database: Database, chats: list[str], priority: int = 10) -> None:
    outbox = Outbox(platform_catalogue())
    async with database.transaction() as session:
        for chat in chats:
            outbox.enqueue(
                session,
                Target("console", chat),
                text_message(chat),
                fact=NOTICE,
                priority=priority,
                now=NOW,
            )


async def claim(
    session: AsyncSession, *, busy: set[store.Chat], now: datetime, worker: str
) -> list[Delivery]:
    """The heads of the free chats, best priority first, leased to `worker`."""
    heads = await store.due_heads(session, platforms=["console"], now=now)
    chosen = sorted((h for h in heads if h.chat not in busy), key=lambda h: (-h.priority, h.id))
    return await store.lease(
        session,
        [h.id for h in chosen],
        now=now,
        worker=worker,
        lease_until=now + timedelta(minutes=1),
    )


async def test_claim_takes_one_head_per_chat_in_priority_order(database: Database) -> None:
    await _enqueue(database, ["a", "a", "b"], priority=10)
    await _enqueue(database, ["c"], priority=90)
    async with database.transaction() as session:
        claimed = await claim(session, busy=set(), now=NOW, worker="w1")
    assert [row.address for row in claimed] == ["c", "a", "b"]
    async with database.transaction() as session:
        again = await claim(session, busy={("console", "a")}, now=NOW, worker="w2")
    assert again == []  # leased rows are not taken twice; "a"'s second row waits its turn
    later = NOW + timedelta(minutes=2)  # the lease expired: a crashed worker's rows come back
    async with database.transaction() as session:
        retaken = await claim(session, busy=set(), now=later, worker="w2")
    assert sorted(row.address for row in retaken) == ["a", "b", "c"]


async def test_pausing_a_chat_holds_its_whole_queue(database: Database) -> None:
    await _enqueue(database, ["a", "a", "b"])
    async with database.transaction() as session:
        await store.pause_chat(session, ("console", "a"), NOW + timedelta(seconds=30))
    async with database.transaction() as session:
        claimed = await claim(session, busy=set(), now=NOW, worker="w")
    assert [row.address for row in claimed] == ["b"]


async def test_a_pause_holds_rows_written_after_it(database: Database) -> None:
    await _enqueue(database, ["a", "b"])
    until = NOW + timedelta(seconds=30)
    async with database.transaction() as session:
        await store.pause_chat(session, ("console", "a"), until)
    await _enqueue(database, ["a"], priority=90)  # written during the pause, due at once
    async with database.transaction() as session:
        heads = await store.due_heads(session, platforms=["console"], now=NOW)
        assert [head.address for head in heads] == ["b"]
        assert await store.count_due(session, ["console"], NOW) == 1
        await store.mark_sent(session, heads[0].id, "m1", NOW)
        assert await store.next_due(session, ["console"], NOW) == until  # not "now": no spin
    async with database.transaction() as session:
        await store.forget_pauses(session, until)
        heads = await store.due_heads(session, platforms=["console"], now=until)
    assert [(head.address, head.priority) for head in heads] == [("a", 90)]  # best first


async def test_a_pause_extended_while_another_dispatcher_forgets_it(database: Database) -> None:
    """Two dispatchers: one extends a chat's pause while the other forgets the ended one.
    (Read-then-write failed here with a StaleDataError and the delivery was stuck.)"""
    chat = ("console", "a")
    await _enqueue(database, ["a"])
    async with database.transaction() as session:
        await store.pause_chat(session, chat, NOW + timedelta(seconds=5))
    later = NOW + timedelta(seconds=10)

    async def forget() -> None:
        async with database.transaction() as forgetting:
            await store.forget_pauses(forgetting, later)

    async with database.transaction() as extending:
        await store.pause_chat(extending, chat, later + timedelta(seconds=30))
        forgetting = asyncio.create_task(forget())
        await asyncio.sleep(0.2)  # let it forget the ended pause (or wait for our lock)
    await forgetting
    async with database.transaction() as session:
        await store.pause_chat(session, chat, later + timedelta(seconds=1))  # shorter: kept
        assert await store.due_heads(session, platforms=["console"], now=later) == []
        assert await store.next_due(session, ["console"], later) == later + timedelta(seconds=30)


async def test_heads_are_one_per_chat_whatever_the_backlog(database: Database) -> None:
    await _enqueue(database, ["busy"] * 300)
    await _enqueue(database, ["idle"])
    async with database.transaction() as session:
        heads = await store.due_heads(session, platforms=["console"], now=NOW)
    assert sorted((head.address, head.id) for head in heads) == [("busy", 1), ("idle", 301)]


async def test_the_asyncio_core_api_reads_and_writes(database: Database) -> None:
    """SQLite runs inline on the event loop: the asyncio Core API (rows still to fetch
    when the result is handed over, RETURNING, a rolled back transaction) still works."""
    engine = database.engine
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT 1 UNION SELECT 2 ORDER BY 1"))).all()
    assert [row[0] for row in rows] == [1, 2]
    async with engine.connect() as connection, connection.begin() as transaction:
        written = await connection.execute(
            text(
                "INSERT INTO platform_state (key, value, updated_at) "
                "VALUES ('core', 'oui', :now) RETURNING key"
            ),
            {"now": NOW},
        )
        assert written.scalar_one() == "core"
        await transaction.rollback()
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM platform_state")) == 0
