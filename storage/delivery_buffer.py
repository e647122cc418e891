"""Outbox rows (and audit entries) collected per transaction, written in one INSERT per
table.

A fan-out adds many rows at once. Built as ORM objects, each row costs its construction
and the unit of work's bookkeeping, more than the INSERT itself; here they are plain
column values, written by one multi-row INSERT before the transaction commits and
before any other statement the transaction runs (so a query in the same transaction
sees them, exactly as with the ORM's autoflush). A rollback drops them with the rest.
The audit log's entries, one per act, take the same way: written by the ORM, each cost
a flush of its own in the middle of the intake path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from storage.models import Base, Delivery

_PENDING = "tocsin.pending_deliveries"
_WRITING = "tocsin.writing_deliveries"
Row = dict[str, Any]


class OutboxSession(Session):
    """The session class of `Database.sessions`: writes its buffered outbox rows."""


class NotAnOutboxSession(TypeError):
    """Outbox rows given to a session that would never write them."""

    def __init__(self) -> None:
        super().__init__("outbox rows need a session from Database.sessions")


def add(session: Session, rows: list[Row], model: type[Base] = Delivery) -> None:
    """Buffer `rows` of `model`'s table (outbox rows unless said otherwise)."""
    if not isinstance(session, OutboxSession):
        raise NotAnOutboxSession  # fail loudly rather than lose them
    session.info.setdefault(_PENDING, {}).setdefault(model, []).extend(rows)


def write(session: Session) -> None:
    """Write what is buffered now (ORM objects first: rows may refer to them)."""
    pending: dict[type[Base], list[Row]] | None = session.info.get(_PENDING)
    if not pending or session.info.get(_WRITING):
        return
    session.info[_WRITING] = True
    try:
        session.flush()
        session.info[_PENDING] = {}
        for model, rows in pending.items():
            session.connection().execute(insert(model), rows)
    finally:
        session.info[_WRITING] = False


def write_returning_ids(session: Session, rows: list[Row]) -> list[int]:
    """Write the buffer and `rows` now; the ids of `rows`, in order."""
    write(session)
    statement = insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True)
    result = session.connection().execute(statement, rows)
    return [int(delivery_id) for (delivery_id,) in result]


def _before_statement(state: ORMExecuteState) -> None:
    write(state.session)


def _before_commit(session: Session) -> None:
    write(session)


def _after_rollback(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Hook the buffer into `OutboxSession` (idempotent; called when a database opens)."""
    hooks = (
        ("do_orm_execute", _before_statement),
        ("before_commit", _before_commit),
        ("after_soft_rollback", _after_rollback),
    )
    for name, hook in hooks:
        if not event.contains(OutboxSession, name, hook):
            event.listen(OutboxSession, name, hook)
