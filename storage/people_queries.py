"""Organisations, members and invitations as managed from chat, in the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Alert,
    AuditEntry,
    Conversation,
    Delivery,
    Invitation,
    Member,
    MobilisationAnswer,
    Organisation,
    PlatformState,
)

CHAT = "chat"
ERASED_ADDRESS = "erased"  # as storage/retention_queries.py
FINAL_STATUSES = ("sent", "failed", "cancelled", "dead")


async def organisation(session: AsyncSession, organisation_id: str) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def organisations(session: AsyncSession) -> Sequence[Organisation]:
    return (await session.scalars(select(Organisation).order_by(Organisation.id))).all()


def add_organisation(session: AsyncSession, organisation_id: str, name: str) -> Organisation:
    row = Organisation(id=organisation_id, name=name, source=CHAT)
    session.add(row)
    return row


async def member(session: AsyncSession, member_id: int) -> Member | None:
    return await session.get(Member, member_id)


async def members(session: AsyncSession, organisation_id: str | None) -> Sequence[Member]:
    """Every member, or one organisation's, by number."""
    query = select(Member).order_by(Member.id)
    if organisation_id is not None:
        query = query.where(Member.organisation_id == organisation_id)
    return (await session.scalars(query)).all()


async def count_role(session: AsyncSession, role: str) -> int:
    query = select(func.count()).select_from(Member).where(Member.role == role)
    return int(await session.scalar(query) or 0)


async def add_member(
    session: AsyncSession,
    *,
    platform: str,
    user_ref: str,
    organisation_id: str,
    role: str,
    language: str | None,
    now: datetime,
) -> Member:
    row = Member(
        platform=platform,
        user_ref=user_ref,
        organisation_id=organisation_id,
        role=role,
        language=language,
        source=CHAT,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


def add_invitation(session: AsyncSession, **values: object) -> Invitation:
    row = Invitation(**values)
    session.add(row)
    return row


async def invitation_by_hash(session: AsyncSession, code_hash: str) -> Invitation | None:
    query = select(Invitation).where(Invitation.code_hash == code_hash).with_for_update()
    return await session.scalar(query)


async def open_invitations(
    session: AsyncSession, organisation_id: str | None, now: datetime
) -> Sequence[Invitation]:
    query = (
        select(Invitation)
        .where(
            Invitation.revoked_at.is_(None),
            Invitation.uses_left > 0,
            Invitation.expires_at > now,
        )
        .order_by(Invitation.id)
    )
    if organisation_id is not None:
        query = query.where(Invitation.organisation_id == organisation_id)
    return (await session.scalars(query)).all()


async def unlink_member(session: AsyncSession, member: Member) -> None:
    """Delete a member and every link from what they did to them: their alerts stay
    (authored by "a former member"), their answers count without them, their guided
    draft (a conversation in progress) goes."""
    member_id = member.id
    await session.execute(
        update(Alert).where(Alert.author_member_id == member_id).values(author_member_id=None)
    )
    await session.execute(
        update(MobilisationAnswer)
        .where(MobilisationAnswer.member_id == member_id)
        .values(member_id=None)
    )
    await session.execute(
        update(Invitation)
        .where(Invitation.created_by_member_id == member_id)
        .values(created_by_member_id=None)
    )
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor_member_id == member_id)
        .values(actor_member_id=None)
    )
    await session.execute(
        delete(Conversation).where(
            Conversation.platform == member.platform, Conversation.user_ref == member.user_ref
        )
    )
    await session.delete(member)
    await session.flush()


async def erase_private_chat(
    session: AsyncSession, platform: str, address: str, empty_payload: str
) -> int:
    """The messages already sent to a person's private chat (their receipts, the bot's
    answers) lose their body and address. Pending ones (this very answer) stay to be
    sent. Rows are kept: SQLite would give a deleted last id to the next row."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.platform == platform,
            Delivery.address == address,
            Delivery.status.in_(FINAL_STATUSES),
        )
        .values(payload=empty_payload, address=ERASED_ADDRESS, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def forget_state(session: AsyncSession, key: str) -> None:
    """A relay's note about a person (the Matrix room of their direct chat)."""
    await session.execute(delete(PlatformState).where(PlatformState.key == key))
