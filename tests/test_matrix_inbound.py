"""Captured-shape Matrix events (tests/fixtures/matrix, invented content) read into
neutral inbound messages by `relays.matrix.inbound`, field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alerts.messages import Attachment, Button, OutboundMessage, Paragraph, Span
from relays.choices import answer_of
from relays.matrix.inbound import (
    RoomView,
    event_kind,
    inbound_message,
    reaction_target,
    redaction_message,
)
from relays.matrix.outbound import event_choices, message_content

FIXTURES = Path(__file__).parent / "fixtures" / "matrix"
ROOM = RoomView("!veille:example.org", "group", "Camille")
QUESTION = "$Xq3example_question_0000"


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def test_a_text_command() -> None:
    message = inbound_message(event("text_command"), ROOM)
    assert message is not None
    assert message.platform == "matrix"
    assert message.update_id == message.message_id == "$Xq3example_text_command_0001"
    assert message.chat == "!veille:example.org"
    assert message.chat_type == "group"
    assert message.sender == "@camille:example.org"
    assert message.sender_name == "Camille"
    assert message.text == "!alert Menton-Garavan: contrôle au quai 2"
    assert message.reply_to is None
    assert message.attachments == ()
    assert message.event == "message"


def test_a_reply_loses_its_quoted_fallback() -> None:
    message = inbound_message(event("reply_with_fallback"), RoomView("!dm:example.org", "private"))
    assert message is not None
    assert message.text == "3"
    assert message.reply_to == QUESTION
    assert message.chat_type == "private"
    assert message.sender == "@dominique:example.org"


def test_a_keycap_reaction_names_a_choice_of_the_question() -> None:
    reaction = event("reaction_keycap")
    assert event_kind(reaction) == "reaction"
    assert inbound_message(reaction, ROOM) is None  # not a message: the relay reads it
    assert reaction_target(reaction) == (QUESTION, "2️⃣")
    question = OutboundMessage(
        (Paragraph((Span("Qui vient ?"),)),),
        buttons=((Button("Moi", "come:yes"), Button("Pas moi", "come:no")),),
    )
    choices = event_choices(message_content(question))
    assert answer_of(choices, "2️⃣") == Button("Pas moi", "come:no")


def test_an_image_with_a_caption() -> None:
    message = inbound_message(event("image"), ROOM)
    assert message is not None
    assert message.text == "Fourgon devant la gare"  # the body is a caption: filename differs
    assert message.attachments == (
        Attachment("photo", "mxc://example.org/ExAmPlEmEdIaId0004", "matrix", "image/jpeg", 84211),
    )


def test_an_image_without_a_caption_has_no_text() -> None:
    image = event("image")
    image["content"]["body"] = image["content"]["filename"]
    message = inbound_message(image, ROOM)
    assert message is not None
    assert message.text == ""
    assert len(message.attachments) == 1


def test_a_redaction() -> None:
    redaction = event("redaction")
    assert inbound_message(redaction, ROOM) is None
    message = redaction_message(redaction, ROOM)
    assert message is not None
    assert message.event == "redacted"
    assert message.reply_to == "$Xq3example_text_command_0001"  # the event removed
    assert message.update_id == message.message_id == "$Xq3example_redaction_0005"
    assert message.sender == "@camille:example.org"
    assert message.chat == "!veille:example.org"
    # From room version 11 the target is only in the content.
    del redaction["redacts"]
    later = redaction_message(redaction, ROOM)
    assert later is not None
    assert later.reply_to == "$Xq3example_text_command_0001"
    assert redaction_message(event("text_command"), ROOM) is None
