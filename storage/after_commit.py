"""Callbacks run once a session's transaction is committed, never after a rollback.

Counting an accepted fact inside its transaction would count it twice when a group
commit is rolled back and handled again one by one, and count what was never stored.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from storage.delivery_buffer import OutboxSession

_CALLBACKS = "tocsin.after_commit"


def after_commit(session: Session, callback: Callable[[], None], *, once: bool = False) -> None:
    """Run `callback` after the commit; `once`: not again if it is already registered
    (equal callbacks, e.g. the same bound method, registered by every row of a fan-out)."""
    callbacks = session.info.setdefault(_CALLBACKS, [])
    if once and callback in callbacks:
        return
    callbacks.append(callback)


def _run(session: Session) -> None:
    for callback in session.info.pop(_CALLBACKS, ()):
        callback()


def _forget(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_CALLBACKS, None)


def install() -> None:
    """Hook the callbacks into `OutboxSession` (idempotent; called when a database opens)."""
    for name, hook in (("after_commit", _run), ("after_soft_rollback", _forget)):
        if not event.contains(OutboxSession, name, hook):
            event.listen(OutboxSession, name, hook)
