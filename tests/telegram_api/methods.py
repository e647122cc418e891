"""The Bot API methods the fake server implements, with the real server's refusals."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from . import errors
from .checks import ApiOptions, RequestChecks
from .limits import RateLimiter
from .params import Params
from .records import StoredMessage, image_size
from .state import TelegramState

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

Handler = Callable[["Params"], Awaitable[Any]]


class BotApi(RequestChecks):
    """One coroutine per Bot API method, keyed by lowercase name (Telegram ignores case)."""

    SEND_METHODS = frozenset({"sendmessage", "sendphoto", "sendlocation"})

    def __init__(self, state: TelegramState, limiter: RateLimiter, options: ApiOptions) -> None:
        self.state = state
        self.limiter = limiter
        self.options = options
        self.closing = False
        self._poll_generation = 0
        self.handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "sendmessage": self.send_message,
            "sendphoto": self.send_photo,
            "sendlocation": self.send_location,
            "sendchataction": self.send_chat_action,
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "getfile": self.get_file,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "getchat": self.get_chat,
            "leavechat": self.leave_chat,
        }

    # -- methods -----------------------------------------------------------------------

    async def get_me(self, _params: Params) -> Any:
        return {
            **self.state.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: Params) -> Any:
        if self.state.webhook.get("url"):
            raise errors.conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first"
            )
        offset = params.integer("offset") or 0
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.object("allowed_updates")
        if isinstance(allowed, list):
            self.state.allowed_updates = frozenset(map(str, allowed)) or None
        if offset:
            self.state.confirm_updates(offset)
        # A newer getUpdates ends the one still waiting, as on the real server.
        self._poll_generation += 1
        generation = self._poll_generation
        self.state.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise errors.conflict(
                    "terminated by other getUpdates request; make sure that only one bot "
                    "instance is running"
                )
            batch = self.state.take_updates(limit)
            left = deadline - loop.time()
            if batch or self.closing or left <= 0:
                return batch
            await self.state.wait_change(left)

    async def set_webhook(self, params: Params) -> Any:
        url = params.text("url") or ""
        if url and not url.startswith("https://"):
            raise errors.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.boolean("drop_pending_updates"):
            self.state.updates.clear()
        allowed = params.object("allowed_updates")
        self.state.webhook = {
            "url": url,
            "max_connections": params.integer("max_connections") or 40,
            "allowed_updates": allowed if isinstance(allowed, list) else None,
            "secret_token": params.text("secret_token"),
            "ip_address": params.text("ip_address"),
        }
        return True

    async def delete_webhook(self, params: Params) -> Any:
        if params.boolean("drop_pending_updates"):
            self.state.updates.clear()
        self.state.webhook = {"url": ""}
        return True

    async def get_webhook_info(self, _params: Params) -> Any:
        info: dict[str, Any] = {
            "url": self.state.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }
        if info["url"]:
            info["max_connections"] = self.state.webhook.get("max_connections", 40)
            if self.state.webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = self.state.webhook["allowed_updates"]
        return info

    async def send_message(self, params: Params) -> Any:
        chat = self.target_chat(params)
        parsed = self.message_text(params)
        thread_id = self.thread(chat, params)
        reply_to = self.reply_target(chat, params)
        markup = self.reply_markup(params)
        preview = params.object("link_preview_options")
        self.admit(chat)
        message = self.new_bot_message(
            chat, "sendMessage", params, thread_id=thread_id, reply_to=reply_to, markup=markup
        )
        message.text = parsed.text
        message.raw_text = params.text("text")
        message.entities = list(parsed.entities)
        message.link_preview_options = preview if isinstance(preview, dict) else None
        return self.state.message_api(message)

    async def send_photo(self, params: Params) -> Any:
        chat = self.target_chat(params)
        caption = self.caption(params)
        upload = params.upload("photo")
        size: tuple[int, int] | None = None
        if upload is not None:
            size = image_size(upload.data)
            if size is None:
                raise errors.bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise errors.bad_request("PHOTO_INVALID_DIMENSIONS")
            stored = None
        else:
            reference = params.text("photo")
            if not reference:
                raise errors.bad_request("there is no photo in the request")
            if reference.startswith(("http://", "https://")):
                raise errors.bad_request("failed to get HTTP URL content")
            stored = self.state.files.get(reference)
            if stored is None:
                raise errors.bad_request("wrong file identifier/HTTP URL specified")
            if stored.kind != "photo":
                raise errors.bad_request(f"can't use file of type {stored.kind.title()} as Photo")
        thread_id = self.thread(chat, params)
        reply_to = self.reply_target(chat, params)
        markup = self.reply_markup(params)
        self.admit(chat)
        if upload is not None:
            stored = self.state.store_file(
                "photo", upload.data, mime_type=upload.content_type, size=size
            )
        assert stored is not None
        message = self.new_bot_message(
            chat, "sendPhoto", params, thread_id=thread_id, reply_to=reply_to, markup=markup
        )
        message.media["photo"] = self.state.photo_sizes(stored)
        if caption is not None:
            message.caption = caption.text
            message.raw_caption = params.text("caption")
            message.caption_entities = list(caption.entities)
        return self.state.message_api(message)

    async def send_location(self, params: Params) -> Any:
        chat = self.target_chat(params)
        latitude = params.number("latitude")
        longitude = params.number("longitude")
        thread_id = self.thread(chat, params)
        reply_to = self.reply_target(chat, params)
        markup = self.reply_markup(params)
        self.admit(chat)
        message = self.new_bot_message(
            chat, "sendLocation", params, thread_id=thread_id, reply_to=reply_to, markup=markup
        )
        message.media["location"] = {"latitude": latitude, "longitude": longitude}
        return self.state.message_api(message)

    async def send_chat_action(self, params: Params) -> Any:
        self.target_chat(params)
        if not params.has("action"):
            raise errors.bad_request("action is empty")
        return True

    async def edit_message_text(self, params: Params) -> Any:
        chat = self.target_chat(params)
        message = self.own_message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise errors.bad_request("message can't be edited")
        if message.text is None:
            raise errors.bad_request("there is no text in the message to edit")
        parsed = self.message_text(params)
        markup = self.reply_markup(params)
        if (
            parsed.text == message.text
            and list(parsed.entities) == message.entities
            and markup == message.reply_markup
        ):
            raise errors.bad_request(_NOT_MODIFIED)
        self._remember_version(message)
        message.text = parsed.text
        message.raw_text = params.text("text")
        message.entities = list(parsed.entities)
        message.parse_mode = params.text("parse_mode")
        message.reply_markup = markup
        message.edit_date = self.state.date()
        self.state.notify()
        return self.state.message_api(message)

    async def edit_message_reply_markup(self, params: Params) -> Any:
        chat = self.target_chat(params)
        message = self.own_message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise errors.bad_request("message can't be edited")
        markup = self.reply_markup(params)
        if markup == message.reply_markup:
            raise errors.bad_request(_NOT_MODIFIED)
        self._remember_version(message)
        message.reply_markup = markup
        message.edit_date = self.state.date()
        self.state.notify()
        return self.state.message_api(message)

    @staticmethod
    def _remember_version(message: StoredMessage) -> None:
        message.edits.append(
            {
                "text": message.text,
                "raw_text": message.raw_text,
                "entities": message.entities,
                "parse_mode": message.parse_mode,
                "reply_markup": message.reply_markup,
                "edit_date": message.edit_date,
            }
        )

    async def delete_message(self, params: Params) -> Any:
        chat = self.target_chat(params)
        message = self.own_message(chat, params, "message to delete not found")
        message.deleted = True
        self.state.notify()
        return True

    async def answer_callback_query(self, params: Params) -> Any:
        query_id = params.text("callback_query_id")
        query = self.state.callback_queries.pop(query_id or "", None)
        if query is None:
            raise errors.bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        message = query.get("message", {})
        self.state.callback_answers.append(
            {
                "callback_query_id": query_id,
                "data": query.get("data"),
                "chat_id": message.get("chat", {}).get("id"),
                "message_id": message.get("message_id"),
                "text": params.text("text"),
                "show_alert": params.boolean("show_alert"),
                "url": params.text("url"),
                "cache_time": params.integer("cache_time"),
            }
        )
        self.state.notify()
        return True

    async def get_file(self, params: Params) -> Any:
        file_id = params.text("file_id")
        stored = self.state.files.get(file_id or "")
        if stored is None:
            raise errors.bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_SIZE:
            raise errors.bad_request("file is too big")
        return stored.file_api()

    @staticmethod
    def _commands_key(params: Params) -> str:
        scope = params.object("scope") or {"type": "default"}
        language = params.text("language_code") or ""
        return f"{json.dumps(scope, sort_keys=True)}|{language}"

    async def set_my_commands(self, params: Params) -> Any:
        commands = params.object("commands")
        if not isinstance(commands, list):
            raise errors.bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise errors.bad_request("too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.match(
                str(command.get("command", ""))
            ):
                raise errors.bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise errors.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.state.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def get_my_commands(self, params: Params) -> Any:
        return self.state.commands.get(self._commands_key(params), [])

    async def delete_my_commands(self, params: Params) -> Any:
        self.state.commands.pop(self._commands_key(params), None)
        return True

    async def get_chat(self, params: Params) -> Any:
        chat = self.target_chat(params)
        return {
            **chat.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def leave_chat(self, params: Params) -> Any:
        chat = self.target_chat(params)
        if chat.type == "private":
            raise errors.bad_request("chat member status can't be changed in private chats")
        chat.left = True
        return True
