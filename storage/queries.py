"""Reusable reads and small writes. Each function runs inside the caller's session."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Executable,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from storage.models import (
    Alert,
    AlertRefusal,
    Base,
    Channel,
    Delivery,
    InboundSeen,
    Member,
    Organisation,
    PlatformState,
    Subscription,
)


async def active_channels(session: AsyncSession) -> Sequence[Channel]:
    result = await session.scalars(
        select(Channel).where(Channel.active.is_(True)).order_by(Channel.id)
    )
    return result.all()


async def subscriptions_of(
    session: AsyncSession, channel_ids: Sequence[str]
) -> Sequence[Subscription]:
    if not channel_ids:
        return []
    result = await session.scalars(
        select(Subscription)
        .where(Subscription.channel_id.in_(channel_ids))
        .order_by(Subscription.id)
    )
    return result.all()


# The statements every inbound update runs are built once, with bound parameters, and
# those that need no objects run on the tables (Core), not through the ORM: building and
# mapping a statement costs SQLAlchemy more than SQLite takes to run it.


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


@functools.cache
def _member_by_account() -> Select[Member]:
    return select(Member).where(
        Member.platform == bindparam("platform"), Member.user_ref == bindparam("user")
    )


async def member_by_account(session: AsyncSession, platform: str, user: str) -> Member | None:
    return await session.scalar(_member_by_account(), {"platform": platform, "user": user})


async def organisation(session: AsyncSession, organisation_id: str) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def admins_of(session: AsyncSession, organisation_id: str | None) -> Sequence[Member]:
    """The organisation's admins, and the network admins (who hear about everything)."""
    query = select(Member).where(
        (Member.role == "admin")
        | ((Member.role == "org-admin") & (Member.organisation_id == organisation_id))
    )
    return (await session.scalars(query.order_by(Member.id))).all()


Excluded: TypeAlias = ReadOnlyColumnCollection[str, Any]


async def upsert(
    session: AsyncSession,
    model: type[Base],
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    update: Callable[[Excluded], Mapping[str, ColumnElement[Any] | Any]],
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE, one statement: a row another process wrote
    in the meantime is updated instead of failing on a duplicate key. `update` maps the
    columns to set, given the proposed row (`excluded`); the stored row's columns are the
    model's own."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_table(model)).values(dict(values))
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(key), set_=update(statement.excluded))
    )


async def mark_inbound_seen(
    session: AsyncSession, platform: str, update_id: str, now: datetime
) -> bool:
    """Record an inbound update id; False if it was already handled (a redelivery)."""
    statement = _mark_inbound_seen(session.get_bind().dialect.name)
    result = await session.execute(
        statement, {"platform": platform, "update_id": update_id, "seen_at": now}
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _mark_inbound_seen(dialect: str) -> Executable:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # On the table, not the entity: a Core INSERT, whose result counts the rows written.
    return insert(_table(InboundSeen)).on_conflict_do_nothing(
        index_elements=["platform", "update_id"]
    )


async def claim_turn(session: AsyncSession, key: str, now: datetime, *, every: timedelta) -> bool:
    """Take the turn named `key` if its last one is at least `every` old (or there was
    none): at most one turn per period, also between processes (one conditional upsert
    of a `platform_state` row, which a concurrent claim waits for, then sees)."""
    statement = _claim_turn(session.get_bind().dialect.name)
    result = await session.execute(
        statement, {"key": key, "value": now.isoformat(), "now": now, "cutoff": now - every}
    )
    return result.first() is not None


@functools.cache
def _claim_turn(dialect: str) -> Executable:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    state = _table(PlatformState)
    statement = insert(state).values(
        key=bindparam("key"), value=bindparam("value"), updated_at=bindparam("now")
    )
    return statement.on_conflict_do_update(
        index_elements=[state.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        where=state.c.updated_at <= bindparam("cutoff"),
    ).returning(state.c.key)


async def prune_state(session: AsyncSession, marker: str, before: datetime) -> None:
    """Forget the `platform_state` rows whose key holds `marker`, last written before."""
    state = _table(PlatformState)
    await session.execute(
        delete(state).where(state.c.key.contains(marker), state.c.updated_at < before)
    )


async def prune_inbound_seen(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(InboundSeen).where(InboundSeen.seen_at < before))


async def get_state(session: AsyncSession, key: str) -> str | None:
    row = await session.get(PlatformState, key)
    return row.value if row else None


async def set_state(session: AsyncSession, key: str, value: str, now: datetime) -> None:
    row = await session.get(PlatformState, key)
    if row is None:
        session.add(PlatformState(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


async def first_parts_of(
    session: AsyncSession, fact_type: str, fact_id: int
) -> dict[tuple[str, str], int]:
    """(platform, address) → id of the first delivery of a fact there (for replies)."""
    rows = await session.execute(_first_parts_of(), {"fact_type": fact_type, "fact_id": fact_id})
    found: dict[tuple[str, str], int] = {}
    for platform, address, delivery_id in rows:
        found.setdefault((platform, address), delivery_id)
    return found


@functools.cache
def _first_parts_of() -> Select[str, str, int]:
    deliveries = _table(Delivery)
    return (
        select(deliveries.c.platform, deliveries.c.address, deliveries.c.id)
        .where(
            deliveries.c.fact_type == bindparam("fact_type"),
            deliveries.c.fact_id == bindparam("fact_id"),
            deliveries.c.part == 0,
        )
        .order_by(deliveries.c.id)
    )


async def insert_alert(session: AsyncSession, values: dict[str, object]) -> int:
    """Write an alert (a column → value mapping); its id."""
    return int((await session.execute(_insert_alert(), values)).scalar_one())


@functools.cache
def _insert_alert() -> Executable:
    alerts = _table(Alert)
    return insert(alerts).returning(alerts.c.id)


async def recent_alerts_at(
    session: AsyncSession, place_key: str, since: datetime
) -> list[tuple[int, str]]:
    """The latest alerts (not follow-ups) raised at a place since `since`: (id, themes)."""
    rows = await session.execute(_recent_alerts_at(), {"place_key": place_key, "since": since})
    return [(int(alert_id), themes) for alert_id, themes in rows]


@functools.cache
def _recent_alerts_at() -> Select[int, str]:
    alerts = _table(Alert)
    return (
        select(alerts.c.id, alerts.c.themes)
        .where(
            alerts.c.place_key == bindparam("place_key"),
            alerts.c.kind == "alert",
            alerts.c.parent_id.is_(None),
            alerts.c.created_at >= bindparam("since"),
        )
        .order_by(alerts.c.id.desc())
        .limit(5)
    )


# -- the per-member intake limit ----------------------------------------------------------


# The advisory lock's key: "the intake limit's count" in the high bits, the member below.
_INTAKE_LOCK = 0x70C5 << 32


async def intake_load(
    session: AsyncSession, member_id: int, since: datetime, *, cap: int
) -> tuple[int, datetime | None]:
    """How many alerts the member raised after `since` (counted up to `cap`), and when
    the member was last told of a refusal (None: no refusal waits to be reported).

    On PostgreSQL a transaction-long advisory lock on the member comes first, so two
    processes handling the same member's alerts count one after the other (the count is
    a separate statement: it must see what the other committed while this one waited).
    SQLite has one writer at a time."""
    locked: set[int] = session.info.setdefault("intake_locked", set())
    if member_id not in locked and session.get_bind().dialect.name == "postgresql":
        key = _INTAKE_LOCK | (member_id & 0xFFFFFFFF)
        await session.execute(_lock_member(), {"key": key})
        locked.add(member_id)  # held until this transaction ends (a burst is one)
    values = {"member": member_id, "since": since, "cap": cap}
    row = (await session.execute(_intake_load(), values)).one()
    return int(row[0]), row[1]


@functools.cache
def _lock_member() -> Executable:
    # In memory only: a row lock (FOR UPDATE) would write to the member's row each time.
    return select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


@functools.cache
def _intake_load() -> Select[int, datetime | None]:
    alerts, refusals = _table(Alert), _table(AlertRefusal)
    # Counted up to the limit only: the cost stays that of a few index entries.
    latest = (
        select(alerts.c.id)
        .where(
            alerts.c.author_member_id == bindparam("member"),
            alerts.c.created_at > bindparam("since"),
        )
        .limit(bindparam("cap"))
        .subquery()
    )
    recent = select(func.count()).select_from(latest).scalar_subquery()
    told = (
        select(refusals.c.told_at)
        .where(refusals.c.member_id == bindparam("member"))
        .scalar_subquery()
    )
    return select(recent, told)


async def record_refusal(
    session: AsyncSession, member_id: int, now: datetime, *, told: bool
) -> None:
    """Count one refused alert; `told`: this one gets the refusal answer."""
    if not told:
        await session.execute(_count_refusal(), {"member": member_id, "now": now})
        return
    statement = _tell_refusal(session.get_bind().dialect.name)
    await session.execute(statement, {"member": member_id, "now": now})


@functools.cache
def _count_refusal() -> Executable:
    refusals = _table(AlertRefusal)
    return (
        update(refusals)
        .where(refusals.c.member_id == bindparam("member"))
        .values(refused=refusals.c.refused + 1, last_at=bindparam("now"))
    )


@functools.cache
def _tell_refusal(dialect: str) -> Executable:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    refusals = _table(AlertRefusal)
    now = bindparam("now", type_=refusals.c.told_at.type)
    statement = insert(refusals).values(
        member_id=bindparam("member"), refused=1, first_at=now, last_at=now, told_at=now
    )
    return statement.on_conflict_do_update(
        index_elements=[refusals.c.member_id],
        set_={
            "refused": refusals.c.refused + 1,
            "last_at": statement.excluded.last_at,
            "told_at": statement.excluded.told_at,
        },
    )


async def take_refusals(
    session: AsyncSession, member_id: int
) -> tuple[int, datetime, datetime] | None:
    """The member's refusals not yet reported (count, first, last), now reported."""
    refusals = _table(AlertRefusal)
    row = (
        await session.execute(
            delete(refusals)
            .where(refusals.c.member_id == member_id)
            .returning(refusals.c.refused, refusals.c.first_at, refusals.c.last_at)
        )
    ).first()
    return (int(row[0]), row[1], row[2]) if row else None
