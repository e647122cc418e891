"""The in-process dispatcher is woken by the commit of outbox rows, on SQLite and
PostgreSQL: not before the commit, not by a rollback, not by a transaction that wrote no
row, and without any handler ringing it by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import ManualClock
from alerts.messages import InboundMessage, text_message
from alerts.outbox import NOTICE, Outbox, Target
from bot.app import build
from storage.database import Database
from tests.support.console import config_from

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def write(session: AsyncSession, outbox: Outbox, *, at_once: bool = False) -> None:
    row = (session, Target("telegram", "-1001"), text_message("x"))
    if at_once:
        await outbox.enqueue_now(*row, fact=NOTICE, priority=20, now=NOW)
    else:
        outbox.enqueue(*row, fact=NOTICE, priority=20, now=NOW)


async def test_a_commit_that_wrote_rows_wakes_the_dispatcher(database: Database) -> None:
    outbox = Outbox()
    async with database.transaction() as session:
        for _ in range(3):
            await write(session, outbox)
        assert not await outbox.signal.wait(0)  # written, not committed yet
    assert await outbox.signal.wait(0)
    assert not await outbox.signal.wait(0)  # once per commit, however many rows


async def test_rows_written_at_once_wake_it_on_commit_too(database: Database) -> None:
    outbox = Outbox()
    async with database.transaction() as session:
        await write(session, outbox, at_once=True)
        assert not await outbox.signal.wait(0)
    assert await outbox.signal.wait(0)


async def test_a_rollback_or_a_transaction_without_rows_does_not(database: Database) -> None:
    outbox = Outbox()

    async def failing_handler() -> None:
        async with database.transaction() as session:
            await write(session, outbox)
            raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError, match="the handler failed"):
        await failing_handler()
    async with database.transaction():
        pass
    assert not await outbox.signal.wait(0)


async def test_a_handled_command_wakes_it_and_a_duplicate_update_does_not(
    database_url: str, database: Database
) -> None:
    raw: dict[str, object] = {
        "organisations": [{"id": "anafe", "name": "Anafé"}],
        "members": [{"platform": "console", "user": "ana", "organisation": "anafe"}],
    }
    wiring = await build(config_from(raw, database_url), clock=ManualClock(), database=database)
    inbound = InboundMessage(
        platform="console",
        update_id="1",
        chat="ana",
        chat_type="private",
        sender="ana",
        text="/whoami",
        message_id="1",
    )
    await wiring.router(inbound)
    assert await wiring.outbox.signal.wait(0)  # the answer's row, committed
    await wiring.router(inbound)  # seen before: ignored, nothing written
    assert not await wiring.outbox.signal.wait(0)
