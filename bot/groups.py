"""The bot added to (or removed from) a group.

Added by an org-admin, or to a group that already is a channel: a short hello. Added by
anyone else: the bot explains itself and starts a timer; `IntakeChores` makes it leave if
nobody authorised claims the group (`/subscribe` creates its channel) in time. The timer
is a `platform_state` row, so a restart keeps it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.types import Role
from bot.context import Fallback, Request
from storage import queries
from storage.models import Channel, PlatformState

log = logging.getLogger(__name__)
UNCLAIMED = ".unclaimed:"  # platform_state key: <platform>.unclaimed:<chat> → deadline


def unclaimed_key(platform: str, chat: str) -> str:
    return f"{platform}{UNCLAIMED}{chat}"


async def is_claimed(session: AsyncSession, platform: str, chat: str) -> bool:
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


class GroupMembership(Fallback):
    def __init__(self, *, unclaimed_timeout: timedelta) -> None:
        self._timeout = unclaimed_timeout

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if inbound.event == "left_group":
            await request.session.execute(
                delete(PlatformState).where(
                    PlatformState.key == unclaimed_key(inbound.platform, inbound.chat)
                )
            )
            log.info("%s: the bot left or was removed from a group", inbound.platform)
            return True
        if inbound.event != "joined_group":
            return False
        role = request.role
        if (role is not None and role.at_least(Role.ORG_ADMIN)) or await is_claimed(
            request.session, inbound.platform, inbound.chat
        ):
            request.reply(request.t("group.hello_member"))
            return True
        deadline = request.now + self._timeout
        await queries.set_state(
            request.session,
            unclaimed_key(inbound.platform, inbound.chat),
            deadline.isoformat(),
            request.now,
        )
        log.info("%s: added to a group by a non-admin; leaving unless claimed", inbound.platform)
        minutes = max(1, int(self._timeout.total_seconds() // 60))
        request.reply(request.t("group.hello_stranger", minutes=minutes))
        return True


async def unclaimed_groups(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(platform, chat, stored value) of every group waiting to be claimed."""
    rows = (
        await session.execute(
            select(PlatformState.key, PlatformState.value).where(
                PlatformState.key.contains(UNCLAIMED)
            )
        )
    ).all()
    found = []
    for key, value in rows:
        platform, _, chat = key.partition(UNCLAIMED)
        found.append((platform, chat, value))
    return found


def deadline_of(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
