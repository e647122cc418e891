"""Delivery under heavy use, through python-telegram-bot over real HTTP against the
project's Bot API server (which enforces Telegram's limits and answers 429), on SQLite
and PostgreSQL: an urgent row takes its chat's turn from a routine one, a chat's backlog
never hides another chat, a 429 holds the whole chat (rows written later too) at that
chat's own rate, and a flood is paced with (almost) no 429. Assertions are on order and
counts, never on durations."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from alerts.messages import InboundMessage, text_message
from alerts.outbox import FactRef, Target
from alerts.types import NOTICE_PRIORITY
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.models import Delivery
from tests.support.running import RunningApp
from tests.telegram_api import DEFAULT_TOKEN, BotApiServer

VOLUNTEER = 7_100_001
IDLE = -1_003_000_000_001  # a channel of another border, that nobody floods
GROUP_BASE = -1_003_100_000_000
ROUTINE = FactRef("feed_item", 1, "announcement")


def group(index: int) -> int:
    return GROUP_BASE - index


def group_per_minute(scale: float) -> float:
    """20 at Telegram's real limits. The server scales a group's window (20 sends in any
    60/scale s); Tocsin's group pace is a burst of 3 then (n - 2)/min, made for a 60 s
    window: n = 18·scale + 2 keeps that burst and refill within the shorter one."""
    return 18 * scale + 2


def config(server: BotApiServer, database_url: str, groups: int, scale: float) -> LoadedConfig:
    raw: dict[str, Any] = {
        "storage": {"url": database_url},
        "telegram": {"base_url": server.api_url, "base_file_url": server.file_url},
        "delivery": {
            "telegram_global_per_second": 30 * scale,
            "telegram_group_per_minute": group_per_minute(scale),
            "telegram_private_per_second": 1 * scale,
        },
        "organisations": [{"id": "org", "name": "Anafé"}],
        "members": [
            {"platform": "console", "user": "local", "organisation": "org", "role": "admin"},
            {"platform": "telegram", "user": str(VOLUNTEER), "organisation": "org"},
        ],
        "channels": [
            {
                "id": "idle",
                "platform": "telegram",
                "address": str(IDLE),
                "organisation": "org",
                "borders": ["manche"],
            }
        ]
        + [
            {
                "id": f"g{i}",
                "platform": "telegram",
                "address": str(group(i)),
                "organisation": "org",
                "borders": ["franco-italienne"],
            }
            for i in range(groups)
        ],
    }
    return LoadedConfig(
        settings=build_settings(raw, "test.toml"),
        secrets=Secrets(telegram_token=DEFAULT_TOKEN),
        source="test.toml",
        embedded=False,
    )


async def tocsin(server: BotApiServer, database_url: str, groups: int, scale: float) -> Wiring:
    server.add_user(VOLUNTEER, "Volontaire")
    server.add_chat(IDLE, title="Manche")
    for index in range(groups):
        server.add_chat(group(index), title=f"Groupe {index}")
    return await build(config(server, database_url, groups, scale), console_output=io.StringIO())


async def enqueue(
    wiring: Wiring, chat: int, texts: list[str], priority: int = 0, fact: FactRef = ROUTINE
) -> None:
    async with wiring.database.transaction() as session:
        for text in texts:
            wiring.outbox.enqueue(
                session,
                Target("telegram", str(chat)),
                text_message(text),
                fact=fact,
                priority=priority,
                now=wiring.clock.now(),
            )


async def raise_alert(wiring: Wiring, text: str) -> None:
    await wiring.router(
        InboundMessage(
            platform="console",
            update_id=f"u-{text}",
            chat="local",
            chat_type="private",
            sender="local",
            text=text,
        )
    )


def texts(server: BotApiServer, chat: int) -> list[str]:
    return [m.text or "" for m in server.sent_messages(chat)]


async def wait_for(condition: Callable[[], bool], within: float) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the condition reads the server)
            await asyncio.sleep(0.02)


async def pending(wiring: Wiring) -> int:
    async with wiring.database.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
            )
            or 0
        )


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(seed=5) as running:
        yield running


async def test_an_urgent_alert_takes_its_chats_turn_from_routine_rows(
    server: BotApiServer, database_url: str
) -> None:
    """Each group has spent its burst of three on routine rows; its fourth routine row is
    leased and waiting for the group's next slot when an urgent alert comes: the urgent
    one takes that slot, the routine rows follow in their order."""
    groups, scale = 6, 2.0
    server.set_limits(rate_scale=scale)
    wiring = await tocsin(server, database_url, groups, scale)
    for index in range(groups):
        await enqueue(wiring, group(index), [f"routine {index}.{k}" for k in range(5)])
    async with RunningApp(wiring):
        await wait_for(lambda: all(len(texts(server, group(i))) >= 3 for i in range(groups)), 20)
        before = {i: len(texts(server, group(i))) for i in range(groups)}
        await raise_alert(wiring, "/alert personne en danger à Menton !urgent")
        await wait_for(lambda: all(len(texts(server, group(i))) == 6 for i in range(groups)), 30)
    for index in range(groups):
        sent = texts(server, group(index))
        urgent = next(n for n, text in enumerate(sent) if "danger" in text)
        assert before[index] == 3  # the burst, nothing more, when the alert came
        assert urgent == 3  # before the routine row that was waiting for this slot
        assert [t for t in sent if "routine" in t] == [f"routine {index}.{k}" for k in range(5)]
    assert server.counters.too_many_requests == 0


async def test_a_backlog_in_busy_chats_does_not_hide_an_idle_chat(
    server: BotApiServer, database_url: str
) -> None:
    """500 routine rows wait in five groups (a hundred each, paced at their groups' rate)
    when one row for an idle channel is written: it goes out with the groups' first
    rows, not after hundreds of them; nothing is lost or sent twice."""
    groups, per_group, scale = 5, 100, 10.0
    server.set_limits(rate_scale=scale)
    wiring = await tocsin(server, database_url, groups, scale)
    for index in range(groups):
        await enqueue(wiring, group(index), [f"routine {index}.{k}" for k in range(per_group)])
    await enqueue(wiring, IDLE, ["pour le canal calme"])

    def flood_sent() -> int:
        return sum(len(texts(server, group(i))) for i in range(groups))

    async with RunningApp(wiring):
        await wait_for(lambda: texts(server, IDLE) == ["pour le canal calme"], 20)
        sent_before_idle = flood_sent()
        await wait_for(lambda: flood_sent() >= 2 * groups * 3, 20)  # the flood goes on
    assert sent_before_idle < 50
    for index in range(groups):
        sent = texts(server, group(index))
        assert sent == [f"routine {index}.{k}" for k in range(len(sent))]  # order, no double
    still_queued = await pending(wiring)
    await wiring.database.close()  # stopping closed it; the reads above opened it again
    assert still_queued == groups * per_group - flood_sent()  # the rest still queued


async def test_a_429_holds_a_private_chat_and_rows_written_during_the_pause(
    server: BotApiServer, database_url: str
) -> None:
    """Another client spent the volunteer's private chat budget: Tocsin's first send is
    answered 429. That chat then waits as told, at its own (private) rate, rows written
    during the pause included: one 429 in all, every row delivered once, in order."""
    wiring = await tocsin(server, database_url, 0, 1.0)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(3):  # the server allows a burst of three, then 1/s
            answer = await http.post(
                f"/bot{DEFAULT_TOKEN}/sendMessage", data={"chat_id": VOLUNTEER, "text": "autre"}
            )
            assert answer.status_code == 200
    notice = FactRef("notice", None, "notice")
    await enqueue(wiring, VOLUNTEER, ["reçu 1", "reçu 2"], NOTICE_PRIORITY, notice)
    async with RunningApp(wiring):
        await wait_for(lambda: server.counters.per_chat_429[VOLUNTEER] == 1, 10)
        await enqueue(wiring, VOLUNTEER, ["reçu 3", "reçu 4"], NOTICE_PRIORITY, notice)
        await wait_for(lambda: len(texts(server, VOLUNTEER)) == 7, 20)
    assert texts(server, VOLUNTEER)[3:] == ["reçu 1", "reçu 2", "reçu 3", "reçu 4"]
    assert server.counters.per_chat_429[VOLUNTEER] == 1
    left = await pending(wiring)
    await wiring.database.close()  # stopping closed it; the reads above opened it again
    assert left == 0


async def test_a_flood_is_paced_with_at_most_one_percent_429(
    server: BotApiServer, database_url: str
) -> None:
    """Groups and a private chat flooded, more rows written while they drain: at most 1 %
    of the sends are answered 429, and every row arrives once."""
    groups, scale = 4, 10.0
    server.set_limits(rate_scale=scale)
    wiring = await tocsin(server, database_url, groups, scale)
    notice = FactRef("notice", None, "notice")
    written: Counter[int] = Counter()

    async def write(round_: int, count: int) -> None:
        for index in range(groups):
            await enqueue(wiring, group(index), [f"g{index} {round_}.{k}" for k in range(count)])
            written[group(index)] += count
        await enqueue(
            wiring, VOLUNTEER, [f"p {round_}.{k}" for k in range(count)], NOTICE_PRIORITY, notice
        )
        written[VOLUNTEER] += count

    await write(0, 20)
    async with RunningApp(wiring):
        for round_ in range(1, 6):
            await asyncio.sleep(0.3)
            await write(round_, 2)
        chats = [*(group(i) for i in range(groups)), VOLUNTEER]
        await wait_for(lambda: all(len(texts(server, c)) == written[c] for c in chats), 60)
    sends = server.counters.sends_accepted + server.counters.too_many_requests
    assert server.counters.too_many_requests <= 0.01 * sends
    for chat in chats:
        assert Counter(texts(server, chat)).most_common(1)[0][1] == 1  # none twice
    left = await pending(wiring)
    await wiring.database.close()  # stopping closed it; the reads above opened it again
    assert left == 0
