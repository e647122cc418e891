"""Guided conversations kept in the database (`conversations`), so a restart mid-way loses
nothing: one row per platform × chat × person, a random token that every button of the
conversation carries (a forged or expired button does not match it), and a JSON state."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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


async def load(session: AsyncSession, platform: str, chat: str, user: str) -> Dialogue | None:
    row = await conversation_queries.conversation(session, platform, chat, user)
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
    text = json.dumps(dialogue.state, ensure_ascii=False, separators=(",", ":"))
    await conversation_queries.save_conversation(
        session, dialogue.platform, dialogue.chat, dialogue.user, dialogue.token, text, now
    )
    dialogue.updated_at = now


async def remove(session: AsyncSession, platform: str, chat: str, user: str) -> None:
    await conversation_queries.delete_conversation(session, platform, chat, user)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget conversations abandoned long ago (their drafts may describe people)."""
    return await conversation_queries.prune_conversations(session, before)
