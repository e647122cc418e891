"""Silences from chat, end to end on Telegram: `/mute 2h` and `/unmute` in a group
channel, who may use them, what a bad duration does, and what waits meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from alerts.clock import ManualClock
from bot.app import Wiring
from storage.models import Channel
from tests.support.telegram_app import (
    COORDINATOR,
    FORUM,
    ITALY,
    STRANGER,
    TOKEN,
    VOLUNTEER,
    Phone,
    add_scene_chats,
    running_tocsin,
    scene_config,
)
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=5) as running:
        yield running


async def italy_muted_until(wiring: Wiring) -> datetime | None:
    async with wiring.database.sessions() as session:
        return await session.scalar(select(Channel.muted_until).where(Channel.id == "tg-italie"))


def texts(server: BotApiServer, chat: int) -> list[str]:
    return [message.text or "" for message in server.sent_messages(chat)]


async def test_a_muted_group_gets_only_vital_alerts_until_unmuted(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock()
    coordinator = Phone(server, COORDINATOR, ITALY)
    volunteer = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic), clock=clock) as (
        wiring
    ):
        coordinator.say("/mute 2h")
        muted = await coordinator.answer()
        until = await italy_muted_until(wiring)
        volunteer.say("/alert 3 personnes refoulées à Menton")
        routine = await volunteer.answer()
        volunteer.say("/alert personne blessée sur les voies à Vintimille !vital")
        vital = await volunteer.answer()
        await wiring.dispatcher.wait_drained()
        italy_while_muted, roya_while_muted = texts(server, ITALY), texts(server, FORUM)

        coordinator.say("/unmute")
        await coordinator.until(lambda message: "Menton" in (message.text or ""))
        await wiring.dispatcher.wait_drained()
        after = await italy_muted_until(wiring)

    assert muted.text is not None
    assert muted.text.startswith("🔕 Sourdine jusqu'à")
    assert until == clock.now() + timedelta(hours=2)
    assert routine.text is not None
    assert "1 canal(aux) la recevront plus tard" in routine.text
    assert vital.text is not None
    assert "plus tard" not in vital.text
    # Muted: the vital alert goes through, the routine one waits; other channels unaffected.
    assert any("Vintimille" in text for text in italy_while_muted)
    assert not any("Menton" in text for text in italy_while_muted)
    assert any("Menton" in text for text in roya_while_muted)
    # Unmuted: the held alert is sent at once, once.
    assert after is None
    assert "🔔 Sourdine levée." in texts(server, ITALY)
    assert sum("Menton" in text for text in texts(server, ITALY)) == 1


async def test_mute_refuses_bad_durations_other_roles_and_chats_that_are_not_channels(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    raw["organisations"].append({"id": "cimade", "name": "La Cimade"})
    raw["members"].append(
        {
            "platform": "telegram",
            "user": str(STRANGER),
            "organisation": "cimade",
            "role": "org-admin",
        }
    )
    italy = Phone(server, COORDINATOR, ITALY)  # reads the group's answers, whoever asked
    in_private = Phone(server, COORDINATOR, COORDINATOR)
    volunteer = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, raw) as wiring:
        answers = []
        for user, text in (
            (COORDINATOR, "/mute"),
            (COORDINATOR, "/mute deux heures"),
            (COORDINATOR, "/mute 0h"),
            (COORDINATOR, "/mute -2h"),
            (VOLUNTEER, "/mute 2h"),  # an observer
            (STRANGER, "/mute 2h"),  # an org-admin of another organisation
            (STRANGER, "/unmute"),
        ):
            server.inject_message(ITALY, text, user_id=user)
            answers.append((await italy.answer()).text or "")
        in_private.say("/mute 2h")
        answers.append((await in_private.answer()).text or "")
        until = await italy_muted_until(wiring)
        volunteer.say("/alert 3 personnes refoulées à Menton")
        receipt = await volunteer.answer()
        await wiring.dispatcher.wait_drained()

    usage = "Usage : /mute <durée> (ex. 30m, 2h, 1d)."
    assert answers == [
        usage,
        usage,
        usage,
        usage,
        "Cette commande demande le rôle org-admin (vous êtes observer).",
        "Ce canal appartient à une autre organisation (anafe).",
        "Ce canal appartient à une autre organisation (anafe).",
        "Ce salon n'est pas un canal Tocsin. Utilisez /subscribe.",
    ]
    # Nothing changed: the channel is not muted and gets the next alert at once.
    assert until is None
    assert receipt.text is not None
    assert "plus tard" not in receipt.text
    assert any("Menton" in text for text in texts(server, ITALY))
