"""The audit log: who did what and when. Never message text, never a name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import delivery_buffer
from storage.models import AuditEntry

# The actions the code records (`detail` is code-made: a role, a count, an id).
ACTIONS = (
    "alert.raised",
    "mobilisation.created",
    "mobilisation.closed",
    "invitation.made",
    "invitation.used",
    "invitation.revoked",
    "member.role",
    "member.removed",
    "member.erased",
    "organisation.created",
    "organisation.changed",
    "subscription.changed",
    "feed.added",
    "feed.removed",
    "channel.muted",
    "channel.unmuted",
    "purge",
)


def record(
    session: AsyncSession,
    *,
    action: str,
    actor_member_id: int | None,
    organisation_id: str | None,
    at: datetime,
    detail: str | None = None,
) -> None:
    """Add an entry in the caller's transaction: it stands or falls with the act."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    row = {
        "at": at,
        "action": action,
        "actor_member_id": actor_member_id,
        "organisation_id": organisation_id,
        "detail": detail[:200] if detail else None,
    }
    # Buffered with the outbox rows: written in one INSERT before the next statement or
    # the commit, without a flush of its own in the middle of raising an alert.
    delivery_buffer.add(session.sync_session, [row], AuditEntry)


async def latest(
    session: AsyncSession, *, limit: int, organisation_id: str | None = None
) -> Sequence[AuditEntry]:
    """The last `limit` entries, newest first; only one organisation's when given."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if organisation_id is not None:
        query = query.where(AuditEntry.organisation_id == organisation_id)
    return (await session.scalars(query)).all()


async def since(session: AsyncSession, start: datetime) -> Sequence[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.at >= start).order_by(AuditEntry.id)
    return (await session.scalars(query)).all()
