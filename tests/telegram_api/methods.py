"""The Bot API methods the fake server implements, with the real server's refusals."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .limits import RateLimiter, retry_after_seconds
from .markup import EntityParseError, ParsedText, parse_html, strip_text, utf16_length
from .records import ChatRecord, StoredMessage, image_size
from .state import TelegramState

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_CALLBACK_DATA_BYTES = 64
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

Handler = Callable[["Params"], Awaitable[Any]]


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Params:
    """A request's parameters: strings from forms and query strings, values from JSON."""

    values: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return json.dumps(value)
        raise errors.bad_request(f"{name} must be a string")

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise errors.bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise errors.bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float:
        value = self.values.get(name)
        if value in (None, ""):
            raise errors.bad_request(f"{name} is empty")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid {name} specified") from None

    def boolean(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def object(self, name: str, *, error: str | None = None) -> Any:
        """A nested object: JSON-decoded when it came as a string (forms, multipart)."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise errors.bad_request(error or f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> Upload | None:
        """The uploaded file for a field: a part of that name, or an attach://<part>."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            part = self.files.get(value.removeprefix("attach://"))
            if part is None:
                raise errors.bad_request(f"file attached as {value} is not found")
            return part
        return None


@dataclass
class ApiOptions:
    auto_create_chats: bool = True
    strict_ampersand: bool = False
    limits_enabled: bool = True


class BotApi:
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

    # -- shared checks -----------------------------------------------------------------

    def target_chat(self, params: Params) -> ChatRecord:
        """The chat a request targets, refused as Telegram refuses it."""
        chat = self.named_chat(params.values.get("chat_id"))
        if chat is None or chat.not_found:
            raise errors.chat_not_found()
        if chat.migrate_to is not None:
            raise errors.chat_migrated(chat.migrate_to)
        if chat.type == "private":
            if chat.blocked:
                raise errors.forbidden("bot was blocked by the user")
            if chat.deactivated:
                raise errors.forbidden("user is deactivated")
        elif chat.kicked:
            raise errors.forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.left:
            raise errors.forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def named_chat(self, raw: Any) -> ChatRecord | None:
        """The chat a `chat_id` names (a number or an @username), created on first use
        when the options say so."""
        if raw in (None, ""):
            raise errors.bad_request("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            return self.state.chat_by_username(raw)
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise errors.chat_not_found() from None
        chat = self.state.chats.get(chat_id)
        if chat is None and chat_id != 0 and self.options.auto_create_chats:
            chat = self.state.add_chat(chat_id)
        return chat

    def formatted(self, source: str, parse_mode: str | None, entities: Any) -> ParsedText:
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                parsed = parse_html(source, strict_ampersand=self.options.strict_ampersand)
            except EntityParseError as error:
                raise errors.cant_parse_entities(str(error)) from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not parsed here: the text is taken as it is.
            given = entities if isinstance(entities, list) else []
            parsed = ParsedText(source, tuple(given))
        else:
            raise errors.bad_request("unsupported parse_mode")
        return strip_text(parsed)

    def message_text(self, params: Params) -> ParsedText:
        source = params.text("text")
        if not source:
            raise errors.bad_request("message text is empty")
        parsed = self.formatted(source, params.text("parse_mode"), params.object("entities"))
        if not parsed.text:
            raise errors.bad_request("message text is empty")
        if utf16_length(parsed.text) > MAX_TEXT_LENGTH:
            raise errors.bad_request("message is too long")
        return parsed

    def caption(self, params: Params) -> ParsedText | None:
        source = params.text("caption")
        if not source:
            return None
        parsed = self.formatted(
            source, params.text("parse_mode"), params.object("caption_entities")
        )
        if utf16_length(parsed.text) > MAX_CAPTION_LENGTH:
            raise errors.bad_request("message caption is too long")
        return parsed if parsed.text else None

    def thread(self, chat: ChatRecord, params: Params) -> int | None:
        thread_id = params.integer("message_thread_id")
        if thread_id is None:
            return None
        if chat.is_forum and thread_id not in chat.topics:
            raise errors.bad_request("message thread not found")
        return thread_id

    def reply_target(self, chat: ChatRecord, params: Params) -> StoredMessage | None:
        reply = params.object("reply_parameters", error="can't parse reply parameters JSON object")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_without = bool(reply.get("allow_sending_without_reply", False))
            if reply.get("chat_id") not in (None, chat.id, str(chat.id)):
                message_id = None if allow_without else message_id
        else:
            message_id = params.integer("reply_to_message_id")
            allow_without = params.boolean("allow_sending_without_reply")
        if message_id is None:
            return None
        try:
            target = self.state.find_message(chat.id, int(message_id))
        except (TypeError, ValueError):
            raise errors.bad_request("invalid reply_parameters specified") from None
        if target is None and not allow_without:
            raise errors.bad_request("message to be replied not found")
        return target

    def reply_markup(self, params: Params) -> dict[str, Any] | None:
        markup = params.object(
            "reply_markup", error="can't parse reply keyboard markup JSON object"
        )
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise errors.bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise errors.bad_request(
                    "can't parse inline keyboard button: InlineKeyboardMarkup must be an "
                    "Array of Arrays"
                )
            for row in rows:
                for button in row:
                    self._check_button(button)
            return markup
        if not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise errors.bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise errors.bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        if not button["text"]:
            raise errors.bad_request("BUTTON_TEXT_EMPTY")
        if not any(action in button for action in _BUTTON_ACTIONS):
            raise errors.bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise errors.bad_request("BUTTON_DATA_INVALID")

    def admit(self, chat: ChatRecord) -> None:
        """Count a send against the flood limits, or refuse it with 429."""
        if not self.options.limits_enabled:
            return
        wait = self.limiter.acquire(chat.id)
        if wait > 0:
            retry_after = retry_after_seconds(wait)
            counters = self.state.counters
            counters.too_many_requests += 1
            counters.per_chat_429[chat.id] += 1
            counters.max_retry_after = max(counters.max_retry_after, retry_after)
            raise errors.too_many_requests(retry_after)

    def new_bot_message(
        self,
        chat: ChatRecord,
        method: str,
        params: Params,
        *,
        thread_id: int | None,
        reply_to: StoredMessage | None,
        markup: dict[str, Any] | None,
    ) -> StoredMessage:
        message = self.state.new_message(chat, self.state.bot, from_bot=True, method=method)
        if thread_id is None and reply_to is not None:
            thread_id = reply_to.message_thread_id
        message.message_thread_id = thread_id
        message.is_topic_message = thread_id is not None and chat.is_forum
        message.reply_to_message_id = reply_to.message_id if reply_to else None
        message.reply_markup = markup
        message.parse_mode = params.text("parse_mode")
        message.options = {
            key: params.values[key]
            for key in ("disable_notification", "protect_content", "message_effect_id")
            if key in params.values
        }
        counters = self.state.counters
        counters.sends_accepted += 1
        counters.per_chat_sent[chat.id] += 1
        self.state.notify()
        return message

    def own_message(self, chat: ChatRecord, params: Params, missing: str) -> StoredMessage:
        if params.has("inline_message_id") and not params.has("chat_id"):
            raise errors.bad_request("inline messages are not supported by this test server")
        message_id = params.integer("message_id")
        if message_id is None:
            raise errors.bad_request("message identifier is not specified")
        message = self.state.find_message(chat.id, message_id)
        if message is None:
            raise errors.bad_request(missing)
        return message

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
