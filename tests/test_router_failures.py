"""The router when the database is unreachable: it must not let the relay confirm."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from alerts.clock import ManualClock
from alerts.i18n import Translator
from alerts.messages import InboundMessage
from alerts.outbox import Outbox, OutboxSignal
from bot.router import InboundNotRecorded, MessageRouter
from storage.database import Database


async def test_an_update_that_cannot_be_recorded_is_not_swallowed() -> None:
    # A reachable-looking URL on a port where nothing listens: every transaction fails.
    engine = create_async_engine("postgresql+asyncpg://tocsin@127.0.0.1:9/tocsin")
    database = Database(engine=engine, sessions=async_sessionmaker(engine), url="down")
    router = MessageRouter(
        database=database,
        commands=[],
        translate=Translator(),
        outbox=Outbox(),
        signal=OutboxSignal(),
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
