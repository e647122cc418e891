"""What the fake Telegram remembers: users, chats, messages, files, pending updates.

Everything here is synchronous and must be used from the event loop thread that runs
the server (a test's own loop); another process drives it over ``/_control``.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .markup import utf16_length

SUPERGROUP_ID_LIMIT = -1_000_000_000_000
DEFAULT_USER_ID = 1_000_001
UPDATE_TYPES_OFF_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)

# TDLib's bot command pattern: /name (1-64 word characters), optionally @botname.
_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_FILE_PREFIX = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}
_FILE_FOLDER = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
_FILE_EXTENSION = {"photo": "jpg", "document": "bin", "voice": "oga", "sticker": "webp"}


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


class TelegramState:
    """The fake Telegram's memory, and the injection/readback API built on it."""

    def __init__(
        self,
        bot: UserRecord,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self._wall_clock = wall_clock
        self.users: dict[int, UserRecord] = {bot.id: bot}
        self.chats: dict[int, ChatRecord] = {}
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.sent: list[StoredMessage] = []
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.updates: deque[dict[str, Any]] = deque()
        self.next_update_id = 500_000_001
        self.allowed_updates: frozenset[str] | None = None
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.counters = Counters()
        self._seq = itertools.count(1)
        self._file_numbers = itertools.count(1)
        self._waiters: list[asyncio.Future[None]] = []

    # -- time and change notification -------------------------------------------------

    def date(self) -> int:
        return int(self._wall_clock())

    def notify(self) -> None:
        """Wake whoever waits for new updates, sends or confirmations."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_change(self, seconds: float) -> None:
        """Return on the next notify() or after that many seconds."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), seconds)
        except TimeoutError:
            pass
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not predicate():
            left = deadline - loop.time()
            if left <= 0:
                return False
            await self.wait_change(min(left, 0.5))
        return True

    # -- users and chats ---------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "fr",
    ) -> UserRecord:
        if user_id <= 0:
            raise ValueError("a user id is positive")
        user = UserRecord(user_id, first_name, username, last_name, language_code)
        self.users[user_id] = user
        chat = self.chats.get(user_id)
        if chat is not None:
            chat.first_name, chat.last_name, chat.username = first_name, last_name, username
        return user

    def user(self, user_id: int) -> UserRecord:
        user = self.users.get(user_id)
        if user is None:
            user = self.add_user(user_id, f"User{user_id}")
        return user

    def add_chat(
        self,
        chat_id: int,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> ChatRecord:
        chat_type = type or infer_chat_type(chat_id)
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        if (chat_type == "private") != (chat_id > 0):
            raise ValueError("private chats have positive ids, groups and channels negative")
        if is_forum and chat_type != "supergroup":
            raise ValueError("only a supergroup can be a forum")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = ChatRecord(chat_id, chat_type)
            self.chats[chat_id] = chat
            self.messages[chat_id] = {}
        chat.type = chat_type
        chat.is_forum = is_forum or chat.is_forum
        if chat_type == "private":
            user = self.user(chat_id)
            chat.first_name, chat.last_name = user.first_name, user.last_name
            chat.username = username or user.username
        else:
            chat.title = title or chat.title or f"Group {abs(chat_id)}"
            chat.username = username or chat.username
        return chat

    def chat(self, chat_id: int) -> ChatRecord:
        """The chat, created with defaults from its id if unknown."""
        return self.chats.get(chat_id) or self.add_chat(chat_id)

    def chat_by_username(self, username: str) -> ChatRecord | None:
        wanted = username.removeprefix("@").lower()
        for chat in self.chats.values():
            if chat.username and chat.username.lower() == wanted:
                return chat
        return None

    def add_topic(self, chat_id: int, name: str, *, creator_id: int | None = None) -> int:
        """Create a forum topic; its thread id is the id of its creation message."""
        chat = self.chat(chat_id)
        if chat.type != "supergroup":
            raise ValueError("forum topics live in supergroups")
        chat.is_forum = True
        creator = self.user(creator_id or DEFAULT_USER_ID)
        message = self.new_message(chat, creator, from_bot=False)
        message.media["forum_topic_created"] = {"name": name, "icon_color": 7322096}
        message.message_thread_id = message.message_id
        message.is_topic_message = True
        chat.topics[message.message_id] = name
        return message.message_id

    def set_chat_state(
        self,
        chat_id: int,
        *,
        blocked: bool | None = None,
        deactivated: bool | None = None,
        kicked: bool | None = None,
        left: bool | None = None,
        not_found: bool | None = None,
        migrate_to: int | None = None,
    ) -> ChatRecord:
        """Change what the server answers for a chat; None leaves a state as it is.

        ``migrate_to=<supergroup id>`` upgrades a group (its old id then answers the
        migrate error, the new id works); ``migrate_to=0`` undoes it.
        """
        chat = self.chat(chat_id)
        if (blocked or deactivated) and chat.type != "private":
            raise ValueError("only a private chat can block the bot or be deactivated")
        if (kicked or left) and chat.type == "private":
            raise ValueError("the bot is kicked from or leaves groups, not private chats")
        for name, value in (
            ("blocked", blocked),
            ("deactivated", deactivated),
            ("kicked", kicked),
            ("left", left),
            ("not_found", not_found),
        ):
            if value is not None:
                setattr(chat, name, value)
        if migrate_to is not None:
            if migrate_to == 0:
                chat.migrate_to = None
            else:
                if chat.type != "group" or migrate_to > SUPERGROUP_ID_LIMIT:
                    raise ValueError("a group (not super) migrates to a -100… supergroup id")
                self.add_chat(migrate_to, type="supergroup", title=chat.title)
                chat.migrate_to = migrate_to
        return chat

    # -- messages ----------------------------------------------------------------------

    def new_message(
        self, chat: ChatRecord, sender: UserRecord, *, from_bot: bool, method: str | None = None
    ) -> StoredMessage:
        chat.last_message_id += 1
        message = StoredMessage(
            seq=next(self._seq),
            chat_id=chat.id,
            message_id=chat.last_message_id,
            date=self.date(),
            sender=sender,
            from_bot=from_bot,
            method=method,
        )
        self.messages.setdefault(chat.id, {})[message.message_id] = message
        if from_bot:
            self.sent.append(message)
        return message

    def find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            return None
        return message

    def message_api(self, message: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        """The Bot API Message object for a stored message."""
        chat = self.chat(message.chat_id)
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": message.sender.to_api(),
            "chat": chat.to_api(),
            "date": message.date,
        }
        if message.message_thread_id is not None:
            body["message_thread_id"] = message.message_thread_id
            if message.is_topic_message:
                body["is_topic_message"] = True
        if with_reply and message.reply_to_message_id is not None:
            replied = self.messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            if replied is not None:
                body["reply_to_message"] = self.message_api(replied, with_reply=False)
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        body.update(_content_api(message))
        return body

    # -- files -------------------------------------------------------------------------

    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> StoredFile:
        number = next(self._file_numbers)
        extension = _FILE_EXTENSION[kind]
        if file_name and "." in file_name:
            extension = file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=_FILE_PREFIX[kind] + secrets.token_urlsafe(40),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            file_path=f"{_FILE_FOLDER[kind]}/file_{number}.{extension}",
            mime_type=mime_type,
            file_name=file_name,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": stored.width or 0,
                "height": stored.height or 0,
                "file_size": len(stored.data),
            }
        ]

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    # -- updates -----------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self.notify()
        return update

    def confirm_updates(self, offset: int) -> None:
        """getUpdates' offset: forget updates before it; a negative one keeps the last -N."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
        else:
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
        self.notify()

    def take_updates(self, limit: int) -> list[dict[str, Any]]:
        """Up to limit pending updates of allowed types; others are dropped for good."""
        allowed = self.allowed_updates
        kept: deque[dict[str, Any]] = deque()
        for update in self.updates:
            kind = next(key for key in update if key != "update_id")
            wanted = (
                kind in allowed
                if allowed is not None
                else (kind not in UPDATE_TYPES_OFF_BY_DEFAULT)
            )
            if wanted:
                kept.append(update)
        self.updates = kept
        return list(itertools.islice(kept, limit))

    # -- injection: what users do --------------------------------------------------------

    def _sender_for(self, chat: ChatRecord, user_id: int | None) -> UserRecord:
        if chat.type == "private":
            if user_id not in (None, chat.id):
                raise ValueError("in a private chat the sender is the chat's user")
            return self.user(chat.id)
        return self.user(user_id or DEFAULT_USER_ID)

    def _user_message(
        self,
        chat_id: int,
        user_id: int | None,
        message_thread_id: int | None,
        reply_to_message_id: int | None,
    ) -> StoredMessage:
        chat = self.chat(chat_id)
        sender = self._sender_for(chat, user_id)
        if reply_to_message_id is not None and (
            self.find_message(chat_id, reply_to_message_id) is None
        ):
            raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
        message = self.new_message(chat, sender, from_bot=False)
        message.reply_to_message_id = reply_to_message_id
        if message_thread_id is not None:
            if chat.type != "supergroup":
                raise ValueError("threads exist in supergroups only")
            message.message_thread_id = message_thread_id
            if chat.is_forum:
                chat.topics.setdefault(message_thread_id, f"Topic {message_thread_id}")
                message.is_topic_message = True
        return message

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user's text message (commands get their bot_command entities)."""
        if not text:
            raise ValueError("a text message has text")
        message = self._user_message(chat_id, user_id, message_thread_id, reply_to_message_id)
        message.text = message.raw_text = text
        message.entities = entities if entities is not None else command_entities(text)
        return self.queue_update("message", self.message_api(message))

    def inject_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        user_id: int | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user's photo; its bytes are served through getFile and the file URL."""
        message = self._user_message(chat_id, user_id, message_thread_id, reply_to_message_id)
        stored = self.store_file("photo", data, mime_type="image/jpeg", size=image_size(data))
        message.media["photo"] = self.photo_sizes(stored)
        if caption:
            message.caption = message.raw_caption = caption
            message.caption_entities = command_entities(caption)
        return self.queue_update("message", self.message_api(message))

    def inject_location(
        self,
        chat_id: int,
        latitude: float,
        longitude: float,
        *,
        user_id: int | None = None,
        message_thread_id: int | None = None,
        horizontal_accuracy: float | None = None,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, message_thread_id, None)
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        message.media["location"] = location
        return self.queue_update("message", self.message_api(message))

    def inject_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        data: bytes = b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        user_id: int | None = None,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, None, None)
        stored = self.store_file("sticker", data, mime_type="image/webp", size=(512, 512))
        message.media["sticker"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(data),
        }
        return self.queue_update("message", self.message_api(message))

    def inject_voice(
        self,
        chat_id: int,
        data: bytes,
        *,
        duration: int = 1,
        user_id: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, None, None)
        stored = self.store_file("voice", data, mime_type="audio/ogg")
        message.media["voice"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        if caption:
            message.caption = message.raw_caption = caption
        return self.queue_update("message", self.message_api(message))

    def inject_document(
        self,
        chat_id: int,
        data: bytes,
        *,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, None, None)
        stored = self.store_file("document", data, mime_type=mime_type, file_name=file_name)
        message.media["document"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        if caption:
            message.caption = message.raw_caption = caption
        return self.queue_update("message", self.message_api(message))

    def inject_edit(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """A user edits the text of one of their messages: an edited_message update."""
        message = self.find_message(chat_id, message_id)
        if message is None or message.from_bot or message.text is None:
            raise ValueError(f"no user text message {message_id} in chat {chat_id}")
        message.edits.append({"text": message.text, "edit_date": message.edit_date})
        message.text = message.raw_text = text
        message.entities = command_entities(text)
        message.edit_date = self.date()
        return self.queue_update("edited_message", self.message_api(message))

    def inject_callback(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """A user presses the inline button carrying ``data`` on a bot's message."""
        chat = self.chat(chat_id)
        message = self.find_message(chat_id, message_id)
        if message is None or not message.from_bot:
            raise ValueError(f"no bot message {message_id} in chat {chat_id}")
        if data not in message.callback_data():
            raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        sender = self._sender_for(chat, user_id)
        query_id = str(secrets.randbits(63))
        query = {
            "id": query_id,
            "from": sender.to_api(),
            "message": self.message_api(message),
            "chat_instance": str(abs(chat_id) * 2_654_435_761 % 10**19),
            "data": data,
        }
        self.callback_queries[query_id] = query
        return self.queue_update("callback_query", query)

    def _bot_member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot.to_api(), "status": status}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": False,
                    "can_restrict_members": False,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                }
            )
        return member

    def inject_bot_added(
        self,
        chat_id: int,
        *,
        user_id: int | None = None,
        status: str = "member",
        title: str | None = None,
        type: str | None = None,
        is_forum: bool = False,
    ) -> dict[str, Any]:
        """A user adds the bot to a group: a my_chat_member update (left → status)."""
        if status not in ("member", "administrator"):
            raise ValueError("the bot is added as member or administrator")
        if chat_id > 0:
            raise ValueError("the bot is added to groups, supergroups or channels")
        chat = self.add_chat(chat_id, type=type, title=title, is_forum=is_forum)
        chat.kicked = chat.left = False
        return self._my_chat_member(chat, user_id, "left", status)

    def inject_bot_removed(
        self, chat_id: int, *, user_id: int | None = None, status: str = "kicked"
    ) -> dict[str, Any]:
        """The bot is removed from a group (kicked) or blocked in a private chat."""
        chat = self.chat(chat_id)
        if chat.type == "private":
            chat.blocked = True
            return self._my_chat_member(chat, chat.id, "member", "kicked")
        if status not in ("kicked", "left"):
            raise ValueError("a removed bot is kicked or left")
        chat.kicked = status == "kicked"
        chat.left = status == "left"
        return self._my_chat_member(chat, user_id, "member", status)

    def _my_chat_member(
        self, chat: ChatRecord, user_id: int | None, old: str, new: str
    ) -> dict[str, Any]:
        actor = self.user(user_id or (chat.id if chat.type == "private" else DEFAULT_USER_ID))
        return self.queue_update(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": actor.to_api(),
                "date": self.date(),
                "old_chat_member": self._bot_member(old),
                "new_chat_member": self._bot_member(new),
            },
        )

    def inject_migration(
        self, chat_id: int, new_chat_id: int, *, user_id: int | None = None
    ) -> list[dict[str, Any]]:
        """A group becomes a supergroup: the two service messages, and the migrate state."""
        chat = self.set_chat_state(chat_id, migrate_to=new_chat_id)
        new_chat = self.chat(new_chat_id)
        actor = self.user(user_id or DEFAULT_USER_ID)
        old_message = self.new_message(chat, actor, from_bot=False)
        old_message.media["migrate_to_chat_id"] = new_chat_id
        new_message = self.new_message(new_chat, actor, from_bot=False)
        new_message.media["migrate_from_chat_id"] = chat_id
        return [
            self.queue_update("message", self.message_api(old_message)),
            self.queue_update("message", self.message_api(new_message)),
        ]

    # -- readback ----------------------------------------------------------------------

    def sent_messages(self, chat_id: int | None = None) -> list[StoredMessage]:
        """Messages the bot sent, in order (deleted ones too, flagged)."""
        if chat_id is None:
            return list(self.sent)
        return [message for message in self.sent if message.chat_id == chat_id]

    def chat_messages(self, chat_id: int) -> list[StoredMessage]:
        """Every message of a chat, users' and the bot's, in order."""
        return list(self.messages.get(chat_id, {}).values())

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self.updates)

    def records(self, messages: Iterable[StoredMessage]) -> list[dict[str, Any]]:
        return [message.to_record() for message in messages]


def _content_api(message: StoredMessage) -> dict[str, Any]:
    """A message's text or media, caption and inline keyboard, as the Bot API shows them."""
    body: dict[str, Any] = {}
    if message.text is not None:
        body["text"] = message.text
        if message.entities:
            body["entities"] = message.entities
    body.update(message.media)
    if message.caption is not None:
        body["caption"] = message.caption
        if message.caption_entities:
            body["caption_entities"] = message.caption_entities
    if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
        body["reply_markup"] = message.reply_markup
    return body
