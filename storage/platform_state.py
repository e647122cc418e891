"""Typed accessors for the bot's own rows of `platform_state` (a key → text table shared
with the relays): each kind of row has its key built here, and its value is read back
as a value, not as text. The relays keep their own keys (offsets, sessions, DM rooms)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.models import PlatformState

UNCLAIMED = ".unclaimed:"  # <platform>.unclaimed:<chat> → deadline, or the goodbye (_LEAVING)
STRANGER_ANSWERED = ".stranger-answered:"  # <platform>.stranger-answered:<digest> → when
_UNDECRYPTABLE = ".undecryptable-notice:"  # <platform>.undecryptable-notice:<digest> → when
_LEAVING = "leaving:"  # leaving:<goodbye delivery id>:<since, ISO>
_UNREACHED = "alert.unreached:"  # alert.unreached:<alert id> → channels the author was told of


@dataclass(frozen=True)
class Leaving:
    """The goodbye to a group nobody claimed is on its way."""

    goodbye_id: int | None  # its delivery (None: unreadable, as if already said)
    since: datetime | None


@dataclass(frozen=True)
class UnclaimedGroup:
    """A group the bot was added to by someone not allowed to claim it."""

    platform: str
    chat: str
    deadline: datetime | None  # claim by then (None: unreadable, as if passed)
    leaving: Leaving | None  # set once the deadline passed and the goodbye was queued


def _unclaimed_key(platform: str, chat: str) -> str:
    return f"{platform}{UNCLAIMED}{chat}"


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _unclaimed(key: str, value: str) -> UnclaimedGroup:
    platform, _, chat = key.partition(UNCLAIMED)
    if not value.startswith(_LEAVING):
        return UnclaimedGroup(platform, chat, _when(value), None)
    goodbye, _, since = value.removeprefix(_LEAVING).partition(":")
    goodbye_id = int(goodbye) if goodbye.isdecimal() else None
    return UnclaimedGroup(platform, chat, None, Leaving(goodbye_id, _when(since)))


async def unclaimed_groups(session: AsyncSession) -> list[UnclaimedGroup]:
    """Every group waiting to be claimed, or being left."""
    rows = await session.execute(
        select(PlatformState.key, PlatformState.value).where(PlatformState.key.contains(UNCLAIMED))
    )
    return [_unclaimed(key, value) for key, value in rows.all()]


async def set_unclaimed(
    session: AsyncSession, platform: str, chat: str, deadline: datetime, now: datetime
) -> None:
    await queries.set_state(session, _unclaimed_key(platform, chat), deadline.isoformat(), now)


async def set_leaving(
    session: AsyncSession, platform: str, chat: str, goodbye_id: int, now: datetime
) -> None:
    value = f"{_LEAVING}{goodbye_id}:{now.isoformat()}"
    await queries.set_state(session, _unclaimed_key(platform, chat), value, now)


async def forget_unclaimed(session: AsyncSession, platform: str, chat: str) -> None:
    key = _unclaimed_key(platform, chat)
    await session.execute(delete(PlatformState).where(PlatformState.key == key))


async def unreached_told(session: AsyncSession, alert_id: int) -> int | None:
    """How many unreached channels the alert's author was last told of (None: never)."""
    told = await queries.get_state(session, f"{_UNREACHED}{alert_id}")
    return None if told is None else int(told)


async def set_unreached_told(
    session: AsyncSession, alert_id: int, count: int, now: datetime
) -> None:
    await queries.set_state(session, f"{_UNREACHED}{alert_id}", str(count), now)


async def claim_stranger_answer(
    session: AsyncSession, platform: str, digest: str, now: datetime, *, every: timedelta
) -> bool:
    """The turn to answer the stranger `digest` names in a group (see `claim_turn`)."""
    key = f"{platform}{STRANGER_ANSWERED}{digest}"
    return await queries.claim_turn(session, key, now, every=every)


async def prune_stranger_answers(session: AsyncSession, before: datetime) -> None:
    await queries.prune_state(session, STRANGER_ANSWERED, before)


async def claim_undecryptable_notice(
    session: AsyncSession, platform: str, digest: str, now: datetime, *, every: timedelta
) -> bool:
    """The turn to tell the room `digest` names that a message could not be read."""
    key = f"{platform}{_UNDECRYPTABLE}{digest}"
    return await queries.claim_turn(session, key, now, every=every)
