"""Non-members in groups, on SQLite and PostgreSQL: a stranger typing commands in a channel
group is answered at most once per 10 minutes, behind everything else queued for the
group, so the group's alerts never wait behind those answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from alerts.messages import InboundMessage
from alerts.types import Kind, Urgency, delivery_priority
from storage import queries
from storage.database import Database
from storage.models import PlatformState
from storage.platform_state import STRANGER_ANSWERED
from tests.support.intake_scene import GROUP, intake_scene, message
from tests.support.telegram_app import (
    FORUM,
    ITALY,
    SPAIN,
    STRANGER,
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
NOT_MEMBER = "Bonjour ! Ce service est réservé aux membres"


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=13) as running:
        yield running


async def test_thirty_help_from_a_stranger_get_one_answer_and_the_alert_is_not_held_up(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    config = scene_config(server, database_url, topic)
    config["delivery"]["telegram_group_per_minute"] = 20.0  # Telegram's own group limit
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, config) as wiring:
        for _ in range(30):
            server.inject_message(ITALY, "/help@tocsin_test_bot", user_id=STRANGER)
        assert await server.wait_until_consumed(within=20)
        await asyncio.sleep(2)
        phone.say("/alert 6 personnes refoulées à Menton")
        raised = time.monotonic()
        receipt = await phone.answer()
        relayed = await server.state.wait_until(
            lambda: any("6 personne(s)" in text for text in sent_texts(server, ITALY)), 12
        )
        arrived = time.monotonic() - raised
        await wiring.dispatcher.wait_drained()
        italy = sent_texts(server, ITALY)

    assert relayed
    assert arrived < 12
    assert receipt.text is not None
    assert receipt.text.startswith("✅ Alerte #1 relayée à 2")
    assert sum(text.startswith(NOT_MEMBER) for text in italy) == 1
    [alert] = [text for text in italy if not text.startswith(NOT_MEMBER)]
    assert "6 personne(s)" in alert
    [roya] = sent_texts(server, FORUM)
    assert "6 personne(s)" in roya  # nothing of the member's is lost
    assert sent_texts(server, SPAIN) == []


async def test_a_stranger_is_answered_once_per_ten_minutes_over_a_restart_at_lowest_priority(
    database: Database,
) -> None:
    stranger = "@passant:example.org"

    def help_in_group(number: int) -> InboundMessage:
        return message("matrix", stranger, "!help", f"s{number}", chat=GROUP, chat_type="group")

    async with intake_scene(database.url, database=database) as scene:
        for number in range(5):
            await scene.wiring.router(help_in_group(number))
        first = await scene.replies("matrix", GROUP)
        priorities = await scene.priorities("matrix", GROUP)
        clock = scene.clock
    # A restart, or another process on the same database, keeps the rule.
    async with intake_scene(database.url, database=database, clock=clock) as scene:
        await scene.wiring.router(help_in_group(5))
        after_restart = await scene.replies("matrix", GROUP)
        clock.advance(timedelta(minutes=10, seconds=1))
        await scene.wiring.router(help_in_group(6))
        later = await scene.replies("matrix", GROUP)
        # In a private chat the stranger is answered each time (only they read it).
        for number in range(2):
            await scene.wiring.router(message("matrix", stranger, "!help", f"p{number}"))
        private = await scene.replies("matrix", stranger)

    assert len(first) == 1
    assert first[0].startswith(NOT_MEMBER)
    assert priorities == [0]
    assert priorities[0] <= delivery_priority(Kind.ANNOUNCEMENT, Urgency.INFO)
    assert after_restart == first
    assert len(later) == 2
    assert len(private) == 2


async def test_claimed_turns_are_exclusive_and_old_ones_are_pruned(database: Database) -> None:
    start = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    every = timedelta(minutes=10)
    async with database.transaction() as session:
        first = await queries.claim_turn(session, "x.stranger-answered:a", start, every=every)
        again = await queries.claim_turn(session, "x.stranger-answered:a", start, every=every)
        other = await queries.claim_turn(session, "x.stranger-answered:b", start, every=every)
    later = start + timedelta(days=2)
    async with database.transaction() as session:
        await queries.claim_turn(session, "x.stranger-answered:b", later, every=every)
        await queries.prune_state(session, STRANGER_ANSWERED, later - timedelta(days=1))
    async with database.sessions() as session:
        kept = (await session.scalars(select(PlatformState.key))).all()

    assert (first, again, other) == (True, False, True)
    assert list(kept) == ["x.stranger-answered:b"]
