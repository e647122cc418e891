"""The checks the Bot API methods share: the target chat, text and markup, threads,
replies, buttons and flood limits, refused as the real server refuses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors
from .limits import RateLimiter, retry_after_seconds
from .markup import EntityParseError, ParsedText, parse_html, strip_text, utf16_length
from .params import Params
from .records import ChatRecord, StoredMessage
from .state import TelegramState

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
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


@dataclass
class ApiOptions:
    auto_create_chats: bool = True
    strict_ampersand: bool = False
    limits_enabled: bool = True


class RequestChecks:
    """Mixed into `BotApi`: what its methods check before they act."""

    state: TelegramState
    limiter: RateLimiter
    options: ApiOptions

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
