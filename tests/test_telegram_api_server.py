"""The test Bot API server, driven by python-telegram-bot over real HTTP and by /_control."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.telegram_api import BotApiServer, EntityParseError, parse_html
from tests.telegram_api.limits import RateLimiter, RateLimits, SlidingWindow

TOKEN = "987654321:AAH-tocsin_test_token_abcdefghij"
USER = 5_550_001
GROUP = -4_000_000_001
SUPERGROUP = -1_001_234_567_890
ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_bot(server: BotApiServer, **request: Any) -> Bot:
    return Bot(
        server.token,
        base_url=server.api_url,
        base_file_url=server.file_url,
        request=HTTPXRequest(**request) if request else None,
    )


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, seed=7) as running:
        yield running


@pytest.fixture
async def bot(server: BotApiServer) -> AsyncIterator[Bot]:
    async with make_bot(server) as client:
        yield client


@pytest.fixture
async def http(server: BotApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5.0) as client:
        yield client


def said(description: str) -> str:
    """A pattern for PTB's message of a refusal: Telegram's whole description, though
    PTB drops the "Bad Request: " prefix and changes the case."""
    return "(?i)^" + re.escape(description) + "$"


def mentions(part: str) -> str:
    return "(?i)" + re.escape(part)


def png(width: int = 32, height: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(item, callback_data=item) for item in data]])


# -- the envelope and the basics --------------------------------------------------------


async def test_get_me_answers_the_bot_of_the_token(bot: Bot, server: BotApiServer) -> None:
    me = await bot.get_me()

    assert me.id == 987654321
    assert me.is_bot
    assert me.username == "tocsin_test_bot"
    assert server.counters.requests["getme"] >= 1


async def test_a_wrong_token_is_unauthorized_and_a_malformed_one_not_found(
    server: BotApiServer, http: httpx.AsyncClient
) -> None:
    wrong = await http.post("/bot987654321:AAH-another_token_abcdefghijk/getMe")
    malformed = await http.post("/botnot-a-token/getMe")
    unknown = await http.post(f"/bot{TOKEN}/getMeNow")

    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert malformed.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(InvalidToken):
        async with Bot(
            "987654321:AAH-another_token_abcdefghijk", base_url=server.api_url
        ) as stranger:
            await stranger.get_me()


async def test_json_and_urlencoded_bodies_are_both_understood(
    server: BotApiServer, http: httpx.AsyncClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    as_json = await http.post(
        f"/bot{TOKEN}/sendMessage",
        json={"chat_id": USER, "text": "json", "reply_markup": markup},
    )
    as_form = await http.post(
        f"/bot{TOKEN}/sendmessage",
        data={"chat_id": str(GROUP), "text": "form", "reply_markup": '{"inline_keyboard": []}'},
    )

    assert as_json.json()["ok"] is True
    assert as_json.json()["result"]["reply_markup"] == markup
    assert as_form.json()["result"]["chat"] == {
        "id": GROUP,
        "type": "group",
        "title": "Group 4000000001",
    }
    assert [m.text for m in server.sent_messages()] == ["json", "form"]


# -- sending and reading back -----------------------------------------------------------


async def test_send_message_is_stored_with_what_the_bot_asked(
    bot: Bot, server: BotApiServer
) -> None:
    server.add_chat(SUPERGROUP, title="Frontière franco-italienne", is_forum=True)
    topic = server.add_topic(SUPERGROUP, "Menton")
    asked = server.inject_message(SUPERGROUP, "/alert Menton", message_thread_id=topic)
    asked_id = asked["message"]["message_id"]

    sent = await bot.send_message(
        SUPERGROUP,
        "<b>Refoulement</b> à Menton &amp; Vintimille",
        parse_mode="HTML",
        message_thread_id=topic,
        reply_parameters=ReplyParameters(asked_id),
        reply_markup=keyboard("j-y-vais"),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )

    assert sent.text == "Refoulement à Menton & Vintimille"
    assert sent.message_thread_id == topic
    assert sent.is_topic_message
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == asked_id
    assert sent.entities[0].type == "bold"
    [stored] = server.sent_messages(SUPERGROUP)
    assert stored.message_id == sent.message_id == asked_id + 1
    assert stored.raw_text == "<b>Refoulement</b> à Menton &amp; Vintimille"
    assert stored.parse_mode == "HTML"
    assert stored.reply_to_message_id == asked_id
    assert stored.message_thread_id == topic
    assert stored.link_preview_options == {"is_disabled": True}
    assert stored.callback_data() == ["j-y-vais"]


async def test_message_ids_grow_per_chat(bot: Bot, server: BotApiServer) -> None:
    first = await bot.send_message(GROUP, "un")
    second = await bot.send_message(GROUP, "deux")
    elsewhere = await bot.send_message(USER, "ailleurs")

    assert (first.message_id, second.message_id, elsewhere.message_id) == (1, 2, 1)
    assert [m.text for m in server.sent_messages(GROUP)] == ["un", "deux"]


async def test_a_reply_to_a_missing_message_is_refused_unless_allowed(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=said("message to be replied not found")):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(99))

    sent = await bot.send_message(
        USER, "x", reply_parameters=ReplyParameters(99, allow_sending_without_reply=True)
    )
    assert sent.reply_to_message is None


async def test_an_unknown_forum_topic_is_refused(bot: Bot, server: BotApiServer) -> None:
    server.add_chat(SUPERGROUP, is_forum=True)

    with pytest.raises(BadRequest, match=said("message thread not found")):
        await bot.send_message(SUPERGROUP, "x", message_thread_id=12345)


async def test_edit_delete_and_not_modified(bot: Bot, server: BotApiServer) -> None:
    sent = await bot.send_message(GROUP, "Besoin de 2 observateurs", reply_markup=keyboard("a"))

    edited = await bot.edit_message_text("Besoin de 1 observateur", GROUP, sent.message_id)
    with pytest.raises(
        BadRequest, match=mentions("message is not modified: specified new message content")
    ):
        await bot.edit_message_text("Besoin de 1 observateur", GROUP, sent.message_id)
    assert await bot.delete_message(GROUP, sent.message_id)
    with pytest.raises(BadRequest, match=said("message to edit not found")):
        await bot.edit_message_text("trop tard", GROUP, sent.message_id)

    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # editMessageText without a markup removes it
    stored = server.message(GROUP, sent.message_id)
    assert stored.text == "Besoin de 1 observateur"
    assert stored.edits[0]["text"] == "Besoin de 2 observateurs"
    assert stored.deleted


async def test_commands_webhook_chat_and_leave(bot: Bot, server: BotApiServer) -> None:
    await bot.set_my_commands([("alert", "Envoyer une alerte"), ("help", "Aide")])
    await bot.set_webhook("https://example.invalid/hook")
    with pytest.raises(
        Conflict, match=mentions("Conflict: can't use getUpdates method while webhook is active")
    ):
        await bot.get_updates()
    await bot.delete_webhook()
    chat = await bot.get_chat(SUPERGROUP)
    await bot.leave_chat(GROUP)

    assert [c["command"] for c in server.commands()] == ["alert", "help"]
    assert [c.command for c in await bot.get_my_commands()] == ["alert", "help"]
    assert server.webhook == {"url": ""}
    assert chat.type == "supergroup"
    with pytest.raises(Forbidden, match=said("Forbidden: bot is not a member of the group chat")):
        await bot.send_message(GROUP, "encore là ?")
    with pytest.raises(BadRequest, match=said("BOT_COMMAND_INVALID")):
        await bot.set_my_commands([("Alerte!", "non")])


# -- updates ----------------------------------------------------------------------------


async def test_long_polling_wakes_on_an_injected_message(bot: Bot, server: BotApiServer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    polling = asyncio.create_task(bot.get_updates(timeout=5, read_timeout=10))
    await asyncio.sleep(0.1)
    server.inject_message(USER, "/start")

    updates = await polling

    assert loop.time() - started < 2.0
    [update] = updates
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.from_user is not None
    assert update.message.from_user.id == USER


async def test_an_empty_long_poll_returns_after_its_timeout(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()

    updates = await bot.get_updates(timeout=1, read_timeout=5)

    assert updates == ()
    assert 0.9 <= loop.time() - started < 3.0


async def test_an_offset_confirms_and_drops_earlier_updates(bot: Bot, server: BotApiServer) -> None:
    for text in ("un", "deux", "trois"):
        server.inject_message(USER, text)

    first = await bot.get_updates(limit=2)
    again = await bot.get_updates(limit=2)
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    done = await bot.get_updates(offset=rest[-1].update_id + 1)

    assert [u.message.text for u in first if u.message] == ["un", "deux"]
    assert [u.update_id for u in again] == [u.update_id for u in first]  # not confirmed yet
    assert [u.message.text for u in rest if u.message] == ["trois"]
    assert done == ()
    assert server.pending_updates() == []
    assert await server.wait_until_consumed(0.1)


async def test_allowed_updates_filter_what_is_delivered(bot: Bot, server: BotApiServer) -> None:
    server.inject_message(USER, "bonjour")
    server.inject_bot_added(GROUP, user_id=USER, title="Asso Roya")

    updates = await bot.get_updates(allowed_updates=["my_chat_member"])

    [update] = updates
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "member"
    assert update.my_chat_member.chat.title == "Asso Roya"


async def test_a_second_poller_terminates_the_first(bot: Bot, server: BotApiServer) -> None:
    # Two bot processes polling at once, as when an old instance still runs.
    async with make_bot(server) as other_instance:
        first = asyncio.create_task(bot.get_updates(timeout=5, read_timeout=10))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(other_instance.get_updates(timeout=5, read_timeout=10))

        with pytest.raises(
            Conflict, match=mentions("Conflict: terminated by other getUpdates request")
        ):
            await first
        server.inject_message(USER, "ping")
        assert len(await second) == 1


async def test_injected_media_edits_and_service_updates_parse_in_ptb(
    bot: Bot, server: BotApiServer
) -> None:
    said = server.inject_message(GROUP, "vu à Menton", user_id=USER)
    server.inject_edit(GROUP, said["message"]["message_id"], "vu à Vintimille")
    server.inject_location(USER, 43.7764, 7.5048)
    server.inject_sticker(USER)
    server.inject_voice(USER, b"OggS-voice")
    server.inject_document(USER, b"%PDF-1.4", file_name="arrete.pdf")
    server.inject_migration(GROUP, SUPERGROUP)

    updates = await bot.get_updates()

    edited = updates[1].edited_message
    assert edited is not None
    assert edited.text == "vu à Vintimille"
    assert edited.edit_date is not None
    assert updates[2].message is not None
    assert updates[2].message.location is not None
    assert updates[2].message.location.latitude == pytest.approx(43.7764)
    assert updates[3].message is not None
    assert updates[3].message.sticker is not None
    assert updates[4].message is not None
    assert updates[4].message.voice is not None
    document = updates[5].message.document if updates[5].message else None
    assert document is not None
    assert document.file_name == "arrete.pdf"
    assert updates[6].message is not None
    assert updates[6].message.migrate_to_chat_id == SUPERGROUP
    assert updates[7].message is not None
    assert updates[7].message.migrate_from_chat_id == GROUP
    file = await bot.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4"


async def test_a_ptb_application_polls_and_answers_a_command(server: BotApiServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"Bonjour {context.args}")

    application = (
        Application.builder()
        .token(server.token)
        .base_url(server.api_url)
        .base_file_url(server.file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        server.inject_message(USER, "/start Menton")
        [reply] = await server.wait_for_sent(1, chat_id=USER)
        assert await server.wait_until_consumed(5.0)
        await application.updater.stop()
        await application.stop()

    assert reply.text == "Bonjour ['Menton']"
    assert server.counters.requests["deletewebhook"] == 1


# -- buttons ----------------------------------------------------------------------------


async def test_a_button_press_flows_to_the_bot_and_back(bot: Bot, server: BotApiServer) -> None:
    sent = await bot.send_message(GROUP, "Qui y va ?", reply_markup=keyboard("oui", "non"))
    server.inject_callback(GROUP, sent.message_id, "oui", user_id=USER)
    with pytest.raises(ValueError, match="no button"):
        server.inject_callback(GROUP, sent.message_id, "peut-être", user_id=USER)

    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.data == "oui"
    assert query.from_user.id == USER
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    await bot.answer_callback_query(query.id, text="Merci, noté")
    with pytest.raises(
        BadRequest,
        match=said("query is too old and response timeout expired or query ID is invalid"),
    ):
        await bot.answer_callback_query(query.id, text="encore")
    await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=keyboard("fermé"))

    assert server.callback_answers == [
        {
            "callback_query_id": query.id,
            "data": "oui",
            "chat_id": GROUP,
            "message_id": sent.message_id,
            "text": "Merci, noté",
            "show_alert": False,
            "url": None,
            "cache_time": None,
        }
    ]
    assert server.message(GROUP, sent.message_id).callback_data() == ["fermé"]


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=said("BUTTON_DATA_INVALID")):
        await bot.send_message(USER, "x", reply_markup=keyboard("é" * 33))


# -- files ------------------------------------------------------------------------------


async def test_an_uploaded_photo_can_be_fetched_back(bot: Bot, server: BotApiServer) -> None:
    image = png(40, 30)

    sent = await bot.send_photo(GROUP, image, caption="<i>Poste de Menton</i>", parse_mode="HTML")
    again = await bot.send_photo(USER, sent.photo[-1].file_id)
    file = await bot.get_file(sent.photo[-1].file_id)
    downloaded = bytes(await file.download_as_bytearray())

    assert sent.caption == "Poste de Menton"
    assert (sent.photo[-1].width, sent.photo[-1].height) == (40, 30)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    assert downloaded == image
    assert server.file_bytes(sent.photo[-1].file_id) == image
    assert server.sent_messages(GROUP)[0].caption == "Poste de Menton"


async def test_a_users_photo_can_be_downloaded_by_the_bot(bot: Bot, server: BotApiServer) -> None:
    image = png(64, 48)
    server.inject_photo(USER, image, caption="/alert contrôle en gare")

    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.caption == "/alert contrôle en gare"
    photo = update.message.photo[-1]
    file = await bot.get_file(photo.file_id)

    assert (photo.width, photo.height) == (64, 48)
    assert bytes(await file.download_as_bytearray()) == image


async def test_photo_refusals(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=said("IMAGE_PROCESS_FAILED")):
        await bot.send_photo(USER, b"not an image at all")
    with pytest.raises(BadRequest, match=said("wrong file identifier/HTTP URL specified")):
        await bot.send_photo(USER, "AgACunknownfileid")
    with pytest.raises(BadRequest, match=said("message caption is too long")):
        await bot.send_photo(GROUP, png(), caption="x" * 1025)
    with pytest.raises(BadRequest, match=said("invalid file_id")):
        await bot.get_file("nope")


async def test_send_location(bot: Bot, server: BotApiServer) -> None:
    sent = await bot.send_location(USER, latitude=43.0, longitude=7.5)

    assert sent.location is not None
    assert sent.location.longitude == 7.5
    assert server.sent_messages(USER)[0].media["location"] == {"latitude": 43.0, "longitude": 7.5}


# -- the real refusals ------------------------------------------------------------------


async def test_blocked_kicked_and_unknown_chats(bot: Bot, server: BotApiServer) -> None:
    server.set_chat_state(USER, blocked=True)
    server.set_chat_state(GROUP, kicked=True)
    server.set_chat_state(SUPERGROUP, kicked=True)
    server.set_chat_state(-1_009_999_999_999, not_found=True)

    with pytest.raises(Forbidden, match=said("Forbidden: bot was blocked by the user")):
        await bot.send_message(USER, "x")
    with pytest.raises(Forbidden, match=said("Forbidden: bot was kicked from the group chat")):
        await bot.send_message(GROUP, "x")
    with pytest.raises(Forbidden, match=said("Forbidden: bot was kicked from the supergroup chat")):
        await bot.send_message(SUPERGROUP, "x")
    with pytest.raises(BadRequest, match=said("chat not found")):
        await bot.send_message(-1_009_999_999_999, "x")
    assert server.counters.errors[403] == 3
    assert server.counters.per_chat_errors[USER] == 1
    assert server.sent_messages() == []


async def test_unknown_chats_are_not_found_when_not_auto_created() -> None:
    async with BotApiServer(TOKEN, auto_create_chats=False) as strict, make_bot(strict) as bot:
        strict.add_chat(GROUP)
        await bot.send_message(GROUP, "ok")
        with pytest.raises(BadRequest, match=said("chat not found")):
            await bot.send_message(USER, "x")


async def test_the_chat_not_found_envelope(http: httpx.AsyncClient, server: BotApiServer) -> None:
    server.set_chat_state(USER, not_found=True)

    answer = await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": USER, "text": "x"})

    assert answer.status_code == 400
    assert answer.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat not found",
    }


async def test_a_migrated_group_points_to_its_supergroup(
    bot: Bot, server: BotApiServer, http: httpx.AsyncClient
) -> None:
    server.set_chat_state(GROUP, migrate_to=SUPERGROUP)

    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP, "x")
    raw = await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": GROUP, "text": "x"})
    moved = await bot.send_message(migrated.value.new_chat_id, "x")

    assert migrated.value.new_chat_id == SUPERGROUP
    assert raw.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": SUPERGROUP},
    }
    assert moved.chat.type == "supergroup"


async def test_the_length_limit_counts_visible_text_after_entities(
    bot: Bot, server: BotApiServer
) -> None:
    # 5000 characters of HTML whose visible text is 4000: accepted.
    wrapped = "<b></b>" * 141 + "<b>" + "x" * 3998 + "&lt;&gt;" + "</b>"
    assert (len(wrapped), len(parse_html(wrapped).text)) == (5000, 4000)
    padded = "<b></b>" * 143 + "y" * 3999
    assert len(padded) == 5000

    await bot.send_message(USER, wrapped, parse_mode="HTML")
    await bot.send_message(GROUP, padded, parse_mode="HTML")
    await bot.send_message(SUPERGROUP, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match=said("message is too long")):
        await bot.send_message(USER, "<i>" + "x" * 4097 + "</i>", parse_mode="HTML")
    # Outside the BMP a character counts twice, as in UTF-16.
    with pytest.raises(BadRequest, match=said("message is too long")):
        await bot.send_message(GROUP, "🚨" * 2049)

    assert len(server.sent_messages(USER)[0].text or "") == 4000
    assert server.sent_messages(SUPERGROUP)[0].text == "<" * 4096


async def test_html_telegram_refuses_is_refused_with_its_message(
    bot: Bot, http: httpx.AsyncClient
) -> None:
    with pytest.raises(
        BadRequest,
        match=said('can\'t parse entities: Unsupported start tag "foo" at byte offset 6'),
    ):
        await bot.send_message(USER, "Alerte<foo>x</foo>", parse_mode="HTML")
    with pytest.raises(
        BadRequest,
        match=said("can't parse entities: Can't find end tag corresponding to start tag \"b\""),
    ):
        await bot.send_message(USER, "<b>ouvert", parse_mode="HTML")

    answer = await http.post(
        f"/bot{TOKEN}/sendMessage",
        data={"chat_id": USER, "text": "Menton < Vintimille", "parse_mode": "HTML"},
    )
    assert answer.json() == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: can\'t parse entities: Unsupported start tag "" at '
        "byte offset 7",
    }


async def test_a_bare_ampersand_passes_like_on_telegram_unless_strict(bot: Bot) -> None:
    sent = await bot.send_message(USER, "Roya & Menton", parse_mode="HTML")
    assert sent.text == "Roya & Menton"

    async with (
        BotApiServer(TOKEN, strict_ampersand=True) as strict,
        make_bot(strict) as strict_bot,
    ):
        with pytest.raises(
            BadRequest, match=said('can\'t parse entities: Unescaped "&" at byte offset 5')
        ):
            await strict_bot.send_message(USER, "Roya & Menton", parse_mode="HTML")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("привет <br>", 'Unsupported start tag "br" at byte offset 13'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<a href", 'Unclosed start tag "a" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        (
            "<i aba>x</i>",
            'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 0',
        ),
    ],
)
def test_html_errors_match_telegrams(source: str, message: str) -> None:
    with pytest.raises(EntityParseError) as refused:
        parse_html(source)

    assert str(refused.value) == message


def test_html_entities_and_offsets_are_in_utf16() -> None:
    parsed = parse_html(
        '🚨 <b>Alerte</b> <a href="https://ex.org/?a=1&amp;b=2">lien</a> '
        '<pre><code class="language-text">x</code></pre> '
        "<blockquote expandable>q</blockquote> &#x41;&quot;"
    )

    assert parsed.text == '🚨 Alerte lien x q A"'
    assert [dict(e) for e in parsed.entities] == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://ex.org/?a=1&b=2"},
        {"type": "pre", "offset": 15, "length": 1, "language": "text"},
        {"type": "expandable_blockquote", "offset": 17, "length": 1},
    ]


# -- faults -----------------------------------------------------------------------------


async def test_bad_gateway_faults_are_seeded_and_counted(
    bot: Bot, server: BotApiServer, http: httpx.AsyncClient
) -> None:
    server.set_faults(error_ratio=1.0)
    with pytest.raises(NetworkError, match=said("Bad Gateway")):
        await bot.send_message(GROUP, "x")
    raw = await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": GROUP, "text": "x"})
    assert raw.status_code == 502
    assert raw.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    assert (await bot.get_me()).is_bot  # getMe is not among the faulty methods by default

    assert server.counters.server_errors == 2
    assert server.sent_messages() == []

    server.set_limits(enabled=False)

    async def outcomes(seed: int) -> list[int]:
        server.set_faults(error_ratio=0.5, seed=seed)
        return [
            (
                await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": GROUP, "text": "x"})
            ).status_code
            for _ in range(16)
        ]

    first, again = await outcomes(3), await outcomes(3)
    assert first == again
    assert set(first) == {200, 502}


async def test_a_held_request_times_the_client_out_and_is_not_processed(
    server: BotApiServer,
) -> None:
    async with make_bot(server, read_timeout=0.3) as impatient:
        server.set_faults(timeout_ratio=1.0, timeout_seconds=2.0)
        with pytest.raises(TimedOut):
            await impatient.send_message(GROUP, "x")
        server.set_faults()
        await impatient.send_message(GROUP, "y")

    assert server.counters.timeouts == 1
    assert [m.text for m in server.sent_messages()] == ["y"]


# -- flood limits -----------------------------------------------------------------------


async def test_a_private_chat_allows_a_burst_then_429_with_retry_after() -> None:
    clock = FakeClock()
    async with (
        BotApiServer(TOKEN, clock=clock) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):

        async def send() -> httpx.Response:
            return await http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": USER, "text": "x"})

        burst = [(await send()).status_code for _ in range(3)]
        refused = await send()
        clock.advance(1.0)
        after_a_second = await send()

        assert burst == [200, 200, 200]
        assert refused.status_code == 429
        assert refused.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        assert after_a_second.status_code == 200
        assert server.counters.too_many_requests == 1
        assert server.counters.per_chat_429[USER] == 1
        assert server.counters.sends_accepted == 4


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_group_limit_at_a_scaled_rate_is_counted() -> None:
    clock = FakeClock()
    async with (
        BotApiServer(TOKEN, rate_scale=10.0, clock=clock) as server,
        make_bot(server) as bot,
    ):
        for index in range(20):
            await bot.send_message(GROUP, f"message {index}")
            clock.advance(0.1)
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(GROUP, "one too many")
        clock.advance(4.0)  # 60 s / 10 after the first send
        await bot.send_message(GROUP, "a slot freed")

        # The first of the 20 went 2.0 s ago; the window is 60 s / 10 = 6 s.
        assert "Retry in 4 seconds" in flood.value.message
        assert server.counters.too_many_requests == 1
        assert server.counters.max_retry_after == 4
        assert len(server.sent_messages(GROUP)) == 21


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_the_overall_limit_and_switching_limits_off() -> None:
    clock = FakeClock()
    async with BotApiServer(TOKEN, clock=clock, rate_scale=2.0) as server, make_bot(server) as bot:
        for chat in range(30):
            await bot.send_message(USER + chat, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(USER + 99, "x")
        server.set_limits(enabled=False)
        for _ in range(10):
            await bot.send_message(USER, "x")

        assert server.counters.too_many_requests == 1
        assert server.counters.sends_accepted == 40


def test_rate_limit_memory_stays_bounded() -> None:
    clock = FakeClock()
    window = SlidingWindow(20, 60.0)
    for _ in range(2000):
        window.take(clock())
        clock.advance(0.01)
    limiter = RateLimiter(RateLimits(), scale=100.0, clock=clock)
    for chat in range(2000):
        limiter.acquire(-chat - 1)
        clock.advance(0.01)

    assert len(window) == 20
    assert limiter.tracked_chats() < 2000


# -- the control interface over HTTP ----------------------------------------------------


@pytest.mark.usefixtures("server")
async def test_the_control_endpoints_drive_a_bot(bot: Bot, http: httpx.AsyncClient) -> None:
    added = await http.post(
        "/_control/chats", json={"chat_id": SUPERGROUP, "title": "Manche", "is_forum": True}
    )
    topic = await http.post("/_control/topics", json={"chat_id": SUPERGROUP, "name": "Calais"})
    thread = topic.json()["message_thread_id"]
    injected = await http.post(
        "/_control/inject/message",
        json={
            "chat_id": SUPERGROUP,
            "text": "/mobilise Calais",
            "user_id": USER,
            "message_thread_id": thread,
        },
    )
    photo = await http.post(
        "/_control/inject/photo",
        json={"chat_id": USER, "data_base64": base64.b64encode(png()).decode()},
    )
    refused = await http.post("/_control/inject/callback", json={"chat_id": USER})

    updates = await bot.get_updates()
    await bot.send_message(SUPERGROUP, "Reçu", message_thread_id=thread)
    await http.post("/_control/chat_state", json={"chat_id": USER, "blocked": True})
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "x")
    sent = await http.get("/_control/sent", params={"chat_id": SUPERGROUP, "min_count": 1})
    stats = await http.get("/_control/stats")
    chat = await http.get(f"/_control/chats/{USER}")

    assert added.json()["chat"]["is_forum"] is True
    assert injected.json()["update"]["message"]["is_topic_message"] is True
    assert photo.json()["ok"] is True
    assert refused.status_code == 400
    assert updates[0].message is not None
    assert updates[0].message.message_thread_id == thread
    assert updates[1].message is not None
    assert updates[1].message.photo
    [record] = sent.json()["messages"]
    assert (record["text"], record["message_thread_id"]) == ("Reçu", thread)
    assert stats.json()["stats"]["sends_accepted"] == 1
    assert stats.json()["stats"]["errors"] == {"403": 1}
    assert chat.json()["state"]["blocked"] is True


@pytest.mark.usefixtures("server")
async def test_control_faults_limits_and_waiting(bot: Bot, http: httpx.AsyncClient) -> None:
    faults = await http.post("/_control/faults", json={"error_ratio": 1.0, "methods": ["*"]})
    with pytest.raises(NetworkError):
        await bot.get_me()
    await http.post("/_control/faults", json={})
    limits = await http.post("/_control/limits", json={"enabled": False, "rate_scale": 5})
    await http.post("/_control/inject/message", json={"chat_id": USER, "text": "salut"})
    waiting = asyncio.create_task(http.post("/_control/wait_consumed", json={"timeout": 3}))
    await asyncio.sleep(0.05)
    [update] = await bot.get_updates()
    await bot.get_updates(offset=update.update_id + 1)

    assert "getme" in faults.json()["methods"]
    assert limits.json() == {"ok": True, "enabled": False, "rate_scale": 5.0}
    assert (await waiting).json() == {"ok": True, "consumed": True}


async def test_the_standalone_server_prints_its_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.telegram_api",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--rate-scale",
        "10",
        "--no-limits",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        base_url = line.decode().strip()
        async with httpx.AsyncClient(base_url=base_url) as http:
            me = await http.get(f"/bot{TOKEN}/getMe")
            stats = await http.get("/_control/stats")
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert base_url.startswith("http://127.0.0.1:")
    assert me.json()["result"]["id"] == 987654321
    assert stats.json()["stats"]["limits_enabled"] is False
    assert stats.json()["stats"]["rate_scale"] == 10.0
    assert code == 0
