# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""Both platforms at once: a real Synapse and the project's Bot API server, one Tocsin.
An alert raised on Matrix reaches the Telegram channels, and one raised on Telegram the
Matrix rooms, each rendered in the receiving platform's own markup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from config.loader import LoadedConfig, Secrets
from tests.support.matrix_app import (
    Scene,
    channel,
    new_scene,
    running,
    scene_config,
    wait_until,
)
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.telegram_api import BotApiServer

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "777000333:AAH-tocsin_matrix_bridge_token_abcd"
VOLUNTEER = 5_550_101  # a Telegram member, writing to the bot in private
TELEGRAM_ITALIE = -4_000_000_101
TELEGRAM_ESPAGNE = -4_000_000_102


@pytest.fixture
async def telegram() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=11) as server:
        yield server


async def two_platforms(
    synapse: SynapseServer, telegram: BotApiServer, database_url: str
) -> tuple[Scene, LoadedConfig]:
    scene = await new_scene(synapse)
    for name in ("coordination", "italie", "espagne"):
        await scene.room(name)
    telegram.add_chat(TELEGRAM_ITALIE, title="Vigie Roya")
    telegram.add_chat(TELEGRAM_ESPAGNE, title="Vigie Hendaye")
    channels: list[dict[str, Any]] = [
        channel("mx-italie", scene.rooms["italie"], ["franco-italienne"]),
        channel("mx-espagne", scene.rooms["espagne"], ["franco-espagnole"]),
        {
            **channel("tg-italie", str(TELEGRAM_ITALIE), ["franco-italienne"]),
            "platform": "telegram",
        },
        {
            **channel("tg-espagne", str(TELEGRAM_ESPAGNE), ["franco-espagnole"]),
            "platform": "telegram",
        },
    ]
    volunteer = {"platform": "telegram", "user": str(VOLUNTEER), "organisation": "anafe"}
    base = scene_config(
        scene,
        database_url,
        channels=channels,
        members=[volunteer],
        extra={"telegram": {"base_url": telegram.api_url, "poll_timeout": 1}},
    )
    secrets = Secrets(
        telegram_token=TOKEN,
        matrix_access_token=scene.bot.access_token,
        matrix_store_key=scene.store_key,
    )
    config = LoadedConfig(
        settings=base.settings, secrets=secrets, source=base.source, embedded=False
    )
    return scene, config


async def test_a_matrix_alert_reaches_the_telegram_channels_of_its_border(
    synapse_server: SynapseServer, telegram: BotApiServer, database_url: str
) -> None:
    scene, config = await two_platforms(synapse_server, telegram, database_url)
    async with running(config):
        await scene.say("coordination", "!alert 12 personnes refoulées à Menton <b>&</b>")
        [relayed] = await telegram.wait_for_sent(1, chat_id=TELEGRAM_ITALIE, within=20)
        await wait_until(lambda: scene.bodies("italie"))
        await wait_until(lambda: scene.bodies("coordination"))
        await asyncio.sleep(0.5)

    assert relayed.parse_mode == "HTML"
    assert relayed.raw_text is not None
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in relayed.raw_text
    assert relayed.text is not None
    assert "12 personnes refoulées à Menton <b>&</b>" in relayed.text
    assert telegram.sent_messages(TELEGRAM_ESPAGNE) == []
    assert await scene.bodies("espagne") == []
    [receipt] = await scene.bodies("coordination")
    assert receipt.startswith("✅ Alerte #1 relayée à 2 canal(aux)")


async def test_a_telegram_alert_reaches_the_matrix_rooms_of_its_border(
    synapse_server: SynapseServer, telegram: BotApiServer, database_url: str
) -> None:
    scene, config = await two_platforms(synapse_server, telegram, database_url)
    async with running(config):
        telegram.inject_message(
            VOLUNTEER, "/alert contrôle en gare d'Hendaye, 4 personnes", user_id=VOLUNTEER
        )
        bodies = await wait_until(lambda: scene.bodies("espagne"))
        [receipt] = await telegram.wait_for_sent(1, chat_id=VOLUNTEER, within=20)
        await telegram.wait_for_sent(1, chat_id=TELEGRAM_ESPAGNE, within=20)
        await asyncio.sleep(0.5)

    [event] = await scene.bot_events("espagne")
    assert "contrôle en gare d'Hendaye, 4 personnes" in bodies[0]
    assert event["content"]["msgtype"] == "m.notice"
    assert "contrôle en gare d'Hendaye" in event["content"]["formatted_body"]
    assert await scene.bodies("italie") == []
    assert telegram.sent_messages(TELEGRAM_ITALIE) == []
    assert receipt.text is not None
    assert receipt.text.startswith("✅ Alerte #1 relayée à 2")
