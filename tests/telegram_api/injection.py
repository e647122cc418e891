"""What users do on the fake Telegram: messages, media, edits, button presses, the bot
added to or removed from a chat, a group's migration; each queues its update.

Mixed into `TelegramState`, whose memory it writes through the state's own methods.
"""

from __future__ import annotations

import secrets
from typing import Any

from .records import ChatRecord, StoredMessage, UserRecord, command_entities, image_size

DEFAULT_USER_ID = 1_000_001


class UserActions:
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
