"""PostgreSQL goes away while Tocsin runs, and comes back.

A loopback proxy stands between Tocsin and PostgreSQL; the test cuts it (connections
refused, open ones dropped) and restores it. Alerts sent from Telegram meanwhile (the
project's Bot API server, python-telegram-bot over real HTTP) are not confirmed to
Telegram and nothing is sent; `/readyz` says 503 naming the database. Once restored,
everything resumes by itself: each alert delivered exactly once, `/readyz` 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from storage.database import open_database
from storage.models import Alert
from tests.support.databases import postgres_url, private_postgres_url, reset_postgres
from tests.support.tcp_proxy import TcpProxy
from tests.support.telegram_app import (
    ITALY,
    SPAIN,
    TOKEN,
    VOLUNTEER,
    Phone,
    add_scene_chats,
    running_tocsin,
    scene_config,
)
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
PLACES = ("Menton", "Vintimille", "Breil-sur-Roya", "Sospel", "Montgenèvre")


@pytest.fixture
async def postgres() -> str:
    shared = postgres_url()
    if shared is None:
        pytest.skip("needs TOCSIN_TEST_DATABASE_URL: the outage is played on PostgreSQL")
    url = await private_postgres_url(shared)
    await reset_postgres(url)
    return url


@pytest.fixture
async def proxy(postgres: str) -> AsyncIterator[TcpProxy]:
    target = make_url(postgres)
    running = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=5) as running:
        yield running


async def readyz(port: int) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/readyz") as answer,
    ):
        return answer.status, await answer.json()


async def metric(port: int, name: str) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        text = await answer.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not exposed")


async def until_ready_is(port: int, status: int, within: float) -> Any:
    async with asyncio.timeout(within):
        while True:
            got, body = await readyz(port)
            if got == status:
                return body
            await asyncio.sleep(0.2)


async def test_alerts_sent_while_the_database_is_away_are_delivered_once_it_is_back(  # noqa: PLR0915 (one scenario, read top-down)
    server: BotApiServer, proxy: TcpProxy, postgres: str
) -> None:
    topic = add_scene_chats(server)
    through_proxy = make_url(postgres).set(host="127.0.0.1", port=proxy.port)
    raw = scene_config(server, through_proxy.render_as_string(hide_password=False), topic)
    raw["web"] = {"listen": "127.0.0.1:0"}
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, raw) as wiring:
        assert wiring.web is not None
        assert wiring.web.port
        port = wiring.web.port
        phone.say("/alert contrôle en gare d'Hendaye")
        await phone.answer()  # the receipt: the database works through the proxy
        await server.wait_for_sent(1, chat_id=SPAIN, within=10)
        assert (await readyz(port))[0] == 200
        # Nothing in flight: a send whose recording the cut interrupted would be sent again
        # when its lease ends (at least once), which is not what this test is about.
        await wiring.dispatcher.wait_drained()

        await proxy.cut()
        down = await until_ready_is(port, 503, within=10)
        for number, place in enumerate(PLACES, start=1):
            phone.say(f"/alert {number} personnes refoulées à {place}")
        # Long enough for the relay to fetch the updates and fail to record them.
        await asyncio.sleep(4)
        pending_while_cut = [update["update_id"] for update in server.pending_updates()]
        sent_to_italy_while_cut = len(server.sent_messages(ITALY))
        database_up_while_cut = await metric(port, "tocsin_database_up")
        still_down = await readyz(port)

        await proxy.restore()
        await server.wait_for_sent(len(PLACES), chat_id=ITALY, within=90)
        receipts = await phone.answers(len(PLACES), within=30)
        up = await until_ready_is(port, 200, within=30)
        await wiring.dispatcher.wait_drained()
        await asyncio.sleep(1)  # a duplicate, if any, would have time to show
        received = await metric(port, "tocsin_database_up")

    assert down["not_ready"]["database"].startswith("unreachable")
    assert still_down[0] == 503
    assert "database" in still_down[1]["not_ready"]
    assert len(pending_while_cut) == len(PLACES)  # not one confirmed to Telegram
    assert sent_to_italy_while_cut == 0
    assert database_up_while_cut == 0
    assert up == {"ready": True, "not_ready": {}}
    assert received == 1
    italy = [message.text or "" for message in server.sent_messages(ITALY)]
    for number, place in enumerate(PLACES, start=1):
        wanted = f"{number} personnes refoulées à {place}"
        assert sum(wanted in text for text in italy) == 1, (wanted, italy)
    assert len(italy) == len(PLACES)
    assert all((receipt.text or "").startswith("✅ Alerte #") for receipt in receipts)
    assert server.pending_updates() == []
    assert proxy.connections > 1  # Tocsin reconnected through the proxy
    database = await open_database(postgres, migrate=False)
    try:
        async with database.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Alert))
    finally:
        await database.close()
    assert stored == len(PLACES) + 1
