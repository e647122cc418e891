"""Telegram updates as neutral inbound messages: the only place that reads PTB's `Update`.

What a volunteer can send (text, commands, replies, button presses, photos, locations,
forwarded or edited messages, stickers, voice notes, documents) and the bot being added to
or removed from a group become an `InboundMessage`; service messages and anything else
become None and are confirmed without being handled.
"""

from __future__ import annotations

import re
from typing import Literal

from telegram import CallbackQuery, Chat, ChatMemberUpdated, Message, Update, User

from alerts.messages import Attachment, ButtonPress, InboundMessage, Location
from relays.base import replace_lone_surrogates
from relays.telegram.traits import TRAITS

PLATFORM = TRAITS.name
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
_ADDRESSED = re.compile(r"^/[A-Za-z0-9_]+@([A-Za-z0-9_]+)")
_IN_GROUP = ("member", "administrator", "creator", "restricted")


def to_inbound(update: Update, *, bot_username: str | None = None) -> InboundMessage | None:
    inbound = _inbound(update, bot_username=bot_username)
    return replace_lone_surrogates(inbound) if inbound is not None else None


def _inbound(update: Update, *, bot_username: str | None) -> InboundMessage | None:
    update_id = str(update.update_id)
    if update.callback_query is not None:
        return _button(update_id, update.callback_query)
    if update.my_chat_member is not None:
        return _membership(update_id, update.my_chat_member)
    if update.message is not None:
        return _message(update_id, update.message, edited=False, bot_username=bot_username)
    if update.edited_message is not None:
        return _message(update_id, update.edited_message, edited=True, bot_username=bot_username)
    return None


def chat_address(chat: Chat, message: Message | None = None) -> str:
    """`chat_id`, or `chat_id:topic_id` for a message in a forum topic (what a channel's
    address names, so `/subscribe` in a topic subscribes that topic)."""
    if message is not None and message.is_topic_message and message.message_thread_id:
        return f"{chat.id}:{message.message_thread_id}"
    return str(chat.id)


def _chat_type(chat: Chat) -> Literal["private", "group"]:
    return "private" if chat.type == Chat.PRIVATE else "group"


def _sender_name(user: User | None) -> str | None:
    return user.full_name if user is not None else None


def _message(
    update_id: str, message: Message, *, edited: bool, bot_username: str | None
) -> InboundMessage | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None  # channel posts, anonymous admins, other bots
    text = message.text or message.caption or ""
    attachments = _attachments(message)
    location = _location(message)
    if not text and not attachments and location is None:
        return None  # a service message: members joined, title changed, pinned, migrated
    # Decided here, once: the router reads it and needs no username of its own.
    target = _ADDRESSED.match(text.lstrip())
    addressed = not (target and bot_username and target.group(1).lower() != bot_username.lower())
    return InboundMessage(
        platform=PLATFORM,
        update_id=update_id,
        chat=chat_address(message.chat, message),
        chat_type=_chat_type(message.chat),
        sender=str(user.id),
        sender_name=_sender_name(user),
        text=text,
        message_id=str(message.message_id),
        reply_to=_reply_to(message),
        attachments=attachments,
        location=location,
        edited=edited,
        forwarded=message.forward_origin is not None,
        addressed_to_bot=addressed,
    )


def _reply_to(message: Message) -> str | None:
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None  # in a forum every message "replies" to its topic's opening
    return str(replied.message_id)


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(
            Attachment("photo", largest.file_id, PLATFORM, "image/jpeg", largest.file_size)
        )
    if message.document is not None:
        document = message.document
        kind: Literal["photo", "document"] = (
            "photo" if (document.mime_type or "").startswith("image/") else "document"
        )
        found.append(
            Attachment(kind, document.file_id, PLATFORM, document.mime_type, document.file_size)
        )
    if message.voice is not None:
        voice = message.voice
        found.append(Attachment("voice", voice.file_id, PLATFORM, voice.mime_type, voice.file_size))
    if message.audio is not None:
        audio = message.audio
        found.append(Attachment("audio", audio.file_id, PLATFORM, audio.mime_type, audio.file_size))
    if message.sticker is not None:
        sticker = message.sticker
        found.append(Attachment("sticker", sticker.file_id, PLATFORM, None, sticker.file_size))
    for video in (message.video, message.video_note, message.animation):
        if video is not None:
            found.append(Attachment("video", video.file_id, PLATFORM, None, video.file_size))
    if message.contact is not None or message.poll is not None or message.dice is not None:
        found.append(Attachment("other", "", PLATFORM))
    return tuple(found)


def _location(message: Message) -> Location | None:
    place = message.location or (message.venue.location if message.venue else None)
    return Location(place.latitude, place.longitude) if place is not None else None


def _button(update_id: str, query: CallbackQuery) -> InboundMessage | None:
    carrier = query.message
    if carrier is None or query.data is None:
        return None  # a button of an inline message or a game: not ours
    thread_message = carrier if isinstance(carrier, Message) else None
    return InboundMessage(
        platform=PLATFORM,
        update_id=update_id,
        chat=chat_address(carrier.chat, thread_message),
        chat_type=_chat_type(carrier.chat),
        sender=str(query.from_user.id),
        sender_name=_sender_name(query.from_user),
        button=ButtonPress(query.data, query.id, str(carrier.message_id)),
    )


def _membership(update_id: str, change: ChatMemberUpdated) -> InboundMessage | None:
    if change.chat.type == Chat.PRIVATE:
        return None  # a user blocked or unblocked the bot: the dispatcher learns it on send
    was_in = change.old_chat_member.status in _IN_GROUP
    is_in = change.new_chat_member.status in _IN_GROUP
    if was_in == is_in:
        return None  # a change of rights, not of presence
    return InboundMessage(
        platform=PLATFORM,
        update_id=update_id,
        chat=str(change.chat.id),
        chat_type="group",
        sender=str(change.from_user.id),
        sender_name=_sender_name(change.from_user),
        text=change.chat.title or "",
        event="joined_group" if is_in else "left_group",
    )
