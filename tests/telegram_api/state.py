"""What the fake Telegram remembers: users, chats, messages, files, pending updates.

Everything here is synchronous and must be used from the event loop thread that runs
the server (a test's own loop); another process drives it over ``/_control``.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .injection import DEFAULT_USER_ID, UserActions
from .records import (
    SUPERGROUP_ID_LIMIT,
    ChatRecord,
    Counters,
    StoredFile,
    StoredMessage,
    UserRecord,
    infer_chat_type,
)

UPDATE_TYPES_OFF_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)

_FILE_PREFIX = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}
_FILE_FOLDER = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
_FILE_EXTENSION = {"photo": "jpg", "document": "bin", "voice": "oga", "sticker": "webp"}


class TelegramState(UserActions):
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
