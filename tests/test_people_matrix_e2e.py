# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""Onboarding end to end on Matrix, against a real Synapse: an admin's `!invite`, the
newcomer's `!join <code>`, their first alert relayed — three messages."""

from __future__ import annotations

import re

import pytest

from tests.support.matrix_app import (
    Scene,
    channel,
    new_scene,
    running,
    scene_config,
    wait_until,
)
from tests.support.synapse import (
    SynapseServer,
    synapse_server,  # noqa: F401
    unique_localpart,
)

pytestmark = pytest.mark.synapse
_JOIN = re.compile(r"!join ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


async def test_from_an_invitation_to_a_relayed_alert_in_three_messages(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    for name in ("coordination", "italie"):
        await scene.room(name)
    newcomer = await synapse_server.register_user(unique_localpart("nouvelle"))
    room = scene.rooms["coordination"]
    await synapse_server.invite(scene.alice, room, newcomer.user_id)
    await synapse_server.join(newcomer, room)
    config = scene_config(
        scene, database_url, channels=[channel("italie", scene.rooms["italie"], ["*"])]
    )
    async with running(config):
        await scene.say("coordination", "!invite")  # 1 (alice is an admin)
        [invitation] = await wait_until(lambda: scene.bodies("coordination"))
        code = _JOIN.search(invitation)
        assert code is not None, invitation
        await synapse_server.send_text(newcomer, room, f"!join {code.group(1)}")  # 2
        welcome = await wait_until(lambda: _nth(scene, 2))
        assert welcome.startswith("Bienvenue dans Anafé (observateur·ice)")
        await synapse_server.send_text(newcomer, room, "!alert 3 personnes refoulées à Menton")
        receipt = await wait_until(lambda: _nth(scene, 3))  # 3
        relayed = await wait_until(lambda: scene.bodies("italie"))

    assert receipt.startswith("✅ Alerte #1 relayée à 1 canal(aux)")
    assert "3 personnes refoulées à Menton" in relayed[0]


async def _nth(scene: Scene, number: int) -> str | None:
    """The bot's `number`-th message in the coordination room, once there."""
    found = await scene.bodies("coordination")
    return found[number - 1] if len(found) >= number else None
