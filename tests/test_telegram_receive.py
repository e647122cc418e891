"""The Telegram relay's receive side against the project's Bot API server, over real HTTP:
updates as neutral messages, the persisted offset across restarts, reconnection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from alerts.clock import ManualClock
from alerts.messages import InboundMessage
from relays.base import BotIdentity
from relays.telegram.relay import TelegramOptions, TelegramRelay
from storage import queries
from storage.database import Database
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "777000222:AAH-tocsin_receive_side_token_abcd"
USER = 5_550_001
OTHER = 5_550_002
GROUP = -4_000_000_001
FORUM = -1_001_234_567_890


class Inbox:
    """A sink that records what it is handed; `block_on` makes it hang (a crash mid-way)."""

    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.block_on: Callable[[InboundMessage], bool] = lambda _: False
        self._changed = asyncio.Condition()

    async def __call__(self, inbound: InboundMessage) -> None:
        if self.block_on(inbound):
            await asyncio.Event().wait()
        async with self._changed:
            self.messages.append(inbound)
            self._changed.notify_all()

    async def wait_for(self, count: int, within: float = 5.0) -> list[InboundMessage]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=5) as running:
        yield running


def new_relay(
    server: BotApiServer,
    database: Database,
    identity: BotIdentity | None = None,
) -> TelegramRelay:
    return TelegramRelay(
        TOKEN,
        options=TelegramOptions(base_url=server.api_url, poll_timeout=1, first_backoff=0.05),
        database=database,
        clock=ManualClock(),
        identity=identity,
    )


async def running(server: BotApiServer, database: Database, inbox: Inbox) -> TelegramRelay:
    relay = new_relay(server, database)
    await relay.start(inbox)
    await asyncio.wait_for(relay.receiving.wait(), 5)
    return relay


# One scenario, read top-down.
async def test_updates_become_neutral_messages(server: BotApiServer, database: Database) -> None:  # noqa: PLR0915
    inbox = Inbox()
    identity = BotIdentity()
    relay = new_relay(server, database, identity)
    server.add_chat(FORUM, is_forum=True)
    topic = server.add_topic(FORUM, "Menton")
    await relay.start(inbox)
    try:
        said = server.inject_message(GROUP, "/alert@tocsin_test_bot vu à Menton", user_id=USER)
        said_id = said["message"]["message_id"]
        server.inject_message(GROUP, "/alert@other_bot hello", user_id=USER)
        server.inject_message(GROUP, "réponse", user_id=OTHER, reply_to_message_id=said_id)
        server.inject_message(FORUM, "/subscribe *", user_id=USER, message_thread_id=topic)
        server.inject_edit(GROUP, said_id, "vu à Vintimille")
        server.inject_location(USER, 43.7764, 7.5048)
        server.inject_sticker(USER)
        server.inject_voice(USER, b"OggS-voice")
        server.inject_document(USER, b"%PDF-1.4", file_name="arrete.pdf")
        server.inject_photo(USER, b"\x89PNG-not-really", caption="/alert contrôle")
        sent = await relay.bot.send_message(USER, "Qui ?", reply_markup=_keyboard("go"))
        server.inject_callback(USER, sent.message_id, "go", user_id=USER)
        server.inject_bot_added(-4_000_000_009, user_id=OTHER, title="Soutien Roya")

        got = await inbox.wait_for(12)
    finally:
        await relay.stop()

    command, other_bot, reply, in_topic, edit, where, sticker, voice, doc, photo, press, joined = (
        got
    )
    names = sorted(identity.names)  # what the relay learnt at getMe, for the router
    assert names == ["tocsin_test_bot"]
    assert (command.chat, command.chat_type, command.sender) == (str(GROUP), "group", str(USER))
    assert command.text == "/alert@tocsin_test_bot vu à Menton"
    assert command.addressed_to_bot
    assert not other_bot.addressed_to_bot
    assert reply.reply_to == str(said_id)
    assert reply.sender == str(OTHER)
    assert in_topic.chat == f"{FORUM}:{topic}"
    assert in_topic.reply_to is None
    assert edit.edited
    assert edit.text == "vu à Vintimille"
    assert edit.message_id == str(said_id)
    assert where.location is not None
    assert where.location.latitude == pytest.approx(43.7764)
    assert where.chat_type == "private"
    assert [a.kind for a in (*sticker.attachments, *voice.attachments, *doc.attachments)] == [
        "sticker",
        "voice",
        "document",
    ]
    assert photo.text == "/alert contrôle"
    assert photo.attachments[0].kind == "photo"
    assert press.button is not None
    assert press.button.data == "go"
    assert press.button.message_id == str(sent.message_id)
    assert [answer["data"] for answer in server.callback_answers] == ["go"]
    assert joined.event == "joined_group"
    assert joined.sender == str(OTHER)
    assert joined.chat == "-4000000009"
    assert joined.text == "Soutien Roya"
    assert len({message.update_id for message in got}) == 12


async def test_a_restart_neither_loses_nor_replays(
    server: BotApiServer, database: Database
) -> None:
    inbox = Inbox()
    relay = await running(server, database, inbox)
    for n in range(3):
        server.inject_message(USER, f"avant {n}")
    await inbox.wait_for(3)
    # The fourth update "crashes" the process mid-handling: it is never confirmed.
    inbox.block_on = lambda inbound: inbound.text == "pendant"
    server.inject_message(USER, "pendant")
    await asyncio.sleep(0.3)
    await relay.stop()
    inbox.block_on = lambda _: False
    server.inject_message(USER, "après")

    again = await running(server, database, inbox)
    try:
        got = await inbox.wait_for(5)
        await asyncio.sleep(0.3)  # anything replayed would arrive now
    finally:
        await again.stop()

    assert [message.text for message in inbox.messages] == [
        "avant 0",
        "avant 1",
        "avant 2",
        "pendant",
        "après",
    ]
    assert len({message.update_id for message in got}) == 5
    async with database.sessions() as session:
        offset = await queries.get_state(session, "telegram.offset:777000222")
    assert offset == str(int(got[-1].update_id) + 1)


async def test_the_stored_offset_confirms_what_was_handled_before(
    server: BotApiServer, database: Database
) -> None:
    """A crash after handling but before PTB confirmed: Telegram still holds the update,
    the stored offset confirms it on restart, so it is not handled twice."""
    first = server.inject_message(USER, "traité")
    server.inject_message(USER, "pas encore")
    async with database.transaction() as session:
        await queries.set_state(
            session,
            "telegram.offset:777000222",
            str(first["update_id"] + 1),
            ManualClock().now(),
        )
    inbox = Inbox()
    relay = await running(server, database, inbox)
    try:
        got = await inbox.wait_for(1)
        await asyncio.sleep(0.3)
    finally:
        await relay.stop()

    assert [message.text for message in got] == ["pas encore"]


async def test_receiving_resumes_after_the_server_comes_back(database: Database) -> None:
    inbox = Inbox()
    server = BotApiServer(TOKEN, limits=False)
    await server.start()
    port = int(server.base_url.rsplit(":", 1)[1])
    relay = await running(server, database, inbox)
    try:
        server.inject_message(USER, "un")
        await inbox.wait_for(1)
        await server.stop()
        await asyncio.sleep(0.5)  # polls fail meanwhile; PTB's loop keeps retrying
        await server.start(port=port)
        server.inject_message(USER, "deux")
        got = await inbox.wait_for(2, within=15)
    finally:
        await relay.stop()
        await server.stop()

    assert [message.text for message in got] == ["un", "deux"]


def _keyboard(*data: str) -> object:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    return InlineKeyboardMarkup([[InlineKeyboardButton(item, callback_data=item) for item in data]])


async def test_webhook_mode_takes_updates_with_the_secret_only(
    server: BotApiServer, database: Database
) -> None:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = TelegramRelay(
        TOKEN,
        options=TelegramOptions(
            base_url=server.api_url,
            mode="webhook",
            webhook_url="https://tocsin.example.org/telegram-hook",
            listen=f"127.0.0.1:{port}",
        ),
        database=database,
        clock=ManualClock(),
    )
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": USER, "type": "private", "first_name": "Ana"},
            "from": {"id": USER, "is_bot": False, "first_name": "Ana"},
            "text": "/alert par webhook",
        },
    }
    await relay.start(inbox)
    try:
        await asyncio.wait_for(relay.receiving.wait(), 5)
        secret = server.webhook["secret_token"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            stranger = await http.post("/telegram-hook", json=update)
            telegram = await http.post(
                "/telegram-hook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
        got = await inbox.wait_for(1)
    finally:
        await relay.stop()

    assert server.webhook["url"] == "https://tocsin.example.org/telegram-hook"
    assert secret
    assert TOKEN.split(":")[1] not in secret
    assert stranger.status_code == 403
    assert telegram.status_code == 200
    assert [message.text for message in got] == ["/alert par webhook"]


class ConcurrencyInbox(Inbox):
    """Records how many updates were being handled at once."""

    def __init__(self) -> None:
        super().__init__()
        self.handling = 0
        self.most_at_once = 0

    async def __call__(self, inbound: InboundMessage) -> None:
        self.handling += 1
        self.most_at_once = max(self.most_at_once, self.handling)
        await asyncio.sleep(0.01)  # a transaction being written
        self.handling -= 1
        await super().__call__(inbound)


async def test_a_fetched_batch_is_handed_over_at_once_in_order(
    server: BotApiServer, database: Database
) -> None:
    """Updates waiting when polling starts come in one getUpdates: the router gets them
    together (so it can write them in one transaction), in order, before they are
    confirmed, each once."""
    injected = [server.inject_message(USER, f"rafale {n}") for n in range(20)]
    inbox = ConcurrencyInbox()
    relay = await running(server, database, inbox)
    try:
        got = await inbox.wait_for(20)
        await asyncio.sleep(0.3)  # anything handed over twice would arrive now
    finally:
        await relay.stop()
    assert [message.text for message in inbox.messages] == [f"rafale {n}" for n in range(20)]
    assert inbox.most_at_once == 20
    async with database.sessions() as session:
        offset = await queries.get_state(session, "telegram.offset:777000222")
    assert offset == str(injected[-1]["update_id"] + 1) == str(int(got[-1].update_id) + 1)
