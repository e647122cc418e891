"""The router when the database is unreachable: it must not let the relay confirm; when a
handler fails, its apology says what is true (send again, or not)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from alerts.clock import ManualClock
from alerts.i18n import Translator
from alerts.messages import InboundMessage, OutboundMessage
from alerts.outbox import Outbox
from bot.context import Command, Request
from bot.router import InboundNotRecorded, MessageRouter
from bot.wiring.platforms import platform_catalogue
from storage.database import Database, is_transient
from storage.models import Delivery, Member, Organisation


async def test_an_update_that_cannot_be_recorded_is_not_swallowed() -> None:
    # A reachable-looking URL on a port where nothing listens: every transaction fails.
    engine = create_async_engine("postgresql+asyncpg://tocsin@127.0.0.1:9/tocsin")
    database = Database(engine=engine, sessions=async_sessionmaker(engine), url="down")
    router = MessageRouter(
        database=database,
        commands=[],
        translate=Translator(),
        outbox=Outbox(platform_catalogue()),
        clock=ManualClock(),
    )
    inbound = InboundMessage(
        platform="telegram",
        update_id="77",
        chat="1",
        chat_type="private",
        sender="1",
        text="/alert Menton",
    )
    with pytest.raises(InboundNotRecorded, match="telegram update 77"):
        await router(inbound)
    await engine.dispose()


# -- the apology says what is true ------------------------------------------------------

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


async def locked_member(request: Request) -> None:
    """Waits briefly for the member's row, which another connection holds."""
    assert request.member is not None
    await request.session.execute(text("SET LOCAL lock_timeout = '100ms'"))
    await request.session.execute(
        select(Member.id).where(Member.id == request.member.id).with_for_update()
    )


async def bug(_request: Request) -> None:
    raise RuntimeError("a handler bug")


async def router_for(database: Database) -> MessageRouter:
    async with database.transaction() as session:
        session.add(Organisation(id="anafe", name="Anafé"))
        session.add(
            Member(
                platform="console",
                user_ref="v",
                organisation_id="anafe",
                role="observer",
                created_at=NOW,
            )
        )
    return MessageRouter(
        database=database,
        commands=[Command("locked", locked_member), Command("bug", bug)],
        translate=Translator(),
        outbox=Outbox(platform_catalogue()),
        clock=ManualClock(NOW),
    )


async def answers(database: Database) -> list[str]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Delivery.payload).where(Delivery.address == "v").order_by(Delivery.id)
        )
        return [OutboundMessage.from_json(payload).plain for payload in rows]


def said(update_id: str, text: str) -> InboundMessage:
    return InboundMessage(
        platform="console",
        update_id=update_id,
        chat="v",
        chat_type="private",
        sender="v",
        text=text,
    )


async def test_a_permanent_failure_is_not_called_harmless(database: Database) -> None:
    router = await router_for(database)
    await router(said("u1", "/bug"))
    [answer] = await answers(database)
    assert answer == Translator()("fr", "error.internal")
    assert "rien n'a été perdu" not in answer
    assert "Réessayez" not in answer
    assert "n'a pas été relayé" in answer


async def test_a_momentary_storage_failure_says_to_send_again(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("a row lock held by another connection: PostgreSQL's lock_timeout")
    router = await router_for(database)
    url = make_url(database.url)
    holder = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        async with holder.transaction():
            await holder.execute("SELECT id FROM members WHERE user_ref = 'v' FOR UPDATE")
            await router(said("u1", "/locked"))
    finally:
        await holder.close()
    await router(said("u2", "/locked"))  # the lock is gone: handled normally, no answer
    assert await answers(database) == [Translator()("fr", "error.transient")]


def test_transient_and_permanent_database_errors_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(DBAPIError) as locked, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(DBAPIError) as missing, engine.begin() as connection:
            connection.execute(text("SELECT * FROM nowhere"))
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert is_transient(locked.value)
    assert not is_transient(missing.value)
    assert not is_transient(RuntimeError("a handler bug"))
    assert is_transient(ConnectionRefusedError())
