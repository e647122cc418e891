# The imported fixtures are shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""End-to-end encrypted rooms (issue 17), against a real Synapse: the human is a
matrix-nio client with its own crypto store (`tests.support.matrix_peer`), Tocsin the
whole application with encryption on (the default)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from config.loader import LoadedConfig, Secrets
from tests.support.matrix_app import channel, new_scene, running, scene_config, wait_until
from tests.support.matrix_peer import Peer, Seen
from tests.support.synapse import SynapseServer, synapse_server  # noqa: F401
from tests.telegram_api import BotApiServer

pytestmark = [
    pytest.mark.synapse,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "777000444:AAH-tocsin_e2ee_bridge_token_abcdef"
TELEGRAM_ITALIE = -4_000_000_201


@pytest.fixture
async def telegram() -> Any:
    async with BotApiServer(TOKEN, limits=False, seed=17) as server:
        yield server


def choice(message: Seen, label: str) -> str:
    """The number of `label` in one of Tocsin's numbered lists."""
    for line in message.body.splitlines():
        found = re.match(r"(\d+)\. (.*)", line)
        if found and label in found.group(2):
            return found.group(1)
    raise AssertionError(f"no choice {label!r} in {message.body!r}")


async def test_an_alert_in_an_encrypted_room_reaches_an_encrypted_room_and_telegram(
    synapse_server: SynapseServer, telegram: BotApiServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    coordination = await scene.room("coordination", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    telegram.add_chat(TELEGRAM_ITALIE, title="Vigie Roya")
    channels = [
        channel("mx-italie", italie, ["franco-italienne"]),
        {
            **channel("tg-italie", str(TELEGRAM_ITALIE), ["franco-italienne"]),
            "platform": "telegram",
        },
    ]
    base = scene_config(
        scene,
        database_url,
        channels=channels,
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
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:
        await alice.say(coordination, "!alert 12 personnes refoulées à Menton dont 3 mineurs")
        [relayed] = await alice.wait_for(italie, bot)
        [receipt] = await alice.wait_for(coordination, bot)
        [copy] = await telegram.wait_for_sent(1, chat_id=TELEGRAM_ITALIE, within=20)
        await asyncio.sleep(0.5)

    assert relayed.decrypted and receipt.decrypted
    assert "12 personnes refoulées à Menton" in relayed.body
    assert "<b>" in relayed.content["formatted_body"]
    assert receipt.body.startswith("✅ Alerte #1 relayée à 2 canal(aux)")
    assert copy.text is not None and "12 personnes refoulées à Menton" in copy.text
    # The homeserver only ever held ciphertext from the bot in the encrypted rooms.
    for room in (italie, coordination):
        said = [
            event["type"]
            for event in await synapse_server.messages(scene.alice, room)
            if event["sender"] == bot
            and event["type"].startswith("m.room.")
            and "state_key" not in event
        ]
        assert said and set(said) == {"m.room.encrypted"}


async def test_a_guided_alert_in_an_encrypted_direct_chat(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    dm = await scene.room("direct", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    config = scene_config(
        scene, database_url, channels=[channel("mx-italie", italie, ["franco-italienne"])]
    )
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as alice:

        async def answer(text: str, expect: int = 1) -> Seen:
            before = len(alice.from_user(dm, bot))
            await alice.say(dm, text)
            return (await alice.wait_for(dm, bot, before + expect))[-1]

        border = await answer("!alert", expect=2)
        await answer(choice(border, "franco-italienne"))  # a bare number: the latest question
        await answer("Menton")
        await answer("Dix personnes refoulées, deux enfants")
        await answer("10")
        themes = await answer("2")
        urgency = await answer(choice(themes, "Valider"))
        summary = await answer(choice(urgency, "Vitale"))
        receipt = await answer(choice(summary, "Envoyer"))
        [relayed] = await alice.wait_for(italie, bot)

    assert border.body.startswith("(1/7) Quelle frontière ?")
    assert "Lieu : Menton" in summary.body and "Personnes : 10" in summary.body
    assert receipt.body.startswith("✅ Alerte #1 relayée à 1 canal(aux)")
    assert relayed.decrypted and "Dix personnes refoulées, deux enfants" in relayed.body
    assert all(seen.decrypted for seen in alice.from_user(dm, bot))


async def test_after_a_restart_the_bot_keeps_its_device_and_still_decrypts(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    coordination = await scene.room("coordination", encrypted=True)
    italie = await scene.room("italie", encrypted=True)
    config = scene_config(
        scene,
        database_url,
        channels=[channel("mx-italie", italie, ["franco-italienne"])],
        password=True,
    )
    bot = scene.bot.user_id
    devices: list[str | None] = []
    async with Peer(synapse_server, scene.alice, "phone") as alice:
        for number in (1, 2):
            async with running(config) as wiring:
                devices.append(wiring.relays["matrix"].device_id)  # type: ignore[attr-defined]
                await alice.say(coordination, f"!alert contrôle numéro {number} à Menton")
                await alice.wait_for(italie, bot, number)
                await alice.wait_for(coordination, bot, number)
        relayed = alice.from_user(italie, bot)

    assert devices[0] is not None and devices == [devices[0], devices[0]]
    assert [("contrôle numéro 1" in s.body, "contrôle numéro 2" in s.body) for s in relayed] == [
        (True, False),
        (False, True),
    ]
    assert all(s.decrypted for s in relayed)
    # One device only on the account: no new device per start.
    listed = await synapse_server.request(
        "GET", "/_matrix/client/v3/devices", access_token=scene.bot.access_token
    )
    assert sorted(d["device_id"] for d in listed["devices"]) == sorted(
        {devices[0], scene.bot.device_id}
    )


async def test_a_new_device_of_the_human_gets_the_keys_under_tofu(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    italie = await scene.room("italie", encrypted=True)
    coordination = await scene.room("coordination", encrypted=True)
    config = scene_config(
        scene, database_url, channels=[channel("mx-italie", italie, ["franco-italienne"])]
    )
    bot = scene.bot.user_id
    async with running(config), Peer(synapse_server, scene.alice, "phone") as phone:
        await phone.say(coordination, "!alert premier contrôle à Menton")
        await phone.wait_for(italie, bot)
        async with Peer(synapse_server, scene.alice, "laptop") as laptop:
            await phone.say(coordination, "!alert second contrôle à Menton")
            second = await wait_until(lambda: _decrypted(laptop, italie, "second contrôle"))

    assert second.sender == bot and second.content["msgtype"] == "m.notice"


async def _decrypted(peer: Peer, room_id: str, words: str) -> Seen | None:
    await peer.sync()
    found = [s for s in peer.seen if s.room_id == room_id and s.decrypted and words in s.body]
    return found[0] if found else None
