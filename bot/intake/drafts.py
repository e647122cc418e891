"""The guided alert's draft, kept in the database (`conversations`), so a restart mid-way
loses nothing: one row per platform × chat × person, a random token that every button of
the conversation carries (a forged or expired button does not match it), and the draft as
a JSON state."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.messages import Location, PhotoRef
from alerts.parsing import AlertDraft
from alerts.types import Kind, Urgency
from bot.context import Request
from storage import conversation_queries


@dataclass
class Dialogue:
    """A conversation in progress, as the flow reads and changes it."""

    platform: str
    chat: str
    user: str
    token: str
    state: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        return self.updated_at is not None and now - self.updated_at > ttl


def new_dialogue(request: Request, state: dict[str, Any]) -> Dialogue:
    inbound = request.inbound
    return Dialogue(inbound.platform, inbound.chat, inbound.sender, secrets.token_hex(4), state)


async def load(request: Request) -> Dialogue | None:
    """The sender's conversation in this chat, if one is in progress."""
    inbound = request.inbound
    platform, chat, user = inbound.platform, inbound.chat, inbound.sender
    row = await conversation_queries.conversation(request.session, platform, chat, user)
    if row is None:
        return None
    try:
        state = json.loads(row.state)
    except ValueError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    return Dialogue(platform, chat, user, row.token, state, row.updated_at)


async def save(request: Request, dialogue: Dialogue) -> None:
    text = json.dumps(dialogue.state, ensure_ascii=False, separators=(",", ":"))
    await conversation_queries.save_conversation(
        request.session,
        dialogue.platform,
        dialogue.chat,
        dialogue.user,
        dialogue.token,
        text,
        request.now,
    )
    dialogue.updated_at = request.now


async def remove(request: Request) -> None:
    inbound = request.inbound
    await conversation_queries.delete_conversation(
        request.session, inbound.platform, inbound.chat, inbound.sender
    )


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget conversations abandoned long ago (their drafts may describe people)."""
    return await conversation_queries.prune_conversations(session, before)


# -- the draft as state ------------------------------------------------------------------


def state_of(draft: AlertDraft) -> dict[str, Any]:
    """A one-line draft that lacks its border, to be completed step by step."""
    return {
        "text": draft.text,
        "people": draft.people,
        "minors": draft.minors,
        "themes": list(draft.themes),
        "themes_done": True,
        "urgency": draft.urgency.value,
        "border_choices": list(draft.border_choices),
    }


def keep_photo(state: dict[str, Any], photo: PhotoRef) -> None:
    state["photo"] = {"platform": photo.platform, "ref": photo.ref}


def draft_of(state: dict[str, Any]) -> AlertDraft:
    """The confirmed conversation as the draft to raise."""
    return AlertDraft(
        text=state["text"],
        urgency=Urgency(state.get("urgency", "normal")),
        border=state["border"],
        place=state.get("place"),
        themes=tuple(state.get("themes") or ()),
        people=state.get("people"),
        minors=state.get("minors") or None,
        kind=Kind.ALERT,
    )


def photo_in(state: dict[str, Any]) -> PhotoRef | None:
    photo = state.get("photo")
    return PhotoRef(photo["platform"], photo["ref"]) if photo else None


def location_in(state: dict[str, Any]) -> Location | None:
    location = state.get("location")
    return Location(location[0], location[1]) if location else None
