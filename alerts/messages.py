"""The neutral language every platform speaks: inbound messages, rich outbound messages,
delivery results. Relays translate to and from these; nothing else sees an SDK type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

# -- inbound ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A file the sender attached. `ref` is the platform's handle (Telegram file id,
    Matrix mxc:// URI); the relay that owns the platform knows how to fetch it."""

    kind: Literal["photo", "document", "voice", "sticker", "video", "audio", "other"]
    ref: str
    platform: str
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class ButtonPress:
    data: str
    press_id: str  # the platform's id for the press (Telegram callback query id)
    message_id: str | None = None  # the message carrying the button


@dataclass(frozen=True)
class InboundMessage:
    platform: str
    update_id: str  # platform-unique; used to ignore an update seen twice
    chat: str  # chat address, as a channel's `address` would name it
    chat_type: Literal["private", "group"]
    sender: str  # platform user id
    sender_name: str | None = None
    text: str = ""
    message_id: str | None = None
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    button: ButtonPress | None = None
    edited: bool = False
    forwarded: bool = False
    event: Literal[
        "message", "joined_group", "left_group", "undecryptable", "redacted", "keys_missing"
    ] = "message"
    addressed_to_bot: bool = True  # False when a group message names another bot


# -- outbound -----------------------------------------------------------------------------

SpanStyle = Literal["plain", "bold", "italic", "code", "link"]


@dataclass(frozen=True)
class Span:
    text: str
    style: SpanStyle = "plain"
    href: str | None = None


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]

    @property
    def plain(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class PhotoRef:
    platform: str  # where `ref` is valid
    ref: str
    caption_paragraph: int | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """Rich text as paragraphs of styled spans: each relay renders it in its own markup,
    which keeps escaping in one place per format and lets splitting respect paragraphs."""

    paragraphs: tuple[Paragraph, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: PhotoRef | None = None
    location: Location | None = None
    silent: bool = False
    plain_only: bool = False  # set after a platform refused our markup

    @property
    def plain(self) -> str:
        return "\n\n".join(paragraph.plain for paragraph in self.paragraphs)

    def to_json(self) -> str:
        # Written out rather than `dataclasses.asdict`, which deep-copies every value and
        # costs more than the rest of enqueueing a fan-out; the same keys, in field order.
        photo, location = self.photo, self.location
        data = {
            "paragraphs": [
                {"spans": [{"text": s.text, "style": s.style, "href": s.href} for s in p.spans]}
                for p in self.paragraphs
            ],
            "buttons": [[{"label": b.label, "data": b.data} for b in row] for row in self.buttons],
            "photo": None
            if photo is None
            else {
                "platform": photo.platform,
                "ref": photo.ref,
                "caption_paragraph": photo.caption_paragraph,
            },
            "location": None
            if location is None
            else {"latitude": location.latitude, "longitude": location.longitude},
            "silent": self.silent,
            "plain_only": self.plain_only,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> OutboundMessage:
        data: dict[str, Any] = json.loads(text)
        photo = data.get("photo")
        location = data.get("location")
        return cls(
            paragraphs=tuple(
                Paragraph(tuple(Span(**span) for span in paragraph["spans"]))
                for paragraph in data["paragraphs"]
            ),
            buttons=tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", [])),
            photo=PhotoRef(**photo) if photo else None,
            location=Location(**location) if location else None,
            silent=bool(data.get("silent", False)),
            plain_only=bool(data.get("plain_only", False)),
        )


def text_message(*paragraphs: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> OutboundMessage:
    return OutboundMessage(tuple(Paragraph((Span(text),)) for text in paragraphs), buttons)


@dataclass(frozen=True)
class SendContext:
    """What a relay needs beyond the message: idempotency key and thread position."""

    delivery_id: int
    txn_id: str
    reply_to_message_id: str | None = None
    edit_message_id: str | None = None


# -- delivery results ---------------------------------------------------------------------

Outcome = Literal["sent", "retry", "failed", "moved"]


@dataclass(frozen=True)
class DeliveryResult:
    """What a relay reports; the dispatcher decides what follows."""

    outcome: Outcome
    platform_message_id: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    rate_limited: bool = False
    reason: str = ""
    moved_to: str | None = None  # new address (Telegram group upgraded to supergroup)
    channel_gone: bool = False  # blocked, kicked, chat not found: stop sending there
    markup_refused: bool = False  # the platform could not parse our markup: resend plain

    @classmethod
    def sent(cls, platform_message_id: str) -> DeliveryResult:
        return cls("sent", platform_message_id=platform_message_id)

    @classmethod
    def retry(
        cls, reason: str, *, after: float | None = None, rate_limited: bool = False
    ) -> DeliveryResult:
        return cls("retry", retry_after=after, rate_limited=rate_limited, reason=reason)

    @classmethod
    def failed(
        cls, reason: str, *, channel_gone: bool = False, markup_refused: bool = False
    ) -> DeliveryResult:
        return cls(
            "failed", reason=reason, channel_gone=channel_gone, markup_refused=markup_refused
        )

    @classmethod
    def moved(cls, new_address: str, reason: str = "chat migrated") -> DeliveryResult:
        return cls("moved", moved_to=new_address, reason=reason)


__all__ = [
    "Attachment",
    "Button",
    "ButtonPress",
    "DeliveryResult",
    "InboundMessage",
    "Location",
    "OutboundMessage",
    "Paragraph",
    "PhotoRef",
    "SendContext",
    "Span",
    "text_message",
]
