"""Neutral outbound messages as Matrix event content (plain JSON dictionaries).

A neutral message becomes an `m.notice` with an `org.matrix.custom.html` `formatted_body`
and a plain `body` (both rendered by `relays.markup`, the only place user text is
escaped), a reply (`m.in_reply_to`) or an edit (`m.replace` + `m.new_content`). Buttons,
which Matrix does not have, become a numbered list (a list of counts stays unnumbered, see
`relays.choices`); the choices' data and labels travel in the event under `CHOICES_KEY` and
`CHOICE_LABELS_KEY`, so an answer can be mapped back after a restart (`event_choices`).
No matrix-nio type appears here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.messages import Button, OutboundMessage
from relays.choices import choices_of, with_numbered_choices
from relays.markup import to_html, to_plain

HTML_FORMAT = "org.matrix.custom.html"
CHOICES_KEY = "org.tocsin.choices"
# Added later: an event without it (sent before) maps numbers to the n-th choice, as then.
CHOICE_LABELS_KEY = "org.tocsin.choice_labels"
DEFAULT_CHOICE_HINT = (
    "↩️ Répondez à ce message avec le numéro de votre choix (ou réagissez avec 1️⃣, 2️⃣…) · "
    "Reply to this message with the number of your choice (or react with 1️⃣, 2️⃣…)"
)

Content = dict[str, Any]


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
