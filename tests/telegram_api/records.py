"""The fake Telegram's records: users, chats, files, messages and the counters tests read.

Plain data with their Bot API forms; state.py keeps them, injection.py and methods.py
write them.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .markup import utf16_length

SUPERGROUP_ID_LIMIT = -1_000_000_000_000

# TDLib's bot command pattern: /name (1-64 word characters), optionally @botname.
_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


def infer_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= SUPERGROUP_ID_LIMIT else "group"


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities as Telegram marks them in a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_length(text[: match.start()]),
            "length": utf16_length(match.group()),
        }
        for match in _BOT_COMMAND.finditer(text)
    ]


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image Pillow can read, else None."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image: the caller decides what that means
        return None


@dataclass
class UserRecord:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                user[key] = value
        return user


@dataclass
class ChatRecord:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    # Fault states: what the real server would answer for this chat.
    blocked: bool = False
    deactivated: bool = False
    kicked: bool = False
    left: bool = False
    not_found: bool = False
    migrate_to: int | None = None
    topics: dict[int, str] = field(default_factory=dict)
    last_message_id: int = 0

    def to_api(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or "User"
            for key in ("last_name", "username"):
                value = getattr(self, key)
                if value is not None:
                    chat[key] = value
        else:
            chat["title"] = self.title or f"Chat {abs(self.id)}"
            if self.username is not None:
                chat["username"] = self.username
            if self.is_forum:
                chat["is_forum"] = True
        return chat

    def fault_state(self) -> dict[str, Any]:
        return {
            "blocked": self.blocked,
            "deactivated": self.deactivated,
            "kicked": self.kicked,
            "left": self.left,
            "not_found": self.not_found,
            "migrate_to": self.migrate_to,
        }


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    def file_api(self) -> dict[str, Any]:
        """The File object getFile answers (file_path relative, as the real server)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class StoredMessage:
    """One message of a chat, from the bot or injected as a user's."""

    seq: int
    chat_id: int
    message_id: int
    date: int
    sender: UserRecord
    from_bot: bool
    method: str | None = None
    text: str | None = None
    raw_text: str | None = None
    caption: str | None = None
    raw_caption: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    is_topic_message: bool = False
    link_preview_options: dict[str, Any] | None = None
    media: dict[str, Any] = field(default_factory=dict)
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A JSON-able view for readback (tests, /_control)."""
        return {
            "seq": self.seq,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "date": self.date,
            "from_bot": self.from_bot,
            "sender_id": self.sender.id,
            "method": self.method,
            "text": self.text,
            "raw_text": self.raw_text,
            "caption": self.caption,
            "raw_caption": self.raw_caption,
            "parse_mode": self.parse_mode,
            "entities": self.entities,
            "caption_entities": self.caption_entities,
            "reply_markup": self.reply_markup,
            "reply_to_message_id": self.reply_to_message_id,
            "message_thread_id": self.message_thread_id,
            "link_preview_options": self.link_preview_options,
            "media": self.media,
            "edit_date": self.edit_date,
            "edits": self.edits,
            "deleted": self.deleted,
            "options": self.options,
        }

    def callback_data(self) -> list[str]:
        """Every callback_data of the message's inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            button["callback_data"]
            for row in rows
            for button in row
            if isinstance(button, dict) and "callback_data" in button
        ]


@dataclass
class Counters:
    requests: Counter[str] = field(default_factory=Counter)
    sends_accepted: int = 0
    too_many_requests: int = 0
    server_errors: int = 0
    timeouts: int = 0
    max_retry_after: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    per_chat_sent: Counter[int] = field(default_factory=Counter)
    per_chat_429: Counter[int] = field(default_factory=Counter)
    per_chat_errors: Counter[int] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "sends_accepted": self.sends_accepted,
            "too_many_requests": self.too_many_requests,
            "server_errors": self.server_errors,
            "timeouts": self.timeouts,
            "max_retry_after": self.max_retry_after,
            "errors": {str(code): count for code, count in self.errors.items()},
            "per_chat_sent": {str(chat): count for chat, count in self.per_chat_sent.items()},
            "per_chat_429": {str(chat): count for chat, count in self.per_chat_429.items()},
            "per_chat_errors": {str(chat): count for chat, count in self.per_chat_errors.items()},
        }
