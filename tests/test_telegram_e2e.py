"""Tocsin end to end on Telegram: the real app, python-telegram-bot over real HTTP, the
project's Bot API server, SQLite and PostgreSQL. People act only through the server."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from alerts.clock import ManualClock
from bot.app import Wiring
from relays.telegram.relay import TelegramRelay
from storage.models import Alert, Conversation
from tests.support.telegram_app import (
    COORDINATOR,
    FORUM,
    ITALY,
    MINORS,
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
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
OUR_LOGGERS = ("bot", "relays", "alerts", "storage", "config")


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=11) as running:
        yield running


async def count_alerts(wiring: Wiring) -> int:
    async with wiring.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Alert)) or 0)


async def drained(wiring: Wiring) -> None:
    await wiring.dispatcher.wait_drained()


def texts(server: BotApiServer, chat: int) -> list[str]:
    return [message.text or message.caption or "" for message in server.sent_messages(chat)]


# -- the phone-style guided alert -----------------------------------------------------


async def test_a_guided_alert_by_buttons_fans_out_to_the_right_groups(  # noqa: PLR0915 (one scenario, read top-down)
    server: BotApiServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in OUR_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)
    what = "Refoulement au poste du pont Saint-Louis, personnes <b>retenues</b> & fouillées"

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        phone.say("/alert")
        started, border = await phone.answers(2)
        assert started.text is not None
        assert started.text.startswith("🆕 Nouvelle alerte")
        assert "Frontière franco-italienne" in labels(border)
        phone.press(border, "Frontière franco-italienne")
        place = await phone.answer()
        assert {"Menton", "Vintimille", "Pas de lieu précis"} <= set(labels(place))
        phone.press(place, "Menton")
        question = await phone.answer()
        assert question.text is not None
        assert "Que se passe-t-il" in question.text
        phone.say(what)
        people = await phone.answer()
        phone.say("12")  # typed rather than pressed
        minors = await phone.answer()
        phone.press(minors, "3")
        themes = await phone.answer()
        chosen = [label for label in labels(themes) if label.startswith("✅")]
        assert chosen == ["✅ Refoulements", "✅ Mineurs"]  # from the text and the minors
        phone.press(themes, "Violences")
        await server.state.wait_until(
            lambda: "✅ Violences" in labels(server.message(VOLUNTEER, themes.message_id)), 5
        )
        phone.press(themes, "Valider ➡️")
        urgency = await phone.answer()
        phone.press(urgency, "🚨 Urgente")
        summary = await phone.answer()
        assert summary.text is not None
        assert what in summary.text
        assert "Personnes : 12" in summary.text
        assert "Mineur·es : 3" in summary.text
        phone.press(summary, "✅ Envoyer")
        receipt = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)
        async with wiring.database.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(Conversation))

    assert people.text is not None
    assert "Combien" in people.text
    menu = {entry["command"]: entry["description"] for entry in server.commands()}
    english = {entry["command"]: entry["description"] for entry in server.commands(None, "en")}
    assert {"alert", "urgent", "cancel", "help"} <= set(menu)
    assert "mobilise" not in menu
    assert "subscribe" not in menu
    assert menu["cancel"] == "abandonner l'alerte en cours"
    assert english["cancel"] == "give up the alert in progress"
    assert receipt.text == "✅ Alerte #1 relayée à 3 canal(aux)."
    assert alerts == 1
    assert left == 0
    [italy] = server.sent_messages(ITALY)
    [minors_copy] = server.sent_messages(MINORS)
    [roya] = server.sent_messages(FORUM)
    assert server.sent_messages(SPAIN) == []
    assert roya.message_thread_id == topic
    for copy in (italy, minors_copy, roya):
        assert copy.parse_mode == "HTML"
        assert copy.text is not None
        assert "🚨 Alerte #1 · URGENT" in copy.text
        assert "📍 Menton (Frontière franco-italienne)" in copy.text
        assert "12 personne(s) dont 3 mineur(s)" in copy.text
        assert what in copy.text  # the user's markup arrives as text, verbatim
        assert "Thèmes : Refoulements, Mineurs, Violences" in copy.text
        assert "Relayé par Anafé <&> Réseau" in copy.text
    # No token anywhere, and no alert text at INFO from our code.
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert caplog.records, "our loggers were captured"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        if record.levelno >= logging.INFO and record.name.split(".")[0] in OUR_LOGGERS:
            assert "Saint-Louis" not in record.getMessage()


async def test_cancel_and_a_restart_mid_conversation(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, raw):
        phone.say("/alert")
        _, border = await phone.answers(2)
        phone.press(border, "Frontière franco-espagnole")
        place = await phone.answer()
    # A restart between two answers: the conversation is in the database.
    async with running_tocsin(server, raw) as wiring:
        phone.press(place, "Hendaye")
        question = await phone.answer()
        phone.say("/cancel")
        cancelled = await phone.answer()
        phone.press(place, "Irun")  # a button of the cancelled conversation
        stale = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert question.text is not None
    assert "Que se passe-t-il" in question.text
    assert cancelled.text == "Alerte abandonnée : rien n'a été relayé."
    assert stale.text is not None
    assert stale.text.startswith("Ce bouton ne correspond plus")
    assert alerts == 0
    assert server.sent_messages(SPAIN) == []


# -- bad input ------------------------------------------------------------------------


async def test_markup_in_an_alert_is_delivered_escaped_verbatim(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)
    hostile = "<script>alert('x')</script> & <b>non fermé <i>à Menton &amp; </a>"

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        phone.say(f"/alert {hostile}")
        receipt = await phone.answer()
        await drained(wiring)

    assert receipt.text is not None
    assert receipt.text.startswith("✅ Alerte #1")
    [copy] = server.sent_messages(ITALY)
    assert copy.text is not None
    assert hostile in copy.text
    assert copy.raw_text is not None
    assert "&lt;script&gt;" in copy.raw_text


async def test_a_10000_character_alert_is_split_and_every_part_delivered_in_order(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)
    words = [f"mot{n:04d}" for n in range(1250)]  # 1,250 × 8 = 10,000 characters
    body = "\n\n".join(" ".join(words[i : i + 50]) for i in range(0, len(words), 50))
    assert len(body) >= 10_000

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        phone.say(f"/alert Menton {body}")
        await phone.answer()
        await drained(wiring)

    parts = texts(server, ITALY)
    assert len(parts) == 3
    assert all(len(part) <= 4096 for part in parts)
    relayed = " ".join(" ".join(parts).split())
    positions = [relayed.index(word) for word in words]
    assert positions == sorted(positions)  # every word, in order


async def test_forged_and_expired_buttons_are_refused_politely(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock()
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic), clock=clock) as (
        wiring
    ):
        relay = wiring.relays["telegram"]
        assert isinstance(relay, TelegramRelay)
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup

        forged = await relay.bot.send_message(
            VOLUNTEER,
            "piège",
            reply_markup=InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton("a", callback_data="ga:00000000:b:0")],
                    [InlineKeyboardButton("b", callback_data="ga:zz")],
                    [InlineKeyboardButton("c", callback_data="rm -rf /")],
                ]
            ),
        )
        phone.read += 1
        for data in ("ga:00000000:b:0", "ga:zz", "rm -rf /"):
            server.inject_callback(VOLUNTEER, forged.message_id, data, user_id=VOLUNTEER)
        refusals = await phone.answers(3)
        phone.say("/alert")
        _, border = await phone.answers(2)
        clock.advance(timedelta(hours=2))
        phone.press(border, "Frontière franco-italienne")
        expired = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert [message.text for message in refusals[:2]] == [
        "Ce bouton ne correspond plus à une alerte en cours (elle a été envoyée, annulée ou a "
        "expiré). Rien n'a été relayé. Tapez /alert pour recommencer."
    ] * 2
    assert refusals[2].text == "Ce bouton n'est plus valable. Rien n'a été relayé."
    assert expired.text is not None
    assert "a expiré après 60 min" in expired.text
    assert alerts == 0
    assert [answer["callback_query_id"] for answer in server.callback_answers]  # acknowledged
    assert server.sent_messages(ITALY) == []


async def test_a_non_member_is_refused_with_how_to_join_and_nothing_relayed(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    stranger = Phone(server, STRANGER, STRANGER)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        stranger.say("/alert 30 personnes refoulées à Menton !vital")
        stranger.say("/alert")
        server.inject_photo(STRANGER, _jpeg(), caption="refoulement à Menton", user_id=STRANGER)
        refusals = await stranger.answers(3)
        await drained(wiring)
        alerts = await count_alerts(wiring)

    for refusal in refusals:
        assert refusal.text is not None
        assert "réservé aux membres des associations partenaires" in refusal.text
        assert f"votre identifiant : {STRANGER}" in refusal.text
        assert "Rien n'a été relayé" in refusal.text
    assert alerts == 0
    assert all(server.sent_messages(chat) == [] for chat in (ITALY, SPAIN, MINORS, FORUM))


async def test_stickers_voice_notes_and_documents_get_a_clear_message(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        server.inject_sticker(VOLUNTEER, user_id=VOLUNTEER)
        server.inject_voice(VOLUNTEER, b"OggS-voice", user_id=VOLUNTEER)
        server.inject_document(VOLUNTEER, b"%PDF-1.4", file_name="pv.pdf", user_id=VOLUNTEER)
        outside = await phone.answers(3)
        phone.say("/alert")
        _, border = await phone.answers(2)
        phone.press(border, "Frontière franco-italienne")
        await phone.answer()
        server.inject_voice(VOLUNTEER, b"OggS-voice", user_id=VOLUNTEER)  # mid-conversation
        inside = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert [message.text for message in outside] == [
        "Je ne peux pas lire les autocollants. Écrivez le texte de l'alerte (ou envoyez une "
        "photo avec légende). Rien n'a été relayé.",
        "Je ne peux pas écouter les messages vocaux. Écrivez le texte de l'alerte (ou envoyez "
        "une photo avec légende). Rien n'a été relayé.",
        "Je ne lis pas les documents joints. Écrivez le texte de l'alerte (ou envoyez une "
        "photo avec légende). Rien n'a été relayé.",
    ]
    assert inside.text is not None
    assert inside.text.startswith("Je ne peux pas écouter")
    assert alerts == 0


async def test_an_edit_corrects_its_alert_within_the_window_and_not_after(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock()
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic), clock=clock) as (
        wiring
    ):
        said = phone.say("/alert 5 personnes refoulées à Menton")
        await phone.answer()
        await drained(wiring)
        server.inject_edit(VOLUNTEER, said, "/alert 7 personnes refoulées à Menton <vite>")
        applied = await phone.answer()
        await drained(wiring)
        clock.advance(timedelta(minutes=20))
        server.inject_edit(VOLUNTEER, said, "/alert 9 personnes refoulées à Menton")
        too_late = await phone.answer()
        other = phone.say("bonjour")
        await phone.answer()
        server.inject_edit(VOLUNTEER, other, "bonsoir")
        ignored = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert applied.text is not None
    assert applied.text.startswith(
        "✏️ Correction appliquée à l'alerte #1 : 2 message(s) modifié(s)."
    )
    assert too_late.text is not None
    assert "n'a pas été appliquée" in too_late.text
    assert "plus de 15 min" in too_late.text
    assert ignored.text is not None
    assert "ne sont pas relus" in ignored.text
    assert alerts == 1  # an edit never raises a second alert
    for chat in (ITALY, FORUM):  # both copies (the Roya topic too) corrected in place
        [copy] = server.sent_messages(chat)
        assert copy.text is not None
        assert "7 personne(s)" in copy.text
        assert "<vite>" in copy.text
        assert len(copy.edits) == 1


# -- photos, locations, groups ---------------------------------------------------------


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (120, 20, 20)).save(buffer, format="JPEG")
    return buffer.getvalue()


async def test_a_photo_with_a_caption_is_an_alert_with_that_photo(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        sent = server.inject_photo(
            VOLUNTEER, _jpeg(), caption="Contrôle au faciès à Menton", user_id=VOLUNTEER
        )
        receipt = await phone.answer()
        await drained(wiring)
        async with wiring.database.sessions() as session:
            alert = await session.scalar(select(Alert))

    file_id = sent["message"]["photo"][-1]["file_id"]
    assert receipt.text is not None
    assert receipt.text.startswith("✅ Alerte #1")
    assert alert is not None
    assert json.loads(alert.photo or "{}") == {
        "platform": "telegram",
        "ref": file_id,
    }
    [copy] = server.sent_messages(ITALY)
    assert copy.media["photo"][-1]["file_id"] == file_id  # by file id, no upload
    assert copy.caption is not None
    assert "Contrôle au faciès à Menton" in copy.caption


async def test_a_shared_location_becomes_the_nearest_place_not_coordinates(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    raw["channels"][3]["share_locations"] = True  # only the Roya topic opted in
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, raw) as wiring:
        server.inject_location(VOLUNTEER, 43.7801, 7.5120, user_id=VOLUNTEER)
        found = await phone.until(lambda m: (m.text or "").startswith("📍"))
        question = await phone.answer()
        phone.say("Personnes bloquées sur le sentier")
        people = await phone.answer()
        phone.press(people, "Je ne sais pas")
        minors = await phone.answer()
        phone.press(minors, "Aucun")
        themes = await phone.answer()
        phone.press(themes, "Valider ➡️")
        urgency = await phone.answer()
        phone.press(urgency, "📣 Normale")
        summary = await phone.answer()
        phone.press(summary, "✅ Envoyer")
        await phone.answer()
        await drained(wiring)

    assert found.text is not None
    assert "lieu le plus proche, Menton" in found.text
    assert question.text is not None
    assert "Que se passe-t-il" in question.text
    [italy] = server.sent_messages(ITALY)
    roya = server.sent_messages(FORUM)
    assert italy.text is not None
    assert "📍 Menton" in italy.text
    assert "43.78" not in italy.text
    assert "7.51" not in italy.text
    assert not any("location" in message.media for message in server.sent_messages(ITALY))
    assert roya[0].text is not None
    assert "Position : 43.7801, 7.5120" in roya[0].text
    assert roya[1].media["location"] == {"latitude": 43.7801, "longitude": 7.512}


async def test_groups_commands_for_the_bot_and_a_group_nobody_claims(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    clock = ManualClock()
    coordinator_in_italy = Phone(server, COORDINATOR, ITALY)
    orphan, claimed = -4_000_000_501, -4_000_000_502

    async with running_tocsin(server, scene_config(server, database_url, topic), clock=clock) as (
        wiring
    ):
        coordinator_in_italy.say("/alert@someone_else_bot pas pour nous à Menton")
        coordinator_in_italy.say("/alert@tocsin_test_bot 4 personnes refoulées à Menton")
        await coordinator_in_italy.until(lambda m: (m.text or "").startswith("✅ Alerte #1"))
        server.inject_bot_added(orphan, user_id=STRANGER, title="Groupe inconnu")
        server.inject_bot_added(claimed, user_id=STRANGER, title="Nouveau groupe")
        [hello] = await server.wait_for_sent(1, chat_id=orphan)
        await server.wait_for_sent(1, chat_id=claimed)
        server.inject_message(claimed, "/subscribe@tocsin_test_bot manche", user_id=COORDINATOR)
        await server.wait_for_sent(2, chat_id=claimed)
        assert wiring.intake is not None
        await wiring.intake.chores.tick()  # before the deadline: nothing
        clock.advance(timedelta(minutes=11))
        await wiring.intake.chores.tick()  # goodbye queued
        await server.wait_for_sent(2, chat_id=orphan)
        await drained(wiring)
        await wiring.intake.chores.tick()  # goodbye sent: leave
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert alerts == 1
    assert hello.text is not None
    assert "d'ici 10 min, je le quitterai" in hello.text
    assert texts(server, orphan)[1].startswith("👋 Personne n'a revendiqué ce groupe")
    assert server.counters.requests["leavechat"] == 1
    assert texts(server, claimed)[1].startswith("✅ Ce canal reçoit désormais")
    assert len(texts(server, claimed)) == 2  # claimed: no goodbye


async def test_the_author_is_told_when_some_channels_could_not_be_reached(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    server.set_chat_state(SPAIN, kicked=True)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, scene_config(server, database_url, topic)) as wiring:
        phone.say("/alert 3 personnes refoulées à Hendaye")
        receipt = await phone.answer()
        await drained(wiring)
        assert wiring.intake is not None
        await wiring.intake.chores.tick()
        notice = await phone.answer()
        await wiring.intake.chores.tick()  # told once
        await drained(wiring)

    assert receipt.text == "✅ Alerte #1 relayée à 1 canal(aux)."
    assert notice.text == (
        "⚠️ Alerte #1 : 1 canal(aux) sur 1 n'ont pas pu être atteints (tg-espagne). "
        "Les autres l'ont reçue ou la recevront."
    )
    assert len(server.sent_messages(VOLUNTEER)) == 2


# -- restarts --------------------------------------------------------------------------


async def test_a_restart_neither_loses_nor_replays_updates(
    server: BotApiServer, database_url: str
) -> None:
    topic = add_scene_chats(server)
    raw = scene_config(server, database_url, topic)
    phone = Phone(server, VOLUNTEER, VOLUNTEER)

    async with running_tocsin(server, raw) as wiring:
        phone.say("/alert première alerte à Menton")
        await phone.answer()
        await drained(wiring)
    phone.say("/alert pendant l'arrêt à Menton")  # arrives while Tocsin is down
    async with running_tocsin(server, raw) as wiring:
        late = await phone.answer()
        phone.say("/alert après le redémarrage à Menton")
        after = await phone.answer()
        await drained(wiring)
        alerts = await count_alerts(wiring)

    assert late.text is not None
    assert late.text.startswith("✅ Alerte #2")
    assert after.text is not None
    assert after.text.startswith("✅ Alerte #3")
    assert alerts == 3
    relayed = texts(server, ITALY)
    assert len(relayed) == 3
    assert ["première" in relayed[0], "pendant" in relayed[1], "après" in relayed[2]] == [True] * 3
    assert len(server.sent_messages(VOLUNTEER)) == 3
