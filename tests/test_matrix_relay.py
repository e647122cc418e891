# The imported fixture is shadowed by the tests' parameters, as pytest intends.
# ruff: noqa: F811
"""The Matrix relay alone against a real Synapse: sign-in, the sync loop, what it hands to
the sink, and what it reports for each send. People act through plain HTTP helpers."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from alerts.clock import ManualClock
from alerts.messages import (
    Button,
    InboundMessage,
    OutboundMessage,
    Paragraph,
    PhotoRef,
    SendContext,
    Span,
    text_message,
)
from relays.matrix.outbound import CHOICE_LABELS_KEY, CHOICES_KEY
from relays.matrix.session import SESSION_STATE_KEY
from storage import queries
from storage.database import Database, open_database
from storage.models import Member, Organisation
from tests.support.matrix_app import (
    RecordingSink,
    Scene,
    new_scene,
    relay_for,
    settled,
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

GPS_IFD = 0x8825


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite+aiosqlite:///{tmp_path}/relay.db")
    yield database
    await database.close()


@pytest.fixture
async def scene(synapse_server: SynapseServer) -> Scene:
    return await new_scene(synapse_server)


def context(number: int, **extra: Any) -> SendContext:
    return SendContext(number, f"txn-{unique_localpart('t')}", **extra)


def reply(event_id: str) -> dict[str, Any]:
    return {"m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}


async def test_an_html_notice_escapes_user_text_and_mentions_nobody(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("html")
    message = OutboundMessage(
        (
            Paragraph((Span("Alerte", "bold"), Span(" <script>alert(1)</script> & @room"))),
            Paragraph((Span("ligne 1\nligne 2"),)),
        )
    )
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        result = await relay.send(room, message, context(1))

    assert result.outcome == "sent"
    assert result.platform_message_id
    [event] = await scene.bot_events(room)
    assert event["event_id"] == result.platform_message_id
    content = event["content"]
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == (
        "<p><b>Alerte</b> &lt;script&gt;alert(1)&lt;/script&gt; &amp; @room</p>"
        "<p>ligne 1<br>ligne 2</p>"
    )
    assert content["body"] == "Alerte <script>alert(1)</script> & @room\n\nligne 1\nligne 2"
    assert content["m.mentions"] == {}


async def test_inbound_text_commands_replies_and_images_become_neutral(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("inbound")
    sink = RecordingSink()
    async with started(relay_for(scene, sqlite_db, ManualClock()), sink) as relay:
        first = await scene.say(room, "!alert 12 personnes refoulées à Menton")
        sent = await relay.send(room, text_message("✅ reçu"), context(1))  # own echo: ignored
        reply = await scene.say(
            room,
            "> <@tocsin:tocsin.test> ✅ reçu\n\n!whoami",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": sent.platform_message_id}}},
        )
        image = await scene.say(
            room,
            "refoulement.jpg",
            msgtype="m.image",
            url="mxc://tocsin.test/abcdef",
            info={"mimetype": "image/jpeg", "size": 1234},
        )
        caption = await scene.say(
            room,
            "!alert photo à Vintimille",
            msgtype="m.image",
            filename="photo.jpg",
            url="mxc://tocsin.test/ghijkl",
        )
        location = await scene.say(
            room, "Position", msgtype="m.location", geo_uri="geo:43.7915,7.6077"
        )
        received = await sink.wait_for(5)

    assert [message.update_id for message in received] == [first, reply, image, caption, location]
    text, answer, photo, captioned, position = received
    assert (text.platform, text.chat, text.sender, text.message_id) == (
        "matrix",
        room,
        scene.alice.user_id,
        first,
    )
    assert text.text == "!alert 12 personnes refoulées à Menton"
    assert text.sender_name == "Alice"
    assert text.chat_type == "private"  # alice and the bot alone
    assert (answer.text, answer.reply_to) == ("!whoami", sent.platform_message_id)
    assert photo.text == ""
    assert photo.attachments[0].kind == "photo"
    assert photo.attachments[0].ref == "mxc://tocsin.test/abcdef"
    assert photo.attachments[0].mime_type == "image/jpeg"
    assert captioned.text == "!alert photo à Vintimille"
    assert position.location is not None
    assert position.location.latitude == pytest.approx(43.7915)


async def test_a_restart_neither_loses_nor_replays_even_past_the_timeline_limit(
    synapse_server: SynapseServer, database_url: str
) -> None:
    scene = await new_scene(synapse_server)
    room = await scene.room("restart")
    clock = ManualClock()
    quick: dict[str, Any] = {"timeline_limit": 3, "sync_timeout_ms": 500}
    await scene.say(room, "avant le premier démarrage")  # history: never replayed

    database = await open_database(database_url)
    sink = RecordingSink()
    async with started(relay_for(scene, database, clock, **quick), sink) as relay:
        await scene.say(room, "pendant 1")
        await scene.say(room, "pendant 2")
        await sink.wait_for(2)
        await settled(relay)  # stopped once the batch is stored, not in the middle of it
    await database.close()
    missed = [await scene.say(room, f"à l'arrêt {number}") for number in range(8)]

    database = await open_database(database_url)
    later = RecordingSink()
    async with started(relay_for(scene, database, clock, **quick), later):
        after = await scene.say(room, "après le redémarrage")
        await later.wait_for(9)
        await asyncio.sleep(0.5)  # time for anything extra to show up
    await database.close()

    assert [message.text for message in sink.received] == ["pendant 1", "pendant 2"]
    assert [message.update_id for message in later.received] == [*missed, after]


class BatchSink(RecordingSink):
    """Records how many messages were being handled at once; refuses chosen texts the
    first time (as the router does when the database is down)."""

    def __init__(self, refuse_once: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.handling = 0
        self.most_at_once = 0
        self.refused: list[str] = []
        self._refuse = set(refuse_once)

    async def __call__(self, inbound: InboundMessage) -> None:
        self.handling += 1
        self.most_at_once = max(self.most_at_once, self.handling)
        try:
            await asyncio.sleep(0.01)  # a transaction being written
            if inbound.text in self._refuse:
                self._refuse.discard(inbound.text)
                self.refused.append(inbound.text)
                raise RuntimeError("not recorded")
        finally:
            self.handling -= 1
        await super().__call__(inbound)


async def _sync_batch_after_a_stop(
    synapse_server: SynapseServer, database_url: str, sink: BatchSink, handovers: int
) -> tuple[dict[str, list[str]], str | None, str | None]:
    """Messages said in two rooms while Tocsin is stopped, read by the first sync of the
    next run; the event ids said per room, and the sync token stored before and after."""
    scene = await new_scene(synapse_server)
    rooms = {name: await scene.room(name) for name in ("rafale-a", "rafale-b")}
    clock = ManualClock()
    database = await open_database(database_url)
    async with started(relay_for(scene, database, clock), RecordingSink()):
        pass  # the first sync: rooms learnt, its token stored
    said = {
        name: [await scene.say(room, f"{name} {n}") for n in range(count)]
        for (name, room), count in zip(rooms.items(), (15, 5), strict=True)
    }
    async with database.sessions() as session:
        before = await queries.get_state(session, "matrix.next_batch")
    async with started(relay_for(scene, database, clock), sink):
        await sink.wait_for(handovers)
        await asyncio.sleep(0.3)  # anything handed over twice would arrive now
    async with database.sessions() as session:
        after = await queries.get_state(session, "matrix.next_batch")
    await database.close()
    return said, before, after


async def test_a_sync_batch_is_handed_over_at_once_in_order(
    synapse_server: SynapseServer, database_url: str
) -> None:
    """The events of one sync reach the router together (so it writes them in one
    transaction), in each room's order, each once."""
    sink = BatchSink()
    said, before, after = await _sync_batch_after_a_stop(synapse_server, database_url, sink, 20)

    for name, event_ids in said.items():
        assert [m.update_id for m in sink.received if m.text.startswith(name)] == event_ids
    assert len(sink.received) == 20
    assert sink.most_at_once == 20
    assert before is not None
    assert after is not None
    assert after != before


async def test_a_batch_not_recorded_is_read_again_and_nothing_is_lost(
    synapse_server: SynapseServer, database_url: str
) -> None:
    """One message of the batch could not be recorded: the sync is not confirmed, it is
    read again, and every message is handed over (the router ignores the repeats)."""
    sink = BatchSink(refuse_once=frozenset({"rafale-a 7"}))
    said, before, after = await _sync_batch_after_a_stop(synapse_server, database_url, sink, 39)

    assert sink.refused == ["rafale-a 7"]
    handed = [message.update_id for message in sink.received]
    assert set(handed) == {event for events in said.values() for event in events}
    # The first reading handed over the other 19; the second, all 20 again.
    assert len(handed) == 39
    assert after is not None
    assert after != before


async def test_invites_from_members_are_accepted_and_others_ignored_or_declined(
    scene: Scene, sqlite_db: Database
) -> None:
    server = scene.server
    stranger = await server.register_user(unique_localpart("stranger"))
    async with sqlite_db.transaction() as session:
        session.add(Organisation(id="anafe", name="Anafé"))
        await session.flush()
        session.add(
            Member(
                platform="matrix",
                user_ref=scene.alice.user_id,
                organisation_id="anafe",
                role="observer",
                created_at=ManualClock().now(),
            )
        )
    from_member = await server.create_room(scene.alice, "membre")
    dm = await server.request(
        "POST",
        f"{CLIENT_API}/createRoom",
        access_token=scene.alice.access_token,
        json_body={
            "preset": "trusted_private_chat",
            "is_direct": True,
            "invite": [scene.bot.user_id],
        },
    )
    from_stranger = await server.create_room(stranger, "inconnu")
    declined = await server.create_room(stranger, "inconnu 2")
    await server.invite(scene.alice, from_member, scene.bot.user_id)
    await server.invite(stranger, from_stranger, scene.bot.user_id)

    async def membership(room_id: str, by: Any) -> str:
        state = await server.request(
            "GET",
            f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/state/m.room.member/"
            f"{quote(scene.bot.user_id, safe='')}",
            access_token=by.access_token,
        )
        return str(state["membership"])

    async with started(relay_for(scene, sqlite_db, ManualClock()), RecordingSink()):
        await wait_until(lambda: _is(membership(from_member, scene.alice), "join"))
        await wait_until(lambda: _is(membership(dm["room_id"], scene.alice), "join"))
    async with started(
        relay_for(scene, sqlite_db, ManualClock(), decline_strangers=True), RecordingSink()
    ):
        await server.invite(stranger, declined, scene.bot.user_id)
        await wait_until(lambda: _is(membership(declined, stranger), "leave"))
    assert await membership(from_stranger, stranger) == "invite"  # ignored, still pending
    async with sqlite_db.sessions() as session:
        assert await queries.get_state(session, f"matrix.dm:{scene.alice.user_id}") == dm["room_id"]


async def test_never_join_ignores_even_members(scene: Scene, sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as session:
        session.add(Organisation(id="anafe", name="Anafé"))
        await session.flush()
        session.add(
            Member(
                platform="matrix",
                user_ref=scene.alice.user_id,
                organisation_id="anafe",
                role="admin",
                created_at=ManualClock().now(),
            )
        )
    room = await scene.server.create_room(scene.alice, "jamais", invite=[scene.bot.user_id])
    relay = relay_for(scene, sqlite_db, ManualClock(), auto_join="never")
    async with started(relay, RecordingSink()):
        await asyncio.sleep(0.5)
    state = await scene.server.request(
        "GET",
        f"{CLIENT_API}/rooms/{quote(room, safe='')}/state/m.room.member/"
        f"{quote(scene.bot.user_id, safe='')}",
        access_token=scene.alice.access_token,
    )
    assert state["membership"] == "invite"


async def test_numbered_replies_and_reactions_answer_the_choices(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("choix")
    question = OutboundMessage(
        (Paragraph((Span("Mobilisation #4 : Hendaye, 18 h"),)),),
        buttons=(
            (Button("J'y vais", "mob:4:yes"), Button("Peut-être", "mob:4:maybe")),
            (Button("Non <merci>", "mob:4:no"),),
        ),
    )
    sink = RecordingSink()
    async with started(relay_for(scene, sqlite_db, ManualClock()), sink) as relay:
        sent = await relay.send(room, question, context(1))
        asked = sent.platform_message_id
        assert asked
        reply = await scene.say(
            room, "2", **{"m.relates_to": {"m.in_reply_to": {"event_id": asked}}}
        )
        reaction = await scene.server.send_event(
            scene.alice,
            room,
            "m.reaction",
            {
                "m.relates_to": {
                    "rel_type": "m.annotation",
                    "event_id": asked,
                    "key": "1\ufe0f\u20e3",
                }
            },
        )
        bare = await scene.say(room, "3")  # alice and the bot alone: the latest choices
        out_of_range = await scene.say(
            room, "7", **{"m.relates_to": {"m.in_reply_to": {"event_id": asked}}}
        )
        received = await sink.wait_for(4)

    [event] = await scene.bot_events(room)
    assert event["content"][CHOICES_KEY] == ["mob:4:yes", "mob:4:maybe", "mob:4:no"]
    assert "1. J'y vais\n2. Peut-être\n3. Non <merci>" in event["content"]["body"]
    assert "<b>Non &lt;merci&gt;</b>" in event["content"]["formatted_body"]
    presses = [(m.update_id, m.button.data if m.button else None, m.text) for m in received]
    assert presses == [
        (reply, "mob:4:maybe", ""),
        (reaction, "mob:4:yes", ""),
        (bare, "mob:4:no", ""),
        (out_of_range, None, "7"),  # not a choice: an ordinary message
    ]
    assert all(m.button is None or m.button.message_id == asked for m in received)


async def test_replies_and_reactions_to_a_count_question_and_to_an_older_question(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("combien")
    counts = ("1", "2", "3", "5")
    question = OutboundMessage(
        (Paragraph((Span("Combien de personnes ?"),)),),
        buttons=(
            tuple(Button(n, f"n:{n}") for n in counts),
            (Button("Je ne sais pas", "n:?"),),
        ),
    )
    # The same question sent before labels were stored: its choices' data only.
    older = {
        "msgtype": "m.notice",
        "body": "1. 1\n2. 2\n3. 3\n4. 5",
        CHOICES_KEY: ["o:1", "o:2", "o:3", "o:5"],
    }
    sink = RecordingSink()
    async with started(relay_for(scene, sqlite_db, ManualClock()), sink) as relay:
        sent = await relay.send(room, question, context(1))
        asked = sent.platform_message_id
        assert asked
        old = await scene.server.send_event(scene.bot, room, "m.room.message", older)

        async def react(target: str, key: str) -> str:
            relation = {"rel_type": "m.annotation", "event_id": target, "key": key}
            return await scene.server.send_event(
                scene.alice, room, "m.reaction", {"m.relates_to": relation}
            )

        typed = await scene.say(room, "4", **reply(asked))
        keycap = await react(asked, "4\ufe0f\u20e3")
        listed = await react(asked, "5\ufe0f\u20e3")
        words = await scene.say(room, "je ne sais pas", **reply(asked))
        old_reply = await scene.say(room, "4", **reply(old))
        old_reaction = await react(old, "1\ufe0f\u20e3")
        received = await sink.wait_for(6)

    [event] = [e for e in await scene.bot_events(room) if e["event_id"] == asked]
    assert event["content"][CHOICE_LABELS_KEY] == [*counts, "Je ne sais pas"]
    assert "• 5\n• Je ne sais pas" in event["content"]["body"]
    answers = [
        (m.update_id, m.button.data if m.button else None, m.text, m.reply_to) for m in received
    ]
    assert answers == [
        (typed, None, "4", asked),  # the count itself, not the 4th choice ("5")
        (keycap, None, "4", asked),  # a keycap means the same as the number typed
        (listed, "n:5", "", None),
        (words, "n:?", "", asked),  # unnumbered: a choice is named by its words
        (old_reply, "o:5", "", old),  # an older event keeps numbers as the n-th choice
        (old_reaction, "o:1", "", None),
    ]


async def test_replies_and_live_edits(scene: Scene, sqlite_db: Database) -> None:
    room = await scene.room("suivi")
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        first = await relay.send(room, text_message("Mobilisation : 0 réponse"), context(1))
        assert first.platform_message_id
        edit = await relay.send(
            room,
            text_message("Mobilisation : 2 réponses"),
            context(2, edit_message_id=first.platform_message_id),
        )
        follow = await relay.send(
            room, text_message("Suite"), context(3, reply_to_message_id=first.platform_message_id)
        )
    assert edit.outcome == follow.outcome == "sent"
    events = {event["event_id"]: event["content"] for event in await scene.bot_events(room)}
    edited = events[edit.platform_message_id or ""]
    assert edited["m.relates_to"] == {
        "rel_type": "m.replace",
        "event_id": first.platform_message_id,
    }
    assert edited["m.new_content"]["body"] == "Mobilisation : 2 réponses"
    assert edited["m.new_content"]["formatted_body"] == "<p>Mobilisation : 2 réponses</p>"
    assert edited["body"] == "* Mobilisation : 2 réponses"
    replied = events[follow.platform_message_id or ""]
    assert replied["m.relates_to"] == {"m.in_reply_to": {"event_id": first.platform_message_id}}


async def test_a_photo_is_sent_as_m_image_without_its_gps(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("photo")
    exif = Image.Exif()
    exif[0x0110] = "Pixel 7"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 46.0, 30.0), 3: "E", 4: (7.0, 30.0, 5.0)}
    raw = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 20, 20)).save(raw, format="JPEG", exif=exif)
    mxc = await upload(scene, raw.getvalue(), "image/jpeg")

    message = OutboundMessage(
        (Paragraph((Span("Alerte #9 — Menton"),)), Paragraph((Span("refoulement"),))),
        photo=PhotoRef("matrix", mxc, caption_paragraph=0),
    )
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        ctx = context(1)
        result = await relay.send(scene.rooms["photo"], message, ctx)
        again = await relay.send(scene.rooms["photo"], message, ctx)  # a retry: no duplicate

    assert result.outcome == "sent"
    assert again.platform_message_id == result.platform_message_id
    text, image = await scene.bot_events(room)
    assert text["event_id"] == result.platform_message_id
    assert image["content"]["msgtype"] == "m.image"
    assert image["content"]["body"] == "Alerte #9 — Menton"  # the caption
    assert image["content"]["filename"] == "photo.jpg"
    assert image["content"]["info"]["w"] == 32
    assert image["content"]["url"] != mxc
    relayed = await download(scene, image["content"]["url"])
    assert b"Pixel 7" not in relayed
    assert len(Image.open(io.BytesIO(relayed)).getexif()) == 0


async def test_a_missing_photo_still_delivers_the_text(scene: Scene, sqlite_db: Database) -> None:
    room = await scene.room("sans photo")
    message = OutboundMessage(
        (Paragraph((Span("Alerte"),)),), photo=PhotoRef("telegram", "AgAD-file-id")
    )
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        result = await relay.send(room, message, context(1))
    assert result.outcome == "sent"
    assert [event["content"]["msgtype"] for event in await scene.bot_events(room)] == ["m.notice"]


async def test_a_429_is_reported_with_retry_after_and_never_retried_silently(
    synapse_server: SynapseServer, sqlite_db: Database
) -> None:
    scene = await new_scene(synapse_server, bot_exempt=False)
    room = await scene.room("rafale")
    results = []
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        async with asyncio.timeout(20):
            for number in range(30):
                result = await relay.send(room, text_message(f"n°{number}"), context(number))
                results.append(result)
                if result.outcome != "sent":
                    break
    last = results[-1]
    assert last.outcome == "retry"
    assert last.rate_limited
    assert last.retry_after is not None
    assert 0 < last.retry_after <= 10
    assert "M_LIMIT_EXCEEDED" in last.reason


async def test_a_room_the_bot_left_is_reported_gone(scene: Scene, sqlite_db: Database) -> None:
    room = await scene.room("quitté")
    await scene.server.kick(scene.alice, room, scene.bot.user_id, "plus besoin")
    async with started(relay_for(scene, sqlite_db, ManualClock()), None) as relay:
        result = await relay.send(room, text_message("encore là ?"), context(1))
        unknown = await relay.send("!nowhere:tocsin.test", text_message("?"), context(2))
    assert result.outcome == "failed"
    assert result.channel_gone
    assert "M_FORBIDDEN" in result.reason
    assert unknown.outcome == "failed"
    assert unknown.channel_gone


async def test_password_sign_in_keeps_its_device_across_restarts(
    synapse_server: SynapseServer, database_url: str
) -> None:
    """Three logins at most: Synapse allows five per address before minutes of 429s."""
    scene = await new_scene(synapse_server)
    room = await scene.room("appareil")
    database = await open_database(database_url)
    try:
        async with started(relay_for(scene, database, ManualClock(), password=True), None) as r:
            first_device = r.device_id
            assert (await r.send(room, text_message("un"), context(1))).outcome == "sent"
        async with started(relay_for(scene, database, ManualClock(), password=True), None) as r:
            assert r.device_id == first_device  # the stored session, no new login
            assert (await r.send(room, text_message("deux"), context(2))).outcome == "sent"
        async with database.sessions() as session:
            stored = await queries.get_state(session, SESSION_STATE_KEY)
        assert stored is not None
        assert first_device in stored
        # Someone revokes the token: the next start signs in again on the same device.
        token = _json(stored)["access_token"]
        await synapse_server.request("POST", f"{CLIENT_API}/logout", access_token=token)
        async with started(relay_for(scene, database, ManualClock(), password=True), None) as r:
            assert r.device_id == first_device
            assert (await r.send(room, text_message("trois"), context(3))).outcome == "sent"
    finally:
        await database.close()
    devices = await synapse_server.request(
        "GET",
        f"/_synapse/admin/v2/users/{quote(scene.bot.user_id, safe='')}/devices",
        access_token=(await synapse_server.admin_user()).access_token,
    )
    ids = {device["device_id"] for device in devices["devices"]}
    assert ids == {scene.bot.device_id, first_device}  # registration's device + ours, no more
    assert await scene.bodies(room) == ["un", "deux", "trois"]


async def test_the_sync_loop_reconnects_after_the_homeserver_restarts(
    scene: Scene, sqlite_db: Database
) -> None:
    room = await scene.room("redémarrage")
    sink = RecordingSink()
    async with started(relay_for(scene, sqlite_db, ManualClock(), sync_timeout_ms=1000), sink):
        await scene.say(room, "avant")
        await sink.wait_for(1)
        # On this thread: the fixture's child dies with the thread that spawned it (prctl).
        scene.server.restart()
        await scene.say(room, "après")
        await sink.wait_for(2, within=30)
    assert [message.text for message in sink.received] == ["avant", "après"]


# -- helpers ------------------------------------------------------------------------------


async def _is(value: Any, expected: Any) -> bool:
    try:
        return bool(await value == expected)
    except Exception:
        return False


def _json(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


async def upload(scene: Scene, data: bytes, mime_type: str) -> str:
    async with httpx.AsyncClient(base_url=scene.server.base_url) as client:
        response = await client.post(
            "/_matrix/media/v3/upload",
            content=data,
            headers={
                "Authorization": f"Bearer {scene.alice.access_token}",
                "Content-Type": mime_type,
            },
        )
    response.raise_for_status()
    uri: str = response.json()["content_uri"]
    return uri


async def download(scene: Scene, mxc: str) -> bytes:
    server_name, media_id = mxc.removeprefix("mxc://").split("/", 1)
    async with httpx.AsyncClient(base_url=scene.server.base_url) as client:
        response = await client.get(
            f"/_matrix/client/v1/media/download/{server_name}/{media_id}",
            headers={"Authorization": f"Bearer {scene.alice.access_token}"},
        )
    response.raise_for_status()
    return response.content
