"""Reads and small writes on `channels` and their `subscriptions`, in the caller's session."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Channel, Subscription


async def channel(session: AsyncSession, channel_id: str) -> Channel | None:
    return await session.get(Channel, channel_id)


async def channel_at(session: AsyncSession, platform: str, address: str) -> Channel | None:
    """The channel that is this chat (or forum topic), if any."""
    return await session.scalar(
        select(Channel).where(Channel.platform == platform, Channel.address == address)
    )


async def language_at(session: AsyncSession, platform: str, address: str) -> str | None:
    """The language of the channel that is this chat, if any."""
    return await session.scalar(
        select(Channel.language).where(Channel.platform == platform, Channel.address == address)
    )


async def chat_has_channel(session: AsyncSession, platform: str, chat: str) -> bool:
    """A channel of this chat (or of one of its forum topics) exists."""
    found = await session.scalar(
        select(Channel.id)
        .where(
            Channel.platform == platform,
            or_(Channel.address == chat, Channel.address.startswith(f"{chat}:")),
        )
        .limit(1)
    )
    return found is not None


async def add_channel(session: AsyncSession, new: Channel) -> None:
    """Write a new channel at once (its subscriptions refer to it)."""
    session.add(new)
    await session.flush()


def add_subscription(session: AsyncSession, channel_id: str, spec: str, source: str) -> None:
    """A subscription (`spec`: a `SubscriptionSpec` as JSON), written with the session."""
    session.add(Subscription(channel_id=channel_id, spec=spec, source=source))


async def delete_subscription(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(delete(Subscription).where(Subscription.id == subscription_id))
