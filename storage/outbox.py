"""The outbox claim and the recording of each send's outcome.

A claim reads the head delivery of each chat that is due and not paused, and leases
those the dispatcher chooses to one worker for a while: on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so several workers share the outbox without taking the same
row; on SQLite a single dispatcher runs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import queries
from storage.models import Channel, ChatPause, Delivery, PlatformState

Chat = tuple[str, str]  # (platform, address)


@dataclass(frozen=True)
class Head:
    """The next delivery of one chat: its best priority, then its oldest."""

    id: int
    platform: str
    address: str
    priority: int

    @property
    def chat(self) -> Chat:
        return (self.platform, self.address)


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now)


def _pending_in(chat: Chat) -> ColumnElement[bool]:
    """The chat's deliveries still to send (its queue)."""
    platform, address = chat
    return and_(
        Delivery.platform == platform, Delivery.address == address, Delivery.status == "pending"
    )


def _paused_at(at: SQLColumnExpression[datetime] | datetime) -> ColumnElement[bool]:
    return exists().where(
        ChatPause.platform == Delivery.platform,
        ChatPause.address == Delivery.address,
        ChatPause.until > at,
    )


async def due_heads(
    session: AsyncSession, *, platforms: Collection[str], now: datetime
) -> list[Head]:
    """The head of every chat that has a due, unleased delivery and is not paused.

    One row per chat, whatever its backlog: a chat with a thousand rows waiting must not
    hide the others from the claim (the dispatcher chooses among the heads). Rows leased
    already are left out, so a chat this worker is sending to shows the row behind (the
    dispatcher may let an urgent one pre-empt its turn).

    The chats are read from the pending-queue index (only pending rows, never those sent
    long ago), then one seek in it finds each chat's head."""
    if not platforms:
        return []
    chats = (
        select(Delivery.platform, Delivery.address)
        .where(Delivery.status == "pending", Delivery.platform.in_(list(platforms)))
        .distinct()
        .subquery("chats")
    )
    row = aliased(Delivery)
    head = (
        select(row.id)
        .where(
            row.platform == chats.c.platform,
            row.address == chats.c.address,
            row.status == "pending",
            # Wrapped: SQLite must seek the chat's queue in the pending-queue index, not
            # walk every due row of every chat in the due index.
            func.coalesce(row.next_attempt_at, row.next_attempt_at) <= now,
            or_(row.claimed_until.is_(None), row.claimed_until < now),
        )
        .order_by(row.priority.desc(), row.id)
        .limit(1)
        .correlate(chats)
        .scalar_subquery()
    )
    paused = exists().where(
        ChatPause.platform == chats.c.platform,
        ChatPause.address == chats.c.address,
        ChatPause.until > now,
    )
    heads = (
        select(head.label("head"))
        .select_from(chats)
        .where(~paused)
        .subquery("heads")
    )
    rows = await session.execute(
        select(Delivery.id, Delivery.platform, Delivery.address, Delivery.priority).join(
            heads, Delivery.id == heads.c.head
        )
    )
    return [Head(int(i), platform, address, int(p)) for i, platform, address, p in rows]


async def lease(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    now: datetime,
    worker: str,
    lease_until: datetime,
) -> list[Delivery]:
    """Lease the chosen rows to `worker`, in the order given. On PostgreSQL the rows are
    locked first with `FOR UPDATE SKIP LOCKED`: one another worker is leasing right now,
    or leased since the heads were read, is skipped, never taken twice."""
    if not ids:
        return []
    chosen = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        free = (
            select(Delivery.id)
            .where(Delivery.id.in_(chosen), Delivery.status == "pending", _unleased(now))
            .with_for_update(skip_locked=True)
        )
        chosen = [i for i in chosen if i in set(await session.scalars(free))]
        if not chosen:
            return []
    taken = await session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(chosen), Delivery.status == "pending")
        .values(claimed_by=worker, claimed_until=lease_until)
        .returning(Delivery)
    )
    order = {delivery_id: index for index, delivery_id in enumerate(chosen)}
    return sorted(taken, key=lambda row: order[row.id])


async def unlease(session: AsyncSession, ids: Sequence[int], worker: str) -> None:
    """Give back rows this worker leased but did not hand to a relay (pre-empted)."""
    if ids:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(ids)), Delivery.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )


async def claimed_chats_elsewhere(session: AsyncSession, worker: str, now: datetime) -> set[Chat]:
    """Chats another worker is sending to right now: keep their order by leaving them."""
    rows = await session.execute(
        select(Delivery.platform, Delivery.address)
        .where(
            Delivery.status == "pending",
            Delivery.claimed_until > now,
            Delivery.claimed_by != worker,
        )
        .distinct()
    )
    return {(platform, address) for platform, address in rows}


async def release_all_claims(session: AsyncSession) -> None:
    """At start on SQLite: only one dispatcher exists, so every lease is stale."""
    await session.execute(
        update(Delivery)
        .where(Delivery.status == "pending", Delivery.claimed_by.is_not(None))
        .values(claimed_by=None, claimed_until=None)
    )


WORKER_PREFIX = "worker:"


async def heartbeat(session: AsyncSession, worker: str, now: datetime) -> None:
    """Say this dispatcher is alive (a row in platform_state, no extra table)."""
    row = await session.get(PlatformState, WORKER_PREFIX + worker)
    if row is None:
        session.add(PlatformState(key=WORKER_PREFIX + worker, value="alive", updated_at=now))
    else:
        row.updated_at = now


async def release_dead_workers(session: AsyncSession, stale_before: datetime) -> int:
    """Give back the rows leased by dispatchers that stopped beating (killed, crashed).

    Their sends that were in flight may have reached the platform: that is the at-least-once
    window (Matrix resends reuse the stored transaction id, so they are not duplicated).
    """
    alive = select(func.substr(PlatformState.key, len(WORKER_PREFIX) + 1)).where(
        PlatformState.key.like(WORKER_PREFIX + "%"), PlatformState.updated_at >= stale_before
    )
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.status == "pending",
            Delivery.claimed_by.is_not(None),
            Delivery.claimed_by.not_in(alive),
        )
        .values(claimed_by=None, claimed_until=None)
    )
    await session.execute(
        delete(PlatformState).where(
            PlatformState.key.like(WORKER_PREFIX + "%"), PlatformState.updated_at < stale_before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def retire(session: AsyncSession, worker: str) -> None:
    """A clean stop: release this worker's leases and its heartbeat."""
    await session.execute(
        update(Delivery)
        .where(Delivery.status == "pending", Delivery.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
    )
    await session.execute(delete(PlatformState).where(PlatformState.key == WORKER_PREFIX + worker))


async def message_id_of(session: AsyncSession, delivery_id: int | None) -> str | None:
    if delivery_id is None:
        return None
    return await session.scalar(
        select(Delivery.platform_message_id).where(Delivery.id == delivery_id)
    )


async def mark_sent(
    session: AsyncSession, delivery_id: int, platform_message_id: str, now: datetime
) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status="sent",
            platform_message_id=platform_message_id,
            sent_at=now,
            attempts=Delivery.attempts + 1,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
    )


async def pause_chat(session: AsyncSession, chat: Chat, until: datetime) -> None:
    """Hold every pending delivery of one chat until `until`, keeping their order; the
    pause itself is kept too, so rows written meanwhile wait as well."""
    platform, address = chat
    await session.execute(
        update(Delivery)
        .where(_pending_in(chat), Delivery.next_attempt_at < until)
        .values(next_attempt_at=until)
    )
    # One statement: another dispatcher may write or forget this chat's pause meanwhile
    # (a read-then-write here failed on a pause forgotten in between).
    await queries.upsert(
        session,
        ChatPause,
        {"platform": platform, "address": address, "until": until},
        key=("platform", "address"),
        update=lambda proposed: {
            "until": case(
                (proposed.until > ChatPause.until, proposed.until), else_=ChatPause.until
            )
        },
    )


async def forget_pauses(session: AsyncSession, now: datetime) -> None:
    """Pauses that ended hold nothing any more."""
    await session.execute(delete(ChatPause).where(ChatPause.until <= now))


async def schedule_retry(
    session: AsyncSession, delivery_id: int, at: datetime, error: str, count_attempt: bool = True
) -> None:
    values: dict[str, object] = {
        "next_attempt_at": at,
        "last_error": error,
        "claimed_by": None,
        "claimed_until": None,
    }
    if count_attempt:
        values["attempts"] = Delivery.attempts + 1
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def mark_final(
    session: AsyncSession, delivery_ids: Sequence[int], status: str, error: str
) -> None:
    """`dead` (gave up) or `cancelled` (the chat is gone): kept, never silently deleted."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)))
        .values(status=status, last_error=error, claimed_by=None, claimed_until=None)
    )


async def pending_ids_of_chat(session: AsyncSession, chat: Chat) -> list[int]:
    rows = await session.scalars(select(Delivery.id).where(_pending_in(chat)))
    return list(rows)


async def move_chat(session: AsyncSession, chat: Chat, new_address: str) -> None:
    """A Telegram group became a supergroup: its channel and queue follow the new id."""
    platform, address = chat
    await session.execute(
        update(Channel)
        .where(Channel.platform == platform, Channel.address == address)
        .values(address=new_address)
    )
    await session.execute(
        update(Delivery)
        .where(_pending_in(chat))
        .values(address=new_address, claimed_by=None, claimed_until=None)
    )


async def deactivate_channel(session: AsyncSession, chat: Chat, reason: str) -> list[Channel]:
    """Deactivate the chat's channels; returns those that were active (tell admins once)."""
    platform, address = chat
    channels = list(
        await session.scalars(
            select(Channel).where(
                Channel.platform == platform, Channel.address == address, Channel.active.is_(True)
            )
        )
    )
    for channel in channels:
        channel.active, channel.inactive_reason = False, reason
    return channels


async def set_payload(session: AsyncSession, delivery_id: int, payload: str) -> None:
    await session.execute(
        update(Delivery).where(Delivery.id == delivery_id).values(payload=payload)
    )


async def next_due(
    session: AsyncSession, platforms: Collection[str], now: datetime
) -> datetime | None:
    """When the next delivery falls due: its own time, or the end of its chat's pause."""
    own = await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending",
            Delivery.platform.in_(list(platforms)),
            ~_paused_at(Delivery.next_attempt_at),
        )
    )
    pause_ends = await session.scalar(
        select(func.min(ChatPause.until)).where(
            ChatPause.until > now,
            ChatPause.platform.in_(list(platforms)),
            exists().where(
                Delivery.platform == ChatPause.platform,
                Delivery.address == ChatPause.address,
                Delivery.status == "pending",
            ),
        )
    )
    times = [time for time in (own, pause_ends) if time is not None]
    return min(times) if times else None


async def count_due(session: AsyncSession, platforms: Collection[str], now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.status == "pending",
                Delivery.platform.in_(list(platforms)),
                Delivery.next_attempt_at <= now,
                ~_paused_at(now),
            )
        )
        or 0
    )


async def release_held(session: AsyncSession, chat: Chat, now: datetime) -> None:
    """A silence was lifted: what it held is due now (quiet hours still apply at routing)."""
    await session.execute(
        update(Delivery)
        .where(_pending_in(chat), Delivery.next_attempt_at > now, Delivery.attempts == 0)
        .values(next_attempt_at=now)
    )
