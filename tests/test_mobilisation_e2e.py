# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""The issue's end-to-end test: a real Synapse and the project's Bot API server, one
Tocsin. A coordinator mobilises on Telegram; two volunteers answer from Telegram and one
from Matrix (a keycap reaction on the room's copy); the count updates in every channel on
both platforms; the deadline escalates the uncovered need; a restart in the middle loses
nothing; the coordinator closes the call with an outcome every copy shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock
from config.loader import LoadedConfig, Secrets
from storage.database import open_database
from storage.models import MobilisationAnswer
from tests.support.matrix_app import Scene, channel, new_scene, running, scene_config, wait_until
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.telegram_api import BotApiServer, StoredMessage

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "777000444:AAH-tocsin_mobilise_e2e_token_abcd"
COORDINATOR = 5_550_201
FIRST = 5_550_202
SECOND = 5_550_203
TELEGRAM_ESPAGNE = -4_000_000_202
TELEGRAM_ITALIE = -4_000_000_201
CALL = "/mobilise 2 observateurs, 1 interprète, 1 avocat gare d'Hendaye 18h !escalate=10m"


@pytest.fixture
async def telegram() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=15) as server:
        yield server


async def two_platforms(
    synapse: SynapseServer, telegram: BotApiServer, database_url: str
) -> tuple[Scene, LoadedConfig]:
    scene = await new_scene(synapse)
    for name in ("italie", "espagne"):
        await scene.room(name)
    telegram.add_chat(TELEGRAM_ESPAGNE, title="Vigie Hendaye")
    telegram.add_chat(TELEGRAM_ITALIE, title="Vigie Roya")
    for user, name in ((COORDINATOR, "Coord"), (FIRST, "Une"), (SECOND, "Deux")):
        telegram.add_user(user, first_name=name)
    channels: list[dict[str, Any]] = [
        channel("mx-espagne", scene.rooms["espagne"], ["franco-espagnole"]),
        channel("mx-italie", scene.rooms["italie"], ["franco-italienne"]),
        {
            **channel("tg-espagne", str(TELEGRAM_ESPAGNE), ["franco-espagnole"]),
            "platform": "telegram",
        },
        {
            **channel("tg-italie", str(TELEGRAM_ITALIE), ["franco-italienne"]),
            "platform": "telegram",
        },
    ]

    def member(user: int, role: str = "observer") -> dict[str, str]:
        return {"platform": "telegram", "user": str(user), "organisation": "anafe", "role": role}

    base = scene_config(
        scene,
        database_url,
        channels=channels,
        members=[member(COORDINATOR, "coordinator"), member(FIRST), member(SECOND)],
        extra={"telegram": {"base_url": telegram.api_url, "poll_timeout": 1}},
    )
    secrets = Secrets(
        telegram_token=TOKEN,
        matrix_access_token=scene.bot.access_token,
        matrix_store_key=scene.store_key,
    )
    return scene, LoadedConfig(
        settings=base.settings, secrets=secrets, source=base.source, embedded=False
    )


async def latest_matrix_text(scene: Scene, room: str) -> str:
    """The room's copy of the call as a client shows it: its newest edit, or itself."""
    events = await scene.bot_events(room)
    calls = [e for e in events if "Mobilisation #1" in str(e["content"].get("body", ""))]
    if not calls:
        return ""
    newest = calls[-1]["content"]
    return str(newest.get("m.new_content", newest).get("body", ""))


async def copy_event(scene: Scene, room: str) -> str:
    events = await scene.bot_events(room)
    return str(
        next(
            e["event_id"]
            for e in events
            if "Mobilisation #1" in str(e["content"].get("body", ""))
            and "m.new_content" not in e["content"]
        )
    )


def text_of(telegram: BotApiServer, message: StoredMessage) -> str:
    return telegram.message(message.chat_id, message.message_id).text or ""


async def test_the_issue_end_to_end(
    synapse_server: SynapseServer, telegram: BotApiServer, database_url: str
) -> None:
    scene, config = await two_platforms(synapse_server, telegram, database_url)
    clock = ManualClock(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    async with running(config, clock=clock):
        telegram.inject_message(COORDINATOR, CALL, user_id=COORDINATOR)
        [receipt] = await telegram.wait_for_sent(1, chat_id=COORDINATOR, within=20)
        assert "Mobilisation #1 envoyée à 2 canal(aux)" in (receipt.text or "")
        [tg_copy] = await telegram.wait_for_sent(1, chat_id=TELEGRAM_ESPAGNE, within=20)
        await wait_until(lambda: latest_matrix_text(scene, "espagne"))
        matrix_copy = await copy_event(scene, "espagne")

        # Two volunteers on Telegram, Alice on Matrix (1️⃣ = the first choice: observers).
        telegram.inject_callback(
            TELEGRAM_ESPAGNE, tg_copy.message_id, "mb:1:g:observers", user_id=FIRST
        )
        telegram.inject_callback(
            TELEGRAM_ESPAGNE, tg_copy.message_id, "mb:1:g:interpreter", user_id=SECOND
        )
        await synapse_server.send_event(
            scene.alice,
            scene.rooms["espagne"],
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": matrix_copy, "key": "1️⃣"}},
        )
        await wait_until(lambda: _answers(config), within=20)
        clock.advance(timedelta(seconds=5))
        wanted = "Observateur·ices 2/2 · Interprète 1/1 · Avocat·e / juriste 0/1"
        await wait_until(lambda: _async(wanted in text_of(telegram, tg_copy)), within=20)
        await wait_until(lambda: _contains(latest_matrix_text(scene, "espagne"), wanted), within=20)

    # A restart in the middle: the escalation deadline is in the database.
    clock.advance(timedelta(minutes=10))
    async with running(config, clock=clock):
        await telegram.wait_for_sent(1, chat_id=TELEGRAM_ITALIE, within=20)
        [escalated] = telegram.sent_messages(TELEGRAM_ITALIE)
        assert "URGENT" in (escalated.text or "")
        assert "manque : 1 avocat·e / juriste" in (escalated.text or "")
        await wait_until(lambda: latest_matrix_text(scene, "italie"), within=20)

        telegram.inject_message(
            COORDINATOR, "/close 1 audience suivie, 3 bénévoles", user_id=COORDINATOR
        )
        outcome = "Bilan : audience suivie, 3 bénévoles"
        await wait_until(lambda: _async(outcome in text_of(telegram, tg_copy)), within=20)
        await wait_until(lambda: _async(outcome in text_of(telegram, escalated)), within=20)
        assert telegram.message(TELEGRAM_ESPAGNE, tg_copy.message_id).reply_markup is None
        for room in ("espagne", "italie"):
            await wait_until(
                lambda room=room: _contains(latest_matrix_text(scene, room), outcome), within=20
            )


async def _answers(config: LoadedConfig) -> bool:
    database = await open_database(config.settings.storage.url)
    try:
        async with database.sessions() as session:
            found = await session.scalar(select(func.count()).select_from(MobilisationAnswer))
    finally:
        await database.close()
    return found == 3


async def _async(value: bool) -> bool:
    return value


async def _contains(text: Any, wanted: str) -> bool:
    return wanted in await text
