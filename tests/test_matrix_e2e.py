# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""The whole of Tocsin (`build()` + `Application`) on Matrix, against a real Synapse:
commands in one room, fan-out to the subscribed rooms, restarts, rate limits, crashes
between a send and its confirmation, and every bad input of issue 5."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock, SystemClock
from alerts.i18n import Translator
from alerts.messages import (
    DeliveryResult,
    OutboundMessage,
    Paragraph,
    SendContext,
    Span,
    text_message,
)
from alerts.outbox import NOTICE, Outbox, Target
from bot.wiring.platforms import platform_catalogue
from relays.base import ChatClass, InboundSink
from relays.dispatch_policy import DispatcherSettings
from relays.dispatcher import Dispatcher
from relays.matrix.relay import MatrixRelay
from relays.ratelimit import PlatformLimits
from storage.database import Database, open_database
from storage.models import Alert, Channel, Delivery
from tests.support.matrix_app import (
    Scene,
    channel,
    new_scene,
    relay_for,
    running,
    scene_config,
    started,
    wait_until,
)
from tests.support.synapse import (
    CLIENT_API,
    SynapseServer,
    synapse_server,  # noqa: F401
    unique_localpart,
)

pytestmark = pytest.mark.synapse


async def border_scene(server: SynapseServer, *, bot_exempt: bool = True) -> Scene:
    """A command room and two channel rooms, one per border."""
    scene = await new_scene(server, bot_exempt=bot_exempt)
    for name in ("coordination", "italie", "espagne"):
        await scene.room(name)
    return scene


def border_channels(scene: Scene) -> list[dict[str, Any]]:
    return [
        channel("italie", scene.rooms["italie"], ["franco-italienne"]),
        channel("espagne", scene.rooms["espagne"], ["franco-espagnole"]),
    ]


async def count(database_url: str, model: Any, *where: Any) -> int:
    database = await open_database(database_url)
    try:
        async with database.sessions() as session:
            return int(
                await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
            )
    finally:
        await database.close()


# -- fan-out and restarts -----------------------------------------------------------------


async def test_an_alert_in_one_room_reaches_the_subscribed_rooms_only(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    async with running(config):
        await scene.say("coordination", "!alert 12 personnes refoulées à Menton dont 3 mineurs")
        await wait_until(lambda: scene.bodies("italie"))
        receipts = await wait_until(lambda: scene.bodies("coordination"))
        await scene.say("coordination", "!alert encore 4 personnes refoulées à Menton")
        await wait_until(lambda: _has(scene.bodies("italie"), 2))
        await wait_until(lambda: _has(scene.bodies("coordination"), 2))

    italie = await scene.bot_events("italie")
    assert "12 personnes refoulées à Menton" in italie[0]["content"]["body"]
    assert "<b>" in italie[0]["content"]["formatted_body"]
    assert italie[0]["content"]["msgtype"] == "m.notice"
    # The follow-up at the same place is a Matrix reply to the first alert.
    assert italie[1]["content"]["m.relates_to"] == {
        "m.in_reply_to": {"event_id": italie[0]["event_id"]}
    }
    assert await scene.bodies("espagne") == []
    assert receipts[0].startswith("✅ Alerte #1 relayée à 1 canal(aux)")


async def test_a_restart_resumes_without_replay(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    async with running(config):
        await scene.say("coordination", "!alert contrôle en gare de Menton")
        await wait_until(lambda: scene.bodies("italie"))
        await wait_until(lambda: scene.bodies("coordination"))
    await scene.say("coordination", "!alert refoulement à Vintimille, pendant l'arrêt")
    async with running(config):
        await wait_until(lambda: _has(scene.bodies("italie"), 2))
        await wait_until(lambda: _has(scene.bodies("coordination"), 2))
        await asyncio.sleep(1.0)  # anything replayed would show up now

    italie = await scene.bodies("italie")
    assert len(italie) == 2
    assert "contrôle en gare de Menton" in italie[0]
    assert "Vintimille, pendant l'arrêt" in italie[1]
    receipts = await scene.bodies("coordination")
    assert len(receipts) == 2
    assert receipts[0].startswith("✅ Alerte #1 relayée")
    assert receipts[1].startswith("✅ Alerte #2 ")
    assert await count(database_url, Alert) == 2


async def test_default_rate_limits_give_429s_that_the_dispatcher_absorbs(
    synapse_server: SynapseServer, database: Database
) -> None:
    """Synapse's defaults (rc_message: burst 10, then one message per 5 s) for a bot that
    is not exempt: twelve messages to one room meet at least one 429, and all arrive."""
    scene = await new_scene(synapse_server, bot_exempt=False)
    room = await scene.room("rafale")
    clock = SystemClock()
    await enqueue(database, clock, room, [f"message {n}" for n in range(12)])
    recorder = RecordingRelay(relay_for(scene, database, clock))
    async with started(recorder.relay, None):
        await drain(database, recorder, clock, within=60)

    assert any(result.rate_limited for result in recorder.results)
    assert await scene.bodies(room) == [f"message {n}" for n in range(12)]
    async with database.sessions() as session:
        statuses = (await session.scalars(select(Delivery.status))).all()
    assert statuses == ["sent"] * 12


async def test_a_crash_between_send_and_confirmation_makes_no_duplicate(
    synapse_server: SynapseServer, database: Database
) -> None:
    scene = await new_scene(synapse_server)
    room = await scene.room("idempotence")
    clock = SystemClock()
    await enqueue(database, clock, room, ["Mobilisation : deux observateurs à Hendaye"])
    async with database.sessions() as session:
        row = (await session.scalars(select(Delivery))).one()
    message = OutboundMessage.from_json(row.payload)

    # The process sent the row, then died before recording the answer.
    async with started(relay_for(scene, database, clock), None) as before_crash:
        lost = await before_crash.send(room, message, SendContext(row.id, row.txn_id))
    assert lost.outcome == "sent"

    # After the restart the lease has expired and the dispatcher sends the row again.
    recorder = RecordingRelay(relay_for(scene, database, clock))
    async with started(recorder.relay, None):
        await drain(database, recorder, clock)

    assert [result.platform_message_id for result in recorder.results] == [lost.platform_message_id]
    events = await scene.bot_events(room)
    assert [event["event_id"] for event in events] == [lost.platform_message_id]
    async with database.sessions() as session:
        sent = await session.get(Delivery, row.id)
        assert sent is not None
        assert (sent.status, sent.platform_message_id) == ("sent", lost.platform_message_id)


# -- bad input ----------------------------------------------------------------------------


async def test_html_in_a_message_body_is_escaped_in_formatted_body(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    hostile = '<script>alert("x")</script> <b>gras</b> & <a href="javascript:x">lien</a>'
    async with running(config):
        await scene.say("coordination", f"!alert {hostile} à Menton")
        await wait_until(lambda: scene.bodies("italie"))

    [event] = await scene.bot_events("italie")
    html, body = event["content"]["formatted_body"], event["content"]["body"]
    assert "<script" not in html
    assert "<a " not in html
    assert "<b>gras" not in html
    assert "&lt;script&gt;" in html
    assert "&amp;" in html
    assert "&lt;b&gt;gras&lt;/b&gt;" in html
    assert '<script>alert("x")</script> <b>gras</b> &' in body  # plain text, verbatim


async def test_a_100_kb_message_arrives_split_in_order(
    synapse_server: SynapseServer, database: Database
) -> None:
    scene = await new_scene(synapse_server)
    room = await scene.room("long")
    clock = SystemClock()
    paragraphs = tuple(
        Paragraph((Span(f"§{n} ", "bold"), Span(f"<tag> & {'mot ' * 60}".strip())))
        for n in range(400)
    )
    message = OutboundMessage(paragraphs)
    assert len(message.plain.encode()) > 100_000
    async with database.transaction() as session:
        parts = Outbox(platform_catalogue()).enqueue(
            session, Target("matrix", room), message, fact=NOTICE, priority=20, now=clock.now()
        )
    assert parts >= 5
    recorder = RecordingRelay(relay_for(scene, database, clock))
    async with started(recorder.relay, None):
        await drain(database, recorder, clock)

    events = await scene.bot_events(room)
    assert len(events) == parts
    assert all(len(json.dumps(event["content"]).encode()) < 65_536 for event in events)
    assert "\n\n".join(event["content"]["body"] for event in events) == message.plain
    numbers = [
        int(part.split(" ", 1)[0][1:])
        for event in events
        for part in event["content"]["body"].split("\n\n")
    ]
    assert numbers == list(range(400))
    assert all("&lt;tag&gt; &amp;" in event["content"]["formatted_body"] for event in events)


async def test_an_unknown_user_is_refused_with_how_to_join(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    stranger = await synapse_server.register_user(unique_localpart("stranger"))
    room = scene.rooms["coordination"]
    await synapse_server.invite(scene.alice, room, stranger.user_id)
    await synapse_server.join(stranger, room)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    async with running(config):
        await synapse_server.send_text(stranger, room, "bonjour tout le monde")
        await synapse_server.send_text(stranger, room, "!alert 30 personnes à Menton")
        refusal = await wait_until(lambda: scene.bodies("coordination"))
        await asyncio.sleep(0.5)

    assert len(refusal) == 1  # the greeting in a group room is not answered
    assert "réservé aux membres des associations partenaires" in refusal[0]
    assert stranger.user_id in refusal[0]
    assert "administrateur" in refusal[0]
    assert await scene.bodies("italie") == []
    assert await count(database_url, Alert) == 0


async def test_an_invite_from_a_stranger_is_declined_when_configured(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    stranger = await synapse_server.register_user(unique_localpart("stranger"))
    ignored = await synapse_server.create_room(stranger, "ignoré")
    declined = await synapse_server.create_room(stranger, "refusé")
    welcome = await synapse_server.create_room(scene.alice, "bienvenue")

    await synapse_server.invite(stranger, ignored, scene.bot.user_id)
    async with running(scene_config(scene, database_url)):
        await synapse_server.invite(scene.alice, welcome, scene.bot.user_id)
        await wait_until(lambda: _membership_is(scene, welcome, scene.alice, "join"))
    assert await _membership(scene, ignored, stranger) == "invite"

    config = scene_config(scene, database_url, matrix={"decline_strangers": True})
    async with running(config):
        await synapse_server.invite(stranger, declined, scene.bot.user_id)
        await wait_until(lambda: _membership_is(scene, declined, stranger, "leave"))


async def test_a_redacted_event_is_handled(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    async with running(config):
        alert = await scene.say("coordination", "!alert 5 personnes à Menton, nom: X")
        await wait_until(lambda: scene.bodies("italie"))
        await wait_until(lambda: scene.bodies("coordination"))
        await synapse_server.redact(scene.alice, scene.rooms["coordination"], alert)
        answers = await wait_until(lambda: _has(scene.bodies("coordination"), 2))
    # Deleted before Tocsin read it: nothing is left to relay, and nothing breaks.
    gone = await scene.say("coordination", "!alert erreur de saisie à Vintimille")
    await synapse_server.redact(scene.alice, scene.rooms["coordination"], gone)
    async with running(config):
        await scene.say("coordination", "!whoami")
        answers = await wait_until(lambda: _has(scene.bodies("coordination"), 3))
        await asyncio.sleep(0.5)

    assert "Le message supprimé avait été relayé comme alerte #1" in answers[1]
    assert answers[2].startswith("Compte " + scene.alice.user_id)
    assert len(await scene.bodies("italie")) == 1
    assert await count(database_url, Alert) == 1


async def test_an_encrypted_room_gets_a_clear_notice_never_silence(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    secret = await synapse_server.create_room(scene.alice, "chiffré", encrypted=True)
    later = await scene.room("chiffré plus tard")
    clock = ManualClock()
    ciphertext = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "device_id": "ALICEDEVICE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    }
    # Encryption turned off (`[matrix] encryption = false`): the notice of old.
    config = scene_config(scene, database_url, matrix={"encryption": False})
    async with running(config, clock=clock):
        await synapse_server.invite(scene.alice, secret, scene.bot.user_id)
        first = await wait_until(lambda: scene.bodies(secret))  # told on arrival
        await synapse_server.send_event(scene.alice, secret, "m.room.encrypted", ciphertext)
        await asyncio.sleep(1.0)
        assert len(await scene.bodies(secret)) == 1  # told a minute ago: not again
        clock.advance(timedelta(hours=2))
        await synapse_server.send_event(scene.alice, secret, "m.room.encrypted", ciphertext)
        await wait_until(lambda: _has(scene.bodies(secret), 2))
        # A room that turns encrypted while the bot is in it is told too.
        await synapse_server.request(
            "PUT",
            f"{CLIENT_API}/rooms/{quote(later, safe='')}/state/m.room.encryption/",
            access_token=scene.alice.access_token,
            json_body={"algorithm": "m.megolm.v1.aes-sha2"},
        )
        told = await wait_until(lambda: scene.bodies(later))

    assert first[0].startswith("🔒 Ce salon est chiffré de bout en bout")
    assert "Rien de ce qui est écrit ici n'est lu ni relayé" in first[0]
    assert told[0] == first[0]


async def test_a_kicked_bot_stops_sending_there_and_tells_the_admin_in_private(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await border_scene(synapse_server)
    config = scene_config(scene, database_url, channels=border_channels(scene))
    async with running(config):
        direct = await synapse_server.request(
            "POST",
            f"{CLIENT_API}/createRoom",
            access_token=scene.alice.access_token,
            json_body={
                "preset": "trusted_private_chat",
                "is_direct": True,
                "invite": [scene.bot.user_id],
            },
        )
        dm: str = direct["room_id"]
        await wait_until(lambda: _membership_is(scene, dm, scene.alice, "join"))
        await synapse_server.kick(scene.alice, scene.rooms["italie"], scene.bot.user_id)
        await scene.say("coordination", "!alert refoulement à Menton")
        notice = await wait_until(lambda: scene.bodies(dm))

    assert "Le canal italie (matrix) ne reçoit plus les messages" in notice[0]
    assert "M_FORBIDDEN" in notice[0]
    database = await open_database(database_url)
    async with database.sessions() as session:
        italie = await session.get(Channel, "italie")
        assert italie is not None
        assert not italie.active
    await database.close()


# -- helpers ------------------------------------------------------------------------------


class RecordingRelay:
    """The real Matrix relay, with every result it reported kept for the assertions."""

    platform = "matrix"

    def __init__(self, relay: MatrixRelay) -> None:
        self.relay = relay
        self.results: list[DeliveryResult] = []

    async def start(self, sink: InboundSink | None) -> None:
        await self.relay.start(sink)

    async def stop(self) -> None:
        await self.relay.stop()

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        result = await self.relay.send(address, message, context)
        self.results.append(result)
        return result

    def chat_class(self, address: str) -> ChatClass:
        return self.relay.chat_class(address)


async def enqueue(database: Database, clock: Any, room: str, texts: list[str]) -> None:
    async with database.transaction() as session:
        for text in texts:
            Outbox(platform_catalogue()).enqueue(
                session,
                Target("matrix", room),
                text_message(text),
                fact=NOTICE,
                priority=20,
                now=clock.now(),
            )


async def drain(
    database: Database, relay: RecordingRelay, clock: Any, *, within: float = 20.0
) -> None:
    """Run a dispatcher until no delivery is pending (paused rows included)."""
    dispatcher = Dispatcher(
        database=database,
        relays={"matrix": relay},
        limits={"matrix": PlatformLimits()},
        clock=clock,
        outbox=Outbox(platform_catalogue()),
        translate=Translator(),
        rng=random.Random(5),
        settings=DispatcherSettings(poll_interval=0.05),
    )
    task = asyncio.create_task(dispatcher.run())

    async def pending() -> int:
        async with database.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                )
                or 0
            )

    try:
        await wait_until(lambda: _is_zero(pending()), within=within)
    finally:
        dispatcher.stop()
        await task


async def _is_zero(value: Any) -> bool:
    return bool(await value == 0)


async def _has(bodies: Any, at_least: int) -> list[str] | None:
    found: list[str] = await bodies
    return found if len(found) >= at_least else None


async def _membership(scene: Scene, room_id: str, viewer: Any) -> str | None:
    try:
        state = await scene.server.request(
            "GET",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/state/m.room.member/"
            f"{quote(scene.bot.user_id, safe='')}",
            access_token=viewer.access_token,
        )
    except Exception:
        return None
    return str(state.get("membership"))


async def _membership_is(scene: Scene, room_id: str, viewer: Any, expected: str) -> bool:
    return await _membership(scene, room_id, viewer) == expected
