"""Reads and writes on `conversations` (guided conversations), in the caller's session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


async def conversation(
    session: AsyncSession, platform: str, chat: str, user: str
) -> Conversation | None:
    return await session.get(Conversation, (platform, chat, user))


async def save_conversation(
    session: AsyncSession,
    platform: str,
    chat: str,
    user: str,
    token: str,
    state: str,
    now: datetime,
) -> None:
    """Create or replace the person's conversation in this chat (`state`: JSON)."""
    row = await session.get(Conversation, (platform, chat, user))
    if row is None:
        session.add(
            Conversation(
                platform=platform,
                chat=chat,
                user_ref=user,
                token=token,
                state=state,
                updated_at=now,
            )
        )
    else:
        row.token, row.state, row.updated_at = token, state, now


async def delete_conversation(session: AsyncSession, platform: str, chat: str, user: str) -> None:
    await session.execute(
        delete(Conversation).where(
            Conversation.platform == platform,
            Conversation.chat == chat,
            Conversation.user_ref == user,
        )
    )


async def prune_conversations(session: AsyncSession, before: datetime) -> int:
    """Delete the conversations last changed before `before`; how many there were."""
    stale = (
        await session.scalars(select(Conversation.token).where(Conversation.updated_at < before))
    ).all()
    if stale:
        await session.execute(delete(Conversation).where(Conversation.updated_at < before))
    return len(stale)
