"""The per-member intake limit, on SQLite and PostgreSQL: one member cannot flood every
channel; the member gets one clear answer, learns later how many were refused, and a
`vital` alert always passes. Over the Bot API test server, and at the router for a
group-commit burst, for Matrix and console members, and for two processes at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock
from bot.app import Wiring
from storage.database import Database, open_database
from storage.models import Alert, AlertRefusal
from tests.support.telegram_app import (
    ITALY,
    TOKEN,
    VOLUNTEER,
    Phone,
    add_scene_chats,
    running_tocsin,
    scene_config,
    sent_texts,
)
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
REFUSAL = "⏸ Limite atteinte : 10 alertes par minute."


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=12) as running:
        yield running


async def count_alerts(wiring: Wiring) -> int:
    async with wiring.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Alert)) or 0)


async def test_thirty_alerts_in_a_burst_relay_ten_answer_one_refusal_and_vital_passes(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    phone = Phone(server, VOLUNTEER, VOLUNTEER)
    config = scene_config(server, database_url, topic)

    async with running_tocsin(server, config, clock=clock) as wiring:
        for number in range(30):
            phone.say(f"/alert contrôle n°{number} à Menton")
        assert await server.wait_until_consumed(within=20)
        await wiring.dispatcher.wait_drained()
        burst_answers = sent_texts(server, VOLUNTEER)
        relayed = sent_texts(server, ITALY)
        phone.read = len(burst_answers)
        phone.say("/alert personne blessée à Menton !vital")
        vital_receipt = await phone.answer()

    # A restart (and any other process: the count is in the database) keeps refusing.
    async with running_tocsin(server, config, clock=clock) as wiring:
        phone.say("/alert encore une à Menton")
        assert await server.wait_until_consumed(within=10)
        await wiring.dispatcher.wait_drained()
        after_restart = sent_texts(server, VOLUNTEER)[phone.read :]
        clock.advance(timedelta(seconds=61))
        phone.say("/alert contrôle terminé à Menton")
        later = await phone.answer()
        alerts = await count_alerts(wiring)

    receipts = [text for text in burst_answers if text.startswith("✅ Alerte #")]
    refusals = [text for text in burst_answers if text.startswith("⏸")]
    assert len(receipts) == 10
    assert len(burst_answers) == 11
    assert len(refusals) == 1
    assert refusals[0].startswith(REFUSAL)
    assert "14:01:00 UTC" in refusals[0]  # until when: one minute after the refusal
    assert len(relayed) == 10
    assert all(f"contrôle n°{number} " in relayed[number] for number in range(10))
    assert vital_receipt.text is not None
    assert vital_receipt.text.startswith("✅ Alerte #11 ")
    assert "VITAL" in sent_texts(server, ITALY)[10]
    assert after_restart == []  # refused, counted, and not answered a second time
    assert later.text is not None
    assert later.text.startswith("✅ Alerte #12 relayée")
    # The member learns what was not relayed: 20 from the burst and 1 after the restart.
    assert "⏸ 21 alerte(s) envoyée(s) entre 14:00:00 et 14:00:00 UTC" in later.text
    assert alerts == 12


async def test_a_burst_in_one_transaction_is_limited_per_member_on_every_platform(
    database_url: str,
) -> None:
    from tests.support.intake_scene import burst, intake_scene

    async with intake_scene(database_url) as scene:
        await burst(
            scene,
            [("console", "local", f"/alert contrôle {n} à Menton") for n in range(12)]
            + [("matrix", "@obs:example.org", f"!alert contrôle {n} à Hendaye") for n in range(12)],
        )
        console = await scene.replies("console", "local")
        matrix = await scene.replies("matrix", "@obs:example.org")
        alerts = await scene.alerts()

    for answers in (console, matrix):
        assert sum(text.startswith("✅") for text in answers) == 10
        assert sum(text.startswith("⏸ Limite atteinte") for text in answers) == 1
        assert len(answers) == 11
    assert alerts == 20


async def test_two_processes_at_once_relay_no_more_than_the_limit(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is one process (README: tocsin worker needs PostgreSQL)")
    from tests.support.intake_scene import burst, intake_scene

    async with intake_scene(database_url) as first:
        second_db = await open_database(database_url)
        try:
            async with intake_scene(database_url, database=second_db) as second:
                lines = [("console", "local", f"/alert contrôle {n} à Menton") for n in range(8)]
                await asyncio.gather(
                    burst(first, lines, prefix="a"), burst(second, lines, prefix="b")
                )
                alerts = await first.alerts()
                answers = await first.replies("console", "local")
        finally:
            await second_db.close()

    assert alerts == 10
    assert sum(text.startswith("✅") for text in answers) == 10
    assert sum(text.startswith("⏸ Limite atteinte") for text in answers) == 1


async def test_refusals_are_stored_without_any_text(database: Database) -> None:
    from tests.support.intake_scene import burst, intake_scene

    async with intake_scene(database.url, database=database) as scene:
        await burst(scene, [("console", "local", f"/alert secret {n} à Menton") for n in range(13)])
    async with database.sessions() as session:
        [refusal] = (await session.scalars(select(AlertRefusal))).all()
    assert refusal.refused == 3
    assert "secret" not in repr(vars(refusal))
