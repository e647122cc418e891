"""A mobilisation over the project's Bot API test server: a coordinator calls from a
private chat, volunteers press the buttons on the channel's copy (each press acknowledged
once), the copy is edited with the live count, the deadline escalates, and the closing
shows the outcome and removes the buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.clock import ManualClock
from tests.support.telegram_app import (
    COORDINATOR,
    ITALY,
    SPAIN,
    STRANGER,
    TOKEN,
    VOLUNTEER,
    Phone,
    add_scene_chats,
    labels,
    running_tocsin,
    scene_config,
)
from tests.telegram_api import BotApiServer, StoredMessage

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
SECOND = 7_000_003  # another observer of "anafe"
CALL = "/mobilise 2 observateurs, 1 interprète gare d'Hendaye 18h !escalate=10m"


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=14) as running:
        yield running


def config(server: BotApiServer, database_url: str, topic: int) -> dict[str, Any]:
    raw = scene_config(server, database_url, topic)
    raw["members"].append({"platform": "telegram", "user": str(SECOND), "organisation": "anafe"})
    return raw


async def until(server: BotApiServer, check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for the server's state to satisfy `check` (it wakes on every change; the
    deadline runner's edits come within its one-second round)."""
    assert await server.state.wait_until(check, within), "not reached in time"


def shown(server: BotApiServer, message: StoredMessage) -> str:
    return server.message(message.chat_id, message.message_id).text or ""


async def test_call_answers_live_count_escalation_and_closing(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    server.add_user(SECOND, first_name="Seconde")
    clock = ManualClock(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    coordinator = Phone(server, COORDINATOR, COORDINATOR)
    first = Phone(server, VOLUNTEER, SPAIN)
    second = Phone(server, SECOND, SPAIN)
    async with running_tocsin(server, config(server, database_url, topic), clock=clock):
        coordinator.say(CALL)
        assert "Mobilisation #1 envoyée à 1 canal" in (await coordinator.answer()).text
        copy = await first.answer()
        assert "Mobilisation #1" in (copy.text or "")
        assert "Observateur·ices 0/2 · Interprète 0/1" in (copy.text or "")
        assert labels(copy)[:2] == ["✋ J'y vais (observateur·ice)", "✋ J'y vais (interprète)"]

        first.press(copy, "J'y vais (observateur·ice)")
        for _ in range(20):  # twenty presses in a burst count once
            second.press(copy, "J'y vais (observateur·ice)")
        assert await server.wait_until_consumed(within=10)
        await until(
            server, lambda: len(server.callback_answers) == 21
        )  # each press acknowledged once
        # The callback answer is the acknowledgement: no private message per press.

        clock.advance(timedelta(seconds=5))
        await until(server, lambda: "Observateur·ices 2/2 · Interprète 0/1" in shown(server, copy))
        assert "manque : 1 interprète" in shown(server, copy)
        assert server.sent_messages(SECOND) == []
        assert server.sent_messages(VOLUNTEER) == []

        server.inject_callback(SPAIN, copy.message_id, "mb:1:g:observers", user_id=STRANGER)
        await until(server, lambda: bool(server.sent_messages(STRANGER)))
        assert "Seul·es les membres" in (server.sent_messages(STRANGER)[0].text or "")

        clock.advance(timedelta(minutes=10))  # the interpreter is still missing
        await until(
            server,
            lambda: any("Mobilisation #1" in (m.text or "") for m in server.sent_messages(ITALY)),
        )
        [escalated] = [
            m for m in server.sent_messages(ITALY) if "Mobilisation #1" in (m.text or "")
        ]
        assert "URGENT" in (escalated.text or "")

        coordinator.say("/close 1 deux observateurs présents, pas d'interprète trouvé")
        await until(server, lambda: "Bilan : deux observateurs présents" in shown(server, copy))
        assert server.message(SPAIN, copy.message_id).reply_markup is None
        await until(server, lambda: "Bilan" in shown(server, escalated))

        # No copy keeps a button to press: answering a closed call is covered at the
        # router (tests/test_mobilisations.py), where an old client's press still arrives.


async def test_the_guided_call_with_inline_buttons(server: BotApiServer, database_url: str) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    coordinator = Phone(server, COORDINATOR, COORDINATOR)
    observer = Phone(server, VOLUNTEER, VOLUNTEER)
    async with running_tocsin(server, config(server, database_url, topic), clock=clock):
        observer.say("/mobilise 2 observateurs Hendaye 18h")
        refused = await observer.answer()
        assert "demande le rôle coordinator (vous êtes observer)" in (refused.text or "")
        coordinator.say("/mobilise")
        question = await coordinator.answer()
        assert "Nouvelle mobilisation" in (question.text or "")
        assert "Interprète" in labels(question)
        coordinator.press(question, "Interprète")
        chosen = await coordinator.answer()
        assert "Besoin : 1 interprète" in (chosen.text or "")
        coordinator.say("gare d'Hendaye demain 9h")
        receipt = await coordinator.answer()
        assert "Mobilisation #1 envoyée à 1 canal" in (receipt.text or "")
        [copy] = await server.wait_for_sent(1, chat_id=SPAIN, within=10)
        assert "Interprète 0/1" in (copy.text or "")
        assert "Rendez-vous : 03/12 09:00" in (copy.text or "")
        assert labels(copy) == ["✋ J'y vais", "Je ne peux pas", "Je me retire"]
