"""Matrix events as neutral inbound messages, as pure functions over plain JSON.

A timeline event (its JSON, as the homeserver sent it) is classified (`event_kind`) and an
`m.room.message` becomes a neutral `InboundMessage`; redactions and reactions become
`event_message`s. The only nio object read here is an event's `source` (`event_source`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlencode

from alerts.messages import Attachment, InboundMessage, Location
from relays.base import replace_lone_surrogates
from relays.matrix.traits import TRAITS

PLATFORM = TRAITS.name

ChatType = Literal["private", "group"]
Event = Mapping[str, Any]


EventKind = Literal[
    "message",  # m.room.message Tocsin reads
    "edit",  # an m.replace of an earlier message
    "notice",  # m.notice: another bot speaking; bots never answer notices
    "redacted",  # an event whose content was removed before we saw it
    "redaction",  # m.room.redaction of an earlier event
    "encrypted",  # m.room.encrypted: Tocsin holds no keys
    "encryption_enabled",  # m.room.encryption: the room turned end-to-end encrypted
    "reaction",  # m.reaction (an annotation)
    "membership",  # m.room.member
    "other",
]


_BY_TYPE: dict[str, EventKind] = {
    "m.room.encrypted": "encrypted",
    "m.room.redaction": "redaction",
    "m.reaction": "reaction",
    "m.room.member": "membership",
}


def event_kind(event: Mapping[str, Any]) -> EventKind:
    kind = event.get("type")
    content = event.get("content")
    unsigned = event.get("unsigned")
    if isinstance(unsigned, Mapping) and "redacted_because" in unsigned:
        return "redacted" if kind == "m.room.message" else "other"
    if not isinstance(content, Mapping):
        return "other"
    if kind == "m.room.encryption" and event.get("state_key") == "":
        return "encryption_enabled"
    if kind != "m.room.message":
        return _BY_TYPE.get(kind, "other") if isinstance(kind, str) else "other"
    return _message_kind(content)


def _message_kind(content: Mapping[str, Any]) -> EventKind:
    """An `m.room.message`'s content: emptied, an edit, a notice, or a message."""
    if not content:
        return "redacted"
    relation = content.get("m.relates_to")
    if isinstance(relation, Mapping) and relation.get("rel_type") == "m.replace":
        return "edit"
    if content.get("msgtype") == "m.notice":
        return "notice"
    return "message"


def redacted_event_id(event: Mapping[str, Any]) -> str | None:
    """The event an `m.room.redaction` removes (top level before room v11, content after)."""
    content = event.get("content")
    target = content.get("redacts") if isinstance(content, Mapping) else None
    target = target or event.get("redacts")
    return target if isinstance(target, str) else None


def reaction_target(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(event id, key) of an `m.annotation` reaction."""
    content = event.get("content")
    relation = content.get("m.relates_to") if isinstance(content, Mapping) else None
    if not isinstance(relation, Mapping) or relation.get("rel_type") != "m.annotation":
        return None
    target, key = relation.get("event_id"), relation.get("key")
    if isinstance(target, str) and isinstance(key, str):
        return target, key
    return None


def reply_target(content: Mapping[str, Any]) -> str | None:
    relation = content.get("m.relates_to")
    if not isinstance(relation, Mapping):
        return None
    reply = relation.get("m.in_reply_to")
    target = reply.get("event_id") if isinstance(reply, Mapping) else None
    return target if isinstance(target, str) else None


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@user> original" lines clients put before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


_ATTACHMENT_KINDS: dict[str, Literal["photo", "document", "audio", "video"]] = {
    "m.image": "photo",
    "m.file": "document",
    "m.audio": "audio",
    "m.video": "video",
}
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def _location(content: Mapping[str, Any]) -> Location | None:
    match = _GEO.match(str(content.get("geo_uri", "")))
    if not match:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return Location(latitude, longitude)
    return None


def _attachment(content: Mapping[str, Any]) -> Attachment | None:
    kind = _ATTACHMENT_KINDS.get(str(content.get("msgtype")))
    url = content.get("url")
    encrypted = content.get("file")
    if isinstance(encrypted, Mapping):  # an encrypted file: its key travels in the ref
        url = encrypted_file_ref(encrypted)
    if kind is None or not isinstance(url, str) or not url.startswith("mxc://"):
        return None
    info = content.get("info")
    info = info if isinstance(info, Mapping) else {}
    mime_type = info.get("mimetype")
    size = info.get("size")
    return Attachment(
        kind=kind,
        ref=url,
        platform=PLATFORM,
        mime_type=mime_type if isinstance(mime_type, str) else None,
        size=size if isinstance(size, int) else None,
    )


def encrypted_file_ref(file: Mapping[str, Any]) -> str | None:
    """`mxc://…#k=…&iv=…&sha256=…`: an encrypted file's address with what opens it."""
    url, key, hashes = file.get("url"), file.get("key"), file.get("hashes")
    iv = file.get("iv")
    if not isinstance(key, Mapping) or not isinstance(hashes, Mapping):
        return None
    parts = {"k": key.get("k"), "iv": iv, "sha256": hashes.get("sha256")}
    if not isinstance(url, str) or not all(isinstance(v, str) for v in parts.values()):
        return None
    return f"{url}#{urlencode(parts)}"


def split_file_ref(ref: str) -> tuple[str, dict[str, str] | None]:
    """The `mxc://` address and, for an encrypted file, its key, iv and hash."""
    url, _, fragment = ref.partition("#")
    if not fragment:
        return url, None
    parts = dict(parse_qsl(fragment))
    return url, parts if {"k", "iv", "sha256"} <= parts.keys() else None


def _visible_text(content: Mapping[str, Any]) -> str:
    body = content.get("body")
    text = body if isinstance(body, str) else ""
    msgtype = content.get("msgtype")
    if msgtype in _ATTACHMENT_KINDS:
        # Since Matrix 1.10 a media body is a caption when `filename` says the name.
        filename = content.get("filename")
        return text if isinstance(filename, str) and filename != text else ""
    if msgtype == "m.location":
        return ""
    if reply_target(content):
        text = strip_reply_fallback(text)
    return text


@dataclass(frozen=True)
class RoomView:
    """What the relay knows about the room an event came from."""

    room_id: str
    chat_type: ChatType
    sender_name: str | None = None


def inbound_message(event: Mapping[str, Any], room: RoomView) -> InboundMessage | None:
    """A readable `m.room.message` as a neutral message; None for anything else."""
    if event_kind(event) != "message":
        return None
    content = event["content"]
    event_id, sender = event.get("event_id"), event.get("sender")
    if not isinstance(event_id, str) or not isinstance(sender, str):
        return None
    attachment = _attachment(content)
    return event_message(
        room,
        sender,
        event_id,
        text=_visible_text(content),
        reply_to=reply_target(content),
        attachments=(attachment,) if attachment else (),
        location=_location(content) if content.get("msgtype") == "m.location" else None,
    )


def redaction_message(event: Mapping[str, Any], room: RoomView) -> InboundMessage | None:
    """A redaction (naming the event it removes) or an event already redacted, as a
    neutral "redacted" message; None for anything else."""
    kind = event_kind(event)
    event_id, sender = event.get("event_id"), event.get("sender")
    if kind not in ("redaction", "redacted"):
        return None
    if not isinstance(event_id, str) or not isinstance(sender, str):
        return None
    target = redacted_event_id(event) if kind == "redaction" else None
    return event_message(room, sender, event_id, reply_to=target, event="redacted")


def invite_details(invite_state: list[Mapping[str, Any]], own_user_id: str) -> tuple[str, bool]:
    """Who invited us (the sender of our invite membership) and whether it is a DM."""
    for event in invite_state:
        if event.get("type") != "m.room.member" or event.get("state_key") != own_user_id:
            continue
        content = event.get("content")
        if isinstance(content, Mapping) and content.get("membership") == "invite":
            sender = event.get("sender")
            return (sender if isinstance(sender, str) else ""), bool(content.get("is_direct"))
    return "", False


def has_source(event: object) -> bool:
    return isinstance(getattr(event, "source", None), dict)


def event_source(event: Any) -> Event:
    """An event's JSON, every string well formed before the relay reads, queries or
    stores anything of it."""
    return replace_lone_surrogates(cast(Event, event.source))


def event_message(view: RoomView, sender: str, event_id: str, **fields: Any) -> InboundMessage:
    """A neutral message for an event in a room (a message, a redaction, a reaction)."""
    return InboundMessage(
        platform=PLATFORM,
        update_id=event_id,
        chat=view.room_id,
        chat_type=view.chat_type,
        sender=sender,
        sender_name=view.sender_name,
        message_id=event_id,
        **fields,
    )
