"""Matrix event content both ways, as pure functions (no homeserver needed)."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.messages import Button, OutboundMessage, Paragraph, Span, text_message
from relays.choices import choice_number
from relays.matrix.inbound import (
    RoomView,
    event_kind,
    inbound_message,
    invite_details,
    redacted_event_id,
    strip_reply_fallback,
)
from relays.matrix.outbound import CHOICES_KEY, message_content

ROOM = RoomView("!room:tocsin.test", "group", "Alice")


def event(content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$e1",
        "sender": "@alice:tocsin.test",
        "content": content,
        **extra,
    }


def test_plain_only_has_no_html() -> None:
    message = OutboundMessage((Paragraph((Span("a <b>", "bold"),)),), plain_only=True)
    content = message_content(message)
    assert content == {"msgtype": "m.notice", "body": "a <b>", "m.mentions": {}}


def test_links_keep_safe_schemes_only() -> None:
    message = OutboundMessage(
        (
            Paragraph(
                (
                    Span("décision", "link", "https://www.conseil-etat.fr/x?a=1&b=2"),
                    Span(" "),
                    Span("piège", "link", "javascript:alert(1)"),
                )
            ),
        )
    )
    content = message_content(message)
    assert content["formatted_body"] == (
        '<p><a href="https://www.conseil-etat.fr/x?a=1&amp;b=2">décision</a> piège</p>'
    )
    assert content["body"] == "décision (https://www.conseil-etat.fr/x?a=1&b=2) piège"


def test_buttons_become_a_numbered_list_with_their_data_kept() -> None:
    message = text_message(
        "Qui vient ?", buttons=((Button("Moi", "yes"),), (Button("Pas moi", "no"),))
    )
    content = message_content(message, choice_hint="Répondez avec le numéro")
    assert content["body"] == "Qui vient ?\n\n1. Moi\n2. Pas moi\n\nRépondez avec le numéro"
    assert content["formatted_body"] == (
        "<p>Qui vient ?</p><p>1. <b>Moi</b><br>2. <b>Pas moi</b></p>"
        "<p><i>Répondez avec le numéro</i></p>"
    )
    assert content[CHOICES_KEY] == ["yes", "no"]


def test_an_edit_carries_the_new_content_and_no_reply() -> None:
    content = message_content(text_message("2 réponses"), reply_to="$r", edit_of="$orig")
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert content["m.new_content"] == {
        "msgtype": "m.notice",
        "body": "2 réponses",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p>2 réponses</p>",
        "m.mentions": {},
    }
    assert content["body"] == "* 2 réponses"


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), (" 2. ", 2), ("3)", 3), ("1\ufe0f\u20e3", 1), ("4\u20e3", 4), ("🔟", 10)],
)
def test_choice_numbers(text: str, number: int) -> None:
    assert choice_number(text) == number


@pytest.mark.parametrize("text", ["", "un", "1 2", "123", "!alert 1", "-1"])
def test_not_choice_numbers(text: str) -> None:
    assert choice_number(text) is None


def test_reply_fallback_is_removed() -> None:
    body = "> <@tocsin:tocsin.test> Mobilisation #4\n> deuxième ligne\n\n2"
    assert strip_reply_fallback(body) == "2"
    assert strip_reply_fallback("> citation sans réponse") == ""
    assert strip_reply_fallback("texte\n> pas un en-tête") == "texte\n> pas un en-tête"


def test_event_kinds() -> None:
    assert event_kind(event({"msgtype": "m.text", "body": "x"})) == "message"
    assert event_kind(event({"msgtype": "m.notice", "body": "x"})) == "notice"
    assert event_kind(event({})) == "redacted"
    assert event_kind(event({}, unsigned={"redacted_because": {}})) == "redacted"
    edit = {"msgtype": "m.text", "body": "* x", "m.relates_to": {"rel_type": "m.replace"}}
    assert event_kind(event(edit)) == "edit"
    assert event_kind({"type": "m.room.encrypted", "content": {"algorithm": "x"}}) == "encrypted"
    encryption = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "x"}}
    assert event_kind(encryption) == "encryption_enabled"
    assert event_kind({"type": "m.room.encryption", "content": {}}) == "other"  # not state
    assert event_kind({"type": "m.room.redaction", "content": {}}) == "redaction"
    assert event_kind({"type": "m.room.topic", "content": {"topic": "t"}}) == "other"
    assert event_kind({"type": "m.room.message", "content": "nonsense"}) == "other"


def test_redaction_targets_before_and_after_room_v11() -> None:
    assert redacted_event_id({"type": "m.room.redaction", "redacts": "$a", "content": {}}) == "$a"
    assert redacted_event_id({"type": "m.room.redaction", "content": {"redacts": "$b"}}) == "$b"


def test_malformed_messages_are_tolerated() -> None:
    strange = event({"msgtype": "m.text", "body": 42, "m.relates_to": "x"})
    inbound = inbound_message(strange, ROOM)
    assert inbound is not None
    assert inbound.text == ""
    assert inbound.reply_to is None
    no_sender = event({"msgtype": "m.text", "body": "x"})
    del no_sender["sender"]
    assert inbound_message(no_sender, ROOM) is None
    far = inbound_message(
        event({"msgtype": "m.location", "body": "x", "geo_uri": "geo:91,2"}), ROOM
    )
    assert far is not None
    assert far.location is None
    not_mxc = event({"msgtype": "m.image", "body": "a.jpg", "url": "https://x/a.jpg"})
    image = inbound_message(not_mxc, ROOM)
    assert image is not None
    assert image.attachments == ()


def test_invite_details() -> None:
    state: list[dict[str, Any]] = [
        {"type": "m.room.name", "sender": "@x:t", "content": {"name": "n"}},
        {
            "type": "m.room.member",
            "state_key": "@bot:t",
            "sender": "@alice:t",
            "content": {"membership": "invite", "is_direct": True},
        },
    ]
    assert invite_details(state, "@bot:t") == ("@alice:t", True)
    assert invite_details(state, "@other:t") == ("", False)
