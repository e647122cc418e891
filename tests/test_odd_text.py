"""Odd text, on SQLite and PostgreSQL: a lone surrogate half (a JSON "\\ud800" escape) is
replaced by U+FFFD where each relay builds its neutral message, and the alert is relayed
as usual; control and bidi characters a user types are never repeated by the bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import nio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update

from alerts.messages import OutboundMessage, Paragraph, Span
from alerts.outbox import cleaned
from alerts.text import clean_user_text
from relays.console import ConsoleRelay
from relays.matrix.inbound import RoomView, event_source, inbound_message
from relays.telegram.inbound import to_inbound
from storage.database import Database
from tests.support.intake_scene import GROUP, intake_scene
from tests.support.matrix_app import new_scene
from tests.support.synapse import (
    CLIENT_API,
    SynapseServer,
    synapse_server,  # noqa: F401
)
from tests.support.telegram_app import (
    COORDINATOR,
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
CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=14) as running:
        yield running


async def test_telegram_a_lone_surrogate_is_relayed_as_a_replacement_character(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)
    admin = Phone(server, COORDINATOR, SPAIN)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        update = server.inject_message(
            VOLUNTEER, "/alert contrôle à Menton \ud800 fin", user_id=VOLUNTEER
        )
        receipt = await phone.answer()
        admin.say("/subscribe@tocsin_test_bot rt\u202eQQ\u202c")
        refusal = await admin.answer()
        await wiring.dispatcher.wait_drained()

    # What the server wrote to getUpdates (aiohttp's json.dumps) holds the raw escape.
    assert "\\ud800" in json.dumps(update)
    assert receipt.text is not None
    assert receipt.text.startswith("✅ Alerte #1 relayée à 2")
    [copy] = server.sent_messages(ITALY)
    assert copy.text is not None
    assert "contrôle à Menton \ufffd fin" in copy.text
    assert refusal.text is not None
    assert "« rtQQ »" in refusal.text
    assert not any(ch in refusal.text for ch in CONTROLS)


async def test_synapse_refuses_a_lone_surrogate_so_matrix_is_tested_at_the_relay_seam(
    synapse_server: SynapseServer,  # noqa: F811
) -> None:
    scene = await new_scene(synapse_server)
    room = await scene.room("surrogates")
    raw = b'{"msgtype":"m.text","body":"!alert Menton \\ud800"}'
    async with httpx.AsyncClient(base_url=synapse_server.base_url, timeout=30) as client:
        answer = await client.put(
            f"{CLIENT_API}/rooms/{quote(room, safe='')}/send/m.room.message/lone-1",
            content=raw,
            headers={
                "Authorization": f"Bearer {scene.alice.access_token}",
                "Content-Type": "application/json",
            },
        )
    # Synapse cannot encode the event to store it: nothing is sent, nobody can receive it.
    assert answer.status_code == 500


async def test_matrix_a_lone_surrogate_in_a_synced_event_is_relayed(database: Database) -> None:
    # The event as a sync answer carries it; nio parses it with json.loads, as the relay does.
    raw = (
        '{"type":"m.room.message","event_id":"$lone","sender":"@obs:example.org",'
        '"origin_server_ts":1,"room_id":"!dm:example.org",'
        '"content":{"msgtype":"m.text","body":"!alert contr\\u00f4le \\u00e0 Menton \\ud800"}}'
    )
    event = nio.Event.parse_event(json.loads(raw))
    inbound = inbound_message(event_source(event), RoomView("!dm:example.org", "private"))
    assert inbound is not None
    async with intake_scene(database.url, database=database) as scene:
        await scene.wiring.router(inbound)
        receipts = await scene.replies("matrix", "!dm:example.org")
        relayed = await scene.replies("console", GROUP)

    assert inbound.text == "!alert contrôle à Menton \ufffd"
    assert receipts[0].startswith("✅ Alerte #1 relayée à 1 canal(aux).")
    assert "contrôle à Menton \ufffd" in relayed[0]


async def test_console_a_line_with_a_lone_surrogate_is_relayed(database: Database) -> None:
    # Under the C locale, standard input decodes a bad byte to a lone surrogate.
    lines = iter(["/alert contrôle à Menton \udcff fin\n", ""])
    async with intake_scene(database.url, database=database) as scene:
        relay = ConsoleRelay(user="local", read_line=lambda: next(lines))
        await relay.start(scene.wiring.router)
        await asyncio.wait_for(relay.input_finished.wait(), 10)
        receipts = await scene.replies("console", "local")
        relayed = await scene.replies("console", GROUP)

    assert receipts[0].startswith("✅ Alerte #1 relayée à 1 canal(aux).")
    assert "contrôle à Menton \ufffd fin" in relayed[0]


async def test_a_command_argument_with_controls_is_answered_clean(database: Database) -> None:
    from tests.support.intake_scene import message

    async with intake_scene(database.url, database=database) as scene:
        await scene.wiring.router(message("console", "local", "/lang e\u202en\u0007\x1b[2J", "l1"))
        [answer] = await scene.replies("console", "local")

    assert answer.startswith("Langue non disponible : en[2j.")  # lower-cased by /lang


@given(st.text())
def test_clean_user_text_keeps_no_control_bidi_or_lone_surrogate(text: str) -> None:
    cleaned_text = clean_user_text(text)
    assert not any(ch in cleaned_text for ch in CONTROLS)
    assert not any(ord(ch) < 32 and ch not in "\n\t\r" for ch in cleaned_text)
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned_text)
    cleaned_text.encode("utf-8")  # storable and sendable


def test_every_outgoing_text_is_cleaned_once_in_the_outbox() -> None:
    message = OutboundMessage((Paragraph((Span("ok "), Span("rt\u202eQQ\u202c", "bold"))),))
    assert cleaned(message).plain == "ok rtQQ"
    plain = OutboundMessage((Paragraph((Span("rien à nettoyer\n\ttab"),)),))
    assert cleaned(plain) is plain


def test_telegram_every_field_of_an_update_is_made_well_formed_at_the_edge() -> None:
    raw = (
        '{"update_id": 9, "message": {"message_id": 3, "date": 1, "text": "/alert \\ud83d x",'
        ' "chat": {"id": 5, "type": "private", "first_name": "A\\udc00"},'
        ' "from": {"id": 5, "is_bot": false, "first_name": "A\\udc00"}}}'
    )
    inbound = to_inbound(Update.de_json(json.loads(raw), None))
    assert inbound is not None
    assert inbound.text == "/alert \ufffd x"
    assert inbound.sender_name == "A\ufffd"
    for value in vars(inbound).values():
        if isinstance(value, str):
            value.encode("utf-8")
