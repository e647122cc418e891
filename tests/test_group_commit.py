"""The router's group commit, on SQLite and PostgreSQL: updates that arrive together are
handled in few transactions, in arrival order, and one failing update loses nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from alerts.clock import ManualClock
from alerts.i18n import Translator
from alerts.messages import InboundMessage, OutboundMessage
from alerts.outbox import Outbox
from bot.context import Command, Request
from bot.router import MessageRouter
from bot.wiring.platforms import platform_catalogue
from storage.database import Database
from storage.models import Delivery, InboundSeen, Member, Organisation

CHAT = "volunteer"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def note(request: Request) -> None:
    request.reply(f"noted {request.args}")


async def boom(request: Request) -> None:
    request.reply("half-way")  # written, then rolled back with the failure
    raise RuntimeError("a handler bug")


@pytest.fixture
async def router(database: Database) -> MessageRouter:
    async with database.transaction() as session:
        session.add(Organisation(id="anafe", name="Anafé"))
        session.add(
            Member(
                platform="console",
                user_ref=CHAT,
                organisation_id="anafe",
                role="observer",
                created_at=NOW,
            )
        )
    return MessageRouter(
        database=database,
        commands=[Command("note", note), Command("boom", boom)],
        translate=Translator(),
        outbox=Outbox(platform_catalogue()),
        clock=ManualClock(NOW),
    )


def inbound(update_id: str, text: str) -> InboundMessage:
    return InboundMessage(
        platform="console",
        update_id=update_id,
        chat=CHAT,
        chat_type="private",
        sender=CHAT,
        text=text,
    )


async def replies(database: Database) -> list[str]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Delivery.payload).where(Delivery.address == CHAT).order_by(Delivery.id)
        )
        return [OutboundMessage.from_json(payload).plain for payload in rows]


async def seen(database: Database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundSeen)) or 0)


def count_commits(database: Database) -> list[int]:
    commits = [0]

    def counted(_connection: object) -> None:
        commits[0] += 1

    event.listen(database.engine.sync_engine, "commit", counted)
    return commits


async def test_a_burst_is_handled_in_arrival_order_in_few_transactions(
    database: Database, router: MessageRouter
) -> None:
    commits = count_commits(database)
    await asyncio.gather(*(router(inbound(f"u{n}", f"/note {n}")) for n in range(20)))
    assert await replies(database) == [f"noted {n}" for n in range(20)]
    assert await seen(database) == 20
    assert commits[0] <= 2  # the first update alone, the 19 that queued behind it together


async def test_one_failing_update_in_a_burst_loses_nothing(
    database: Database, router: MessageRouter
) -> None:
    texts = [f"/note {n}" for n in range(10)]
    texts[4] = "/boom"
    await asyncio.gather(*(router(inbound(f"u{n}", text)) for n, text in enumerate(texts)))
    apology = Translator()("fr", "error.internal", prefix="/")
    expected = [f"noted {n}" for n in range(10)]
    expected[4] = apology
    assert await replies(database) == expected
    assert await seen(database) == 10  # every update recorded: none comes back, none lost


async def test_the_same_update_twice_in_one_burst_is_handled_once(
    database: Database, router: MessageRouter
) -> None:
    await asyncio.gather(router(inbound("u1", "/note once")), router(inbound("u1", "/note once")))
    assert await replies(database) == ["noted once"]


async def test_a_caller_that_stops_waiting_does_not_cancel_the_batch(
    database: Database, router: MessageRouter
) -> None:
    first = asyncio.create_task(router(inbound("u1", "/note kept")))
    second = asyncio.create_task(router(inbound("u2", "/note also kept")))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    for _ in range(100):
        if len(await replies(database)) == 2:
            break
        await asyncio.sleep(0.01)
    assert await replies(database) == ["noted kept", "noted also kept"]
