"""The outbox payload format: every field of a message survives the round trip."""

from __future__ import annotations

import json
from dataclasses import asdict

from alerts.messages import Button, Location, OutboundMessage, Paragraph, PhotoRef, Span


def test_a_message_is_stored_with_every_field_and_read_back_equal() -> None:
    message = OutboundMessage(
        (Paragraph((Span("Menton", "bold", "https://example.org/a?b=1"), Span(" <12> & é"))),),
        buttons=((Button("J'y vais", "go"), Button("Peut-être", "maybe")),),
        photo=PhotoRef("telegram", "AgAD-file-id", 0),
        location=Location(43.7764, 7.5048),
        silent=True,
        plain_only=True,
    )
    # The hand-written serialiser must keep up with the dataclasses' fields.
    assert json.loads(message.to_json()) == json.loads(json.dumps(asdict(message)))
    assert OutboundMessage.from_json(message.to_json()) == message
