"""Captured-shape Bot API updates (tests/fixtures/telegram, invented content) read into
neutral inbound messages by `relays.telegram.inbound`, field by field."""

from __future__ import annotations

import json
from pathlib import Path

from telegram import Update

from alerts.messages import Attachment, ButtonPress, InboundMessage, Location
from relays.telegram.inbound import to_inbound

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
BOT = "tocsin_example_bot"


def update(name: str) -> Update:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    parsed = Update.de_json(data, None)
    assert parsed is not None
    return parsed


def inbound(name: str, bot_username: str | None = BOT) -> InboundMessage:
    message = to_inbound(update(name), bot_username=bot_username)
    assert message is not None
    return message


def test_a_text_command_in_a_private_chat() -> None:
    assert inbound("text_command") == InboundMessage(
        platform="telegram",
        update_id="700100001",
        chat="5550001001",
        chat_type="private",
        sender="5550001001",
        sender_name="Camille Exemple",
        text="/alert Menton-Garavan: contrôle au quai 2",
        message_id="311",
    )


def test_a_group_command_addressed_to_this_bot_or_to_another() -> None:
    ours = inbound("group_command_addressed")
    assert ours.chat == "-1005550002000"
    assert ours.chat_type == "group"
    assert ours.sender == "5550001002"
    assert ours.sender_name == "Dominique"
    assert ours.text == "/subscribe@tocsin_example_bot menton"
    assert ours.addressed_to_bot
    # Another bot's command in the same group is not for us; with no username known yet,
    # nothing says it is someone else's.
    assert not inbound("group_command_addressed", bot_username="other_bot").addressed_to_bot
    assert inbound("group_command_addressed", bot_username=None).addressed_to_bot


def test_a_photo_with_a_caption_replying_to_the_bot() -> None:
    message = inbound("photo_caption")
    assert message.text == "Fourgon devant la gare"
    assert message.reply_to == "310"
    assert message.message_id == "312"
    # The largest size is kept, by its file id.
    assert message.attachments == (
        Attachment("photo", "AgACAgQAAxkBAAIBOGexample-large", "telegram", "image/jpeg", 84211),
    )
    assert message.location is None


def test_a_location() -> None:
    message = inbound("location")
    assert message.location == Location(43.7745, 7.4975)
    assert message.text == ""
    assert message.attachments == ()
    assert message.chat_type == "private"


def test_a_button_press_in_a_forum_topic() -> None:
    message = inbound("callback_query")
    assert message.chat == "-1005550002000:7"  # the topic's address
    assert message.chat_type == "group"
    assert message.sender == "5550001002"
    assert message.text == ""
    assert message.button == ButtonPress("answer:17:2", "4382917300000000042", "1210")
    assert message.update_id == "700100005"


def test_an_edited_message() -> None:
    message = inbound("edited_message")
    assert message.edited
    assert message.text == "Contrôle terminé à Breil"
    assert message.message_id == "1205"
    assert message.chat == "-1005550002000"
    assert not message.forwarded


def test_the_bot_added_to_a_group() -> None:
    message = inbound("my_chat_member")
    assert message.event == "joined_group"
    assert message.chat == "-1005550003000"
    assert message.chat_type == "group"
    assert message.sender == "5550001001"  # who added the bot
    assert message.text == "Permanence Vintimille (exemple)"


def test_the_bot_removed_from_that_group() -> None:
    data = json.loads((FIXTURES / "my_chat_member.json").read_text(encoding="utf-8"))
    change = data["my_chat_member"]
    change["old_chat_member"], change["new_chat_member"] = (
        change["new_chat_member"],
        change["old_chat_member"],
    )
    removed = Update.de_json(data, None)
    assert removed is not None
    message = to_inbound(removed, bot_username=BOT)
    assert message is not None
    assert message.event == "left_group"
