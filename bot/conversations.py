"""Guided conversations kept in the database (`conversations`), so a restart mid-way loses
nothing: one row per platform × chat × person, a random token that every button of the
conversation carries (a forged or expired button does not match it), and a JSON state."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


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


async def load(session: AsyncSession, platform: str, chat: str, user: str) -> Dialogue | None:
    row = await session.get(Conversation, (platform, chat, user))
    if row is None:
        return None
    try:
        state = json.loads(row.state)
    except ValueError:
        state = {}
    if not isinstance(state, dict):
        state = {}
    return Dialogue(platform, chat, user, row.token, state, row.updated_at)


def new_token() -> str:
    return secrets.token_hex(4)


async def save(session: AsyncSession, dialogue: Dialogue, now: datetime) -> None:
    row = await session.get(Conversation, (dialogue.platform, dialogue.chat, dialogue.user))
    text = json.dumps(dialogue.state, ensure_ascii=False, separators=(",", ":"))
    if row is None:
        session.add(
            Conversation(
                platform=dialogue.platform,
                chat=dialogue.chat,
                user_ref=dialogue.user,
                token=dialogue.token,
                state=text,
                updated_at=now,
            )
        )
    else:
        row.token, row.state, row.updated_at = dialogue.token, text, now
    dialogue.updated_at = now


async def remove(session: AsyncSession, platform: str, chat: str, user: str) -> None:
    await session.execute(
        delete(Conversation).where(
            Conversation.platform == platform,
            Conversation.chat == chat,
            Conversation.user_ref == user,
        )
    )


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget conversations abandoned long ago (their drafts may describe people)."""
    stale = (
        await session.scalars(select(Conversation.token).where(Conversation.updated_at < before))
    ).all()
    if stale:
        await session.execute(delete(Conversation).where(Conversation.updated_at < before))
    return len(stale)
