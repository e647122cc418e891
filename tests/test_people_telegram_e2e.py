"""Onboarding end to end on Telegram (the real app, python-telegram-bot over real HTTP,
the project's Bot API server, SQLite and PostgreSQL): an org-admin's invitation, the
newcomer's deep link, their first alert relayed — three messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.support.telegram_app import (
    COORDINATOR,
    ITALY,
    TOKEN,
    Phone,
    add_scene_chats,
    running_tocsin,
    scene_config,
    sent_texts,
)
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
NEWCOMER = 7_000_050
_LINK = re.compile(r"https://t\.me/tocsin_test_bot\?start=([A-Z0-9]{16})")


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=15) as running:
        yield running


async def test_from_an_invitation_link_to_a_relayed_alert_in_three_messages(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    server.add_user(NEWCOMER, first_name="Nouvelle")
    org_admin = Phone(server, COORDINATOR, COORDINATOR)  # org-admin of anafe in the scene
    newcomer = Phone(server, NEWCOMER, NEWCOMER)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        org_admin.say("/invite")  # 1
        invitation = (await org_admin.answer()).text or ""
        link = _LINK.search(invitation)
        assert link is not None, invitation
        newcomer.say(f"/start {link.group(1)}")  # 2: what the deep link sends
        welcome = (await newcomer.answer()).text or ""
        assert welcome.startswith("Bienvenue dans Anafé <&> Réseau (observateur·ice)")
        newcomer.say("/alert 3 personnes refoulées à Menton")  # 3
        receipt = (await newcomer.answer()).text or ""
        assert receipt.startswith("✅ Alerte #1 relayée à 2 canal(aux)")
        await wiring.dispatcher.wait_drained()
        italy = sent_texts(server, ITALY)

    assert len(italy) == 1
    assert "3 personne(s)" in italy[0]
    assert "Relayé par Anafé <&> Réseau" in italy[0]
