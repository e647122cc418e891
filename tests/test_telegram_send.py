"""The Telegram relay's send side against the project's Bot API server, over real HTTP:
rendering, keyboards, replies, edits, topics, photos, and every refusal as a result."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from telegram.error import BadRequest

from alerts.messages import (
    Button,
    Location,
    OutboundMessage,
    Paragraph,
    PhotoRef,
    SendContext,
    Span,
    text_message,
)
from relays.images import PhotoSource
from relays.telegram.outbound import ChatAddress
from relays.telegram.relay import TelegramOptions, TelegramRelay
from tests.telegram_api import BotApiServer

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "777000111:AAH-tocsin_send_side_token_abcdefg"
USER = 5_550_001
GROUP = -4_000_000_001
SUPERGROUP = -1_001_234_567_890


def context(delivery_id: int = 1, **fields: str | None) -> SendContext:
    return SendContext(delivery_id, f"txn-{delivery_id}", **fields)  # type: ignore[arg-type]


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (30, 20), (10, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {2: (43.0, 46.0, 35.0), 1: "N"}  # GPSInfo
    exif[0x0110] = "PhoneModel-X"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(TOKEN, limits=False, seed=3) as running:
        yield running


@pytest.fixture
def photos() -> dict[str, PhotoSource]:
    """The other platforms' photo downloads the relay is given (a test adds its own)."""
    return {}


@pytest.fixture
async def relay(
    server: BotApiServer, photos: dict[str, PhotoSource]
) -> AsyncIterator[TelegramRelay]:
    relay = TelegramRelay(
        TOKEN, options=TelegramOptions(base_url=server.api_url), photo_sources=photos
    )
    await relay.start(None)
    try:
        yield relay
    finally:
        await relay.stop()


async def test_start_learns_the_bot_and_chat_classes(relay: TelegramRelay) -> None:
    assert relay.username == "tocsin_test_bot"
    assert relay.chat_class(str(USER)) == "private"
    assert relay.chat_class(str(GROUP)) == "group"
    assert relay.chat_class(f"{SUPERGROUP}:7") == "group"
    assert relay.chat_class("@public_channel") == "group"
    assert TOKEN not in repr(relay)


def test_addresses_parse_with_and_without_a_topic() -> None:
    assert ChatAddress.parse("-100123:45") == ChatAddress(-100123, 45)
    assert ChatAddress.parse("42") == ChatAddress(42)
    assert str(ChatAddress.parse("-100123:45")) == "-100123:45"
    with pytest.raises(ValueError, match="not a Telegram chat address"):
        ChatAddress.parse("!room:example.org")


async def test_html_is_escaped_verbatim_with_keyboard_and_reply(
    relay: TelegramRelay, server: BotApiServer
) -> None:
    asked = server.inject_message(GROUP, "/alert x", user_id=USER)
    hostile = "<script>alert(1)</script> & <b>unbalanced <i>"
    message = OutboundMessage(
        (Paragraph((Span("Alerte", "bold"),)), Paragraph((Span(hostile),))),
        buttons=((Button("J'y vais", "go:1"), Button("Non", "no:1")),),
    )

    result = await relay.send(
        str(GROUP),
        message,
        context(reply_to_message_id=str(asked["message"]["message_id"])),
    )

    assert result.outcome == "sent"
    [stored] = server.sent_messages(GROUP)
    assert str(stored.message_id) == result.platform_message_id
    assert stored.text == f"Alerte\n\n{hostile}"
    assert stored.parse_mode == "HTML"
    assert stored.callback_data() == ["go:1", "no:1"]
    assert stored.reply_to_message_id == asked["message"]["message_id"]
    assert stored.link_preview_options == {"is_disabled": True}


async def test_plain_only_is_sent_without_parse_mode(
    relay: TelegramRelay, server: BotApiServer
) -> None:
    message = OutboundMessage((Paragraph((Span("<b>tel quel</b>", "bold"),)),), plain_only=True)

    assert (await relay.send(str(USER), message, context())).outcome == "sent"

    [stored] = server.sent_messages(USER)
    assert stored.parse_mode is None
    assert stored.text == "<b>tel quel</b>"


async def test_a_forum_topic_address_posts_into_the_topic(
    relay: TelegramRelay, server: BotApiServer
) -> None:
    server.add_chat(SUPERGROUP, title="Réseau", is_forum=True)
    topic = server.add_topic(SUPERGROUP, "Menton")

    result = await relay.send(f"{SUPERGROUP}:{topic}", text_message("dans le fil"), context())

    assert result.outcome == "sent"
    [stored] = server.sent_messages(SUPERGROUP)
    assert stored.message_thread_id == topic


async def test_an_edit_changes_the_sent_message(relay: TelegramRelay, server: BotApiServer) -> None:
    first = await relay.send(str(GROUP), text_message("version 1"), context(1))
    assert first.platform_message_id is not None

    edited = await relay.send(
        str(GROUP),
        text_message("version 2 <corrigée>"),
        context(2, edit_message_id=first.platform_message_id),
    )
    same = await relay.send(
        str(GROUP),
        text_message("version 2 <corrigée>"),
        context(3, edit_message_id=first.platform_message_id),
    )

    assert edited == same
    assert edited.platform_message_id == first.platform_message_id
    [stored] = server.sent_messages(GROUP)
    assert stored.text == "version 2 <corrigée>"


async def test_photos_by_file_id_with_caption_or_before_long_text(
    relay: TelegramRelay, server: BotApiServer
) -> None:
    server.inject_photo(USER, jpeg_with_gps(), caption="vu")
    [update] = await relay.bot.get_updates()
    assert update.message is not None
    file_id = update.message.photo[-1].file_id

    short = OutboundMessage(
        (Paragraph((Span("Court", "bold"),)),), photo=PhotoRef("telegram", file_id)
    )
    long = OutboundMessage((Paragraph((Span("x" * 2000),)),), photo=PhotoRef("telegram", file_id))
    with_caption = await relay.send(str(GROUP), short, context(1))
    with_text = await relay.send(str(GROUP), long, context(2))

    assert with_caption.outcome == with_text.outcome == "sent"
    captioned, photo, text = server.sent_messages(GROUP)
    assert captioned.caption == "Court"
    assert captioned.media["photo"]
    assert photo.caption is None
    assert photo.media["photo"]
    assert text.text == "x" * 2000
    assert text.reply_to_message_id == photo.message_id
    assert with_text.platform_message_id == str(text.message_id)


async def test_a_photo_from_another_platform_is_stripped_before_upload(
    relay: TelegramRelay, server: BotApiServer, photos: dict[str, PhotoSource]
) -> None:
    original = jpeg_with_gps()

    async def from_matrix(ref: str) -> bytes:
        assert ref == "mxc://example.org/abc"
        return original

    photos["matrix"] = from_matrix
    message = OutboundMessage(
        (Paragraph((Span("photo"),)),), photo=PhotoRef("matrix", "mxc://example.org/abc")
    )

    assert (await relay.send(str(GROUP), message, context())).outcome == "sent"

    [stored] = server.sent_messages(GROUP)
    uploaded = await relay.fetch_photo(stored.media["photo"][-1]["file_id"])
    assert uploaded != original
    with Image.open(io.BytesIO(uploaded)) as image:
        assert not image.getexif()
        assert image.size == (30, 20)


async def test_a_location_pin_follows_the_text(relay: TelegramRelay, server: BotApiServer) -> None:
    message = OutboundMessage(
        (Paragraph((Span("Position partagée"),)),), location=Location(43.77, 7.5)
    )

    result = await relay.send(str(GROUP), message, context())

    text, pin = server.sent_messages(GROUP)
    assert result.platform_message_id == str(text.message_id)
    assert pin.media["location"] == {"latitude": 43.77, "longitude": 7.5}
    assert pin.reply_to_message_id == text.message_id


async def test_refusals_become_delivery_results(relay: TelegramRelay, server: BotApiServer) -> None:
    server.set_chat_state(USER, blocked=True)
    server.set_chat_state(GROUP, kicked=True)
    server.set_chat_state(-1_009_999_999_999, not_found=True)
    server.set_chat_state(-4_000_000_002, migrate_to=-1_004_000_000_002)

    blocked = await relay.send(str(USER), text_message("x"), context())
    kicked = await relay.send(str(GROUP), text_message("x"), context())
    missing = await relay.send("-1009999999999", text_message("x"), context())
    migrated = await relay.send("-4000000002", text_message("x"), context())

    assert blocked.outcome == kicked.outcome == missing.outcome == "failed"
    assert blocked.channel_gone
    assert kicked.channel_gone
    assert missing.channel_gone
    assert "blocked" in blocked.reason
    assert migrated.outcome == "moved"
    assert migrated.moved_to == "-1004000000002"


async def test_a_deleted_forum_topic_is_a_gone_channel(
    relay: TelegramRelay, server: BotApiServer
) -> None:
    server.add_chat(SUPERGROUP, is_forum=True)

    gone_topic = await relay.send(f"{SUPERGROUP}:999", text_message("x"), context())

    assert gone_topic.outcome == "failed"
    assert gone_topic.channel_gone


def test_refused_markup_asks_for_a_plain_resend() -> None:
    # to_html cannot produce markup Telegram refuses, so the mapping is checked alone.
    error = BadRequest('Can\'t parse entities: unsupported start tag "blink" at byte offset 0')

    result = TelegramRelay._result_of(error, context())

    assert result.outcome == "failed"
    assert result.markup_refused
    assert not result.channel_gone


async def test_429_is_reported_with_its_retry_after() -> None:
    async with BotApiServer(TOKEN, seed=1) as limited:
        relay = TelegramRelay(TOKEN, options=TelegramOptions(base_url=limited.api_url))
        await relay.start(None)
        try:
            results = [
                await relay.send(str(USER), text_message(f"n{n}"), context(n)) for n in range(8)
            ]
        finally:
            await relay.stop()

    refused = [result for result in results if result.outcome == "retry"]
    assert refused, "the private-chat limit should answer 429 within 8 immediate sends"
    assert all(result.rate_limited and (result.retry_after or 0) > 0 for result in refused)


async def test_server_errors_and_a_dead_server_are_retryable(server: BotApiServer) -> None:
    relay = TelegramRelay(TOKEN, options=TelegramOptions(base_url=server.api_url))
    await relay.start(None)
    try:
        server.set_faults(error_ratio=1.0, seed=1)
        bad_gateway = await relay.send(str(USER), text_message("x"), context())
        server.set_faults(error_ratio=0.0)
        await server.stop()
        unreachable = await relay.send(str(USER), text_message("x"), context())
    finally:
        await relay.stop()

    assert bad_gateway.outcome == "retry"
    assert not bad_gateway.rate_limited
    assert unreachable.outcome == "retry"


async def test_a_photo_source_failing_for_now_is_a_retry(
    relay: TelegramRelay, photos: dict[str, PhotoSource]
) -> None:
    async def unreachable(_ref: str) -> bytes:
        raise ConnectionError("homeserver down")

    photos["matrix"] = unreachable
    message = OutboundMessage(
        (Paragraph((Span("photo"),)),), photo=PhotoRef("matrix", "mxc://example.org/abc")
    )

    result = await relay.send(str(GROUP), message, context())

    assert result.outcome == "retry"
    assert "matrix photo not fetched" in result.reason
