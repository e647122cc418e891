"""Neutral outbound messages as Bot API parameters: the chat address, HTML (or plain)
text, the inline keyboard and the reply."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode

from alerts.messages import OutboundMessage
from relays.markup import to_html, to_plain

CAPTION_LIMIT = 1024  # UTF-16 units of visible text, after entity parsing


@dataclass(frozen=True)
class ChatAddress:
    """A channel address: `chat_id` or `chat_id:topic_id` for a forum topic."""

    chat_id: int | str
    topic_id: int | None = None

    @classmethod
    def parse(cls, address: str) -> ChatAddress:
        chat, _, topic = address.partition(":")
        chat = chat.strip()
        chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise ValueError(f"not a Telegram chat address: {address!r}")
        return cls(chat_id, int(topic) if topic.strip() else None)

    def __str__(self) -> str:
        return f"{self.chat_id}:{self.topic_id}" if self.topic_id else str(self.chat_id)


def render(message: OutboundMessage) -> tuple[str, str | None]:
    if message.plain_only:
        return to_plain(message), None
    return to_html(message), ParseMode.HTML


def keyboard(message: OutboundMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
            for row in message.buttons
        ]
    )


def reply_parameters(message_id: str | None) -> ReplyParameters | None:
    if not message_id or not message_id.isdigit():
        return None
    # A reply to a deleted message is still worth sending, without the quote.
    return ReplyParameters(int(message_id), allow_sending_without_reply=True)
