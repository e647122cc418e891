"""Matrix event content, both ways, as pure functions over plain JSON dictionaries.

Outbound: a neutral message becomes an `m.notice` with an `org.matrix.custom.html`
`formatted_body` and a plain `body` (both rendered by `relays.markup`, the only place
user text is escaped), a reply (`m.in_reply_to`) or an edit (`m.replace` + `m.new_content`).
Buttons, which Matrix does not have, become a numbered list (a list of counts stays
unnumbered, see `relays.choices`); the choices' data and labels travel in the event under
`CHOICES_KEY` and `CHOICE_LABELS_KEY`, so an answer can be mapped back after a restart.

Inbound: a timeline event (its JSON, as the homeserver sent it) is classified and an
`m.room.message` becomes a neutral `InboundMessage`. No matrix-nio type appears here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from alerts.messages import (
    Attachment,
    Button,
    InboundMessage,
    Location,
    OutboundMessage,
)
from relays.choices import choices_of, with_numbered_choices
from relays.markup import to_html, to_plain

PLATFORM = "matrix"
HTML_FORMAT = "org.matrix.custom.html"
CHOICES_KEY = "org.tocsin.choices"
# Added later: an event without it (sent before) maps numbers to the n-th choice, as then.
CHOICE_LABELS_KEY = "org.tocsin.choice_labels"
DEFAULT_CHOICE_HINT = (
    "↩️ Répondez à ce message avec le numéro de votre choix (ou réagissez avec 1️⃣, 2️⃣…) · "
    "Reply to this message with the number of your choice (or react with 1️⃣, 2️⃣…)"
)

ChatType = Literal["private", "group"]
Content = dict[str, Any]


# -- outbound -----------------------------------------------------------------------------


def _text_content(message: OutboundMessage, choice_hint: str) -> Content:
    shown = with_numbered_choices(message, choice_hint, counts_by_value=True)
    # `m.mentions: {}` says "this mentions nobody": an "@room" typed in an alert must not
    # ping a whole partner room through the legacy body-matching push rules.
    content: Content = {"msgtype": "m.notice", "body": to_plain(shown), "m.mentions": {}}
    if not message.plain_only:
        html = to_html(shown, newline="<br>", separator="</p><p>")
        content["format"] = HTML_FORMAT
        content["formatted_body"] = f"<p>{html}</p>"
    choices = choices_of(message)
    if choices:
        content[CHOICES_KEY] = [button.data for button in choices]
        content[CHOICE_LABELS_KEY] = [button.label for button in choices]
    return content


def event_choices(content: Mapping[str, Any]) -> tuple[Button, ...]:
    """The choices a question's event content carries. Labels missing (an event sent
    before they were stored) or not matching the data are left empty: numbers then
    name the n-th choice, as they did."""
    data = content.get(CHOICES_KEY)
    if not isinstance(data, list):
        return ()
    labels = content.get(CHOICE_LABELS_KEY)
    if not isinstance(labels, list) or len(labels) != len(data):
        labels = [""] * len(data)
    return tuple(
        Button(label=str(label), data=str(item)) for label, item in zip(labels, data, strict=True)
    )


def message_content(
    message: OutboundMessage,
    *,
    reply_to: str | None = None,
    edit_of: str | None = None,
    choice_hint: str = DEFAULT_CHOICE_HINT,
) -> Content:
    """The `m.room.message` content for one neutral message (one part of a split one)."""
    content = _text_content(message, choice_hint)
    if edit_of:
        edited: Content = {"m.new_content": dict(content)}
        edited["msgtype"] = content["msgtype"]
        edited["body"] = "* " + content["body"]
        if "formatted_body" in content:
            edited["format"] = HTML_FORMAT
            edited["formatted_body"] = "* " + content["formatted_body"]
        edited["m.mentions"] = {}
        edited["m.relates_to"] = {"rel_type": "m.replace", "event_id": edit_of}
        return edited
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def caption_of(message: OutboundMessage) -> str | None:
    photo = message.photo
    if photo is None or photo.caption_paragraph is None:
        return None
    if 0 <= photo.caption_paragraph < len(message.paragraphs):
        return message.paragraphs[photo.caption_paragraph].plain
    return None


def image_content(
    *,
    url: str,
    mime_type: str,
    size: int,
    width: int,
    height: int,
    filename: str,
    caption: str | None = None,
    file_keys: Mapping[str, Any] | None = None,
) -> Content:
    """An `m.image`; with a caption, `body` holds it and `filename` the name (Matrix 1.10).

    With `file_keys` (an encrypted upload's key, iv and hashes) the image is an encrypted
    file: `file` replaces `url`.
    """
    content: Content = {
        "msgtype": "m.image",
        "body": caption or filename,
        "filename": filename,
        "info": {"mimetype": mime_type, "size": size, "w": width, "h": height},
        "m.mentions": {},
    }
    if file_keys is None:
        content["url"] = url
    else:
        content["file"] = {**file_keys, "url": url}
    return content


# -- inbound ------------------------------------------------------------------------------

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


def event_kind(event: Mapping[str, Any]) -> EventKind:
    kind = event.get("type")
    content = event.get("content")
    unsigned = event.get("unsigned")
    if isinstance(unsigned, Mapping) and "redacted_because" in unsigned:
        return "redacted" if kind == "m.room.message" else "other"
    if not isinstance(content, Mapping):
        return "other"
    if kind == "m.room.encrypted":
        return "encrypted"
    if kind == "m.room.encryption" and event.get("state_key") == "":
        return "encryption_enabled"
    if kind == "m.room.redaction":
        return "redaction"
    if kind == "m.reaction":
        return "reaction"
    if kind == "m.room.member":
        return "membership"
    if kind != "m.room.message":
        return "other"
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
    return InboundMessage(
        platform=PLATFORM,
        update_id=event_id,
        chat=room.room_id,
        chat_type=room.chat_type,
        sender=sender,
        sender_name=room.sender_name,
        text=_visible_text(content),
        message_id=event_id,
        reply_to=reply_target(content),
        attachments=(attachment,) if attachment else (),
        location=_location(content) if content.get("msgtype") == "m.location" else None,
    )


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
