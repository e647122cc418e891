"""Telling people things: admins about channels that stopped working, authors about
deliveries that failed. Notices leave through the outbox like everything else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.i18n import Translator
from alerts.messages import text_message
from alerts.outbox import NOTICE, Outbox, Target
from alerts.platforms import PlatformCatalogue
from alerts.types import NOTICE_PRIORITY
from storage import queries

# Where a member can be reached privately: their user id where the platform's traits say
# it is their private chat (Telegram), else a direct room the relay records under
# `<platform>.dm:<user>` (Matrix).
DM_STATE_PREFIX = "dm:"


async def private_address(
    session: AsyncSession, platforms: PlatformCatalogue, platform: str, user: str
) -> str | None:
    traits = platforms.get(platform)
    if traits is not None and traits.user_id_is_private_chat:
        return user
    return await queries.get_state(session, f"{platform}.{DM_STATE_PREFIX}{user}")


async def notify_admins(
    session: AsyncSession,
    *,
    organisation_id: str | None,
    outbox: Outbox,
    translate: Translator,
    now: datetime,
    key: str,
    **params: object,
) -> int:
    """Queue one notice per reachable admin; returns how many were queued."""
    queued = 0
    for admin in await queries.admins_of(session, organisation_id):
        address = await private_address(session, outbox.platforms, admin.platform, admin.user_ref)
        if address is None:
            continue
        message = text_message(translate(admin.language, key, **params))
        outbox.enqueue(
            session,
            Target(admin.platform, address),
            message,
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=now,
        )
        queued += 1
    return queued
