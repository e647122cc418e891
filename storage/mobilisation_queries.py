"""Reads and writes on mobilisation calls (their deadlines, needs, answers) and on their
copies in the outbox, in the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import alert_queries
from storage.models import (
    Alert,
    Channel,
    Delivery,
    Member,
    Mobilisation,
    MobilisationAnswer,
    MobilisationNeed,
)


async def insert_call(
    session: AsyncSession,
    alert_id: int,
    needs: Sequence[tuple[str, int]],
    *,
    starts_at: datetime | None,
    escalate_at: datetime | None,
    remind_at: datetime | None,
    close_at: datetime,
) -> None:
    session.add(
        Mobilisation(
            alert_id=alert_id,
            starts_at=starts_at,
            escalate_at=escalate_at,
            remind_at=remind_at,
            close_at=close_at,
        )
    )
    session.add_all(MobilisationNeed(alert_id=alert_id, need=n, wanted=w) for n, w in needs)
    await session.flush()


async def call(session: AsyncSession, alert_id: int) -> tuple[Alert, Mobilisation] | None:
    row = (
        await session.execute(
            select(Alert, Mobilisation)
            .join(Mobilisation, Mobilisation.alert_id == Alert.id)
            .where(Alert.id == alert_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def needs_of(session: AsyncSession, alert_id: int) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(MobilisationNeed.need, MobilisationNeed.wanted)
        .where(MobilisationNeed.alert_id == alert_id)
        .order_by(MobilisationNeed.need)
    )
    return [(need, wanted) for need, wanted in rows]


async def going_needs(session: AsyncSession, alert_id: int) -> list[str | None]:
    """The need of every current "going" answer (a removed member's answer included:
    the count survives them)."""
    rows = await session.scalars(
        select(MobilisationAnswer.need).where(
            MobilisationAnswer.alert_id == alert_id, MobilisationAnswer.answer == "going"
        )
    )
    return list(rows)


async def answer_of(
    session: AsyncSession, alert_id: int, member_id: int
) -> MobilisationAnswer | None:
    return await session.scalar(
        select(MobilisationAnswer).where(
            MobilisationAnswer.alert_id == alert_id, MobilisationAnswer.member_id == member_id
        )
    )


async def set_answer(
    session: AsyncSession,
    alert_id: int,
    member_id: int,
    answer: str,
    need: str | None,
    now: datetime,
) -> bool:
    """The member's one current answer; False when it was already exactly that."""
    current = await answer_of(session, alert_id, member_id)
    if current is None:
        session.add(
            MobilisationAnswer(
                alert_id=alert_id,
                member_id=member_id,
                answer=answer,
                need=need,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        return True
    if current.answer == answer and current.need == need:
        return False
    current.answer, current.need, current.updated_at = answer, need, now
    current.notified_at = None  # changed: the coordinator hears of it again
    return True


async def unnoticed_answers(
    session: AsyncSession, alert_id: int
) -> list[tuple[MobilisationAnswer, Member]]:
    """Answers the call's coordinator was not told yet, oldest first."""
    rows = await session.execute(
        select(MobilisationAnswer, Member)
        .join(Member, Member.id == MobilisationAnswer.member_id)
        .where(MobilisationAnswer.alert_id == alert_id, MobilisationAnswer.notified_at.is_(None))
        .order_by(MobilisationAnswer.updated_at, MobilisationAnswer.id)
    )
    return [(answer, member) for answer, member in rows]


async def answers_with_members(
    session: AsyncSession, alert_id: int
) -> list[tuple[MobilisationAnswer, Member | None]]:
    rows = await session.execute(
        select(MobilisationAnswer, Member)
        .outerjoin(Member, Member.id == MobilisationAnswer.member_id)
        .where(MobilisationAnswer.alert_id == alert_id)
        .order_by(MobilisationAnswer.updated_at, MobilisationAnswer.id)
    )
    return [(answer, member) for answer, member in rows]


async def going_members(session: AsyncSession, alert_id: int) -> Sequence[Member]:
    return (
        await session.scalars(
            select(Member)
            .join(MobilisationAnswer, MobilisationAnswer.member_id == Member.id)
            .where(MobilisationAnswer.alert_id == alert_id, MobilisationAnswer.answer == "going")
            .order_by(Member.id)
        )
    ).all()


def _open() -> ColumnElement[bool]:
    return Alert.status == "open"


async def _due(session: AsyncSession, condition: ColumnElement[bool]) -> list[int]:
    rows = await session.scalars(
        select(Mobilisation.alert_id)
        .join(Alert, Alert.id == Mobilisation.alert_id)
        .where(condition)
        .order_by(Mobilisation.alert_id)
    )
    return list(rows)


async def due_counts(session: AsyncSession, now: datetime) -> list[int]:
    return await _due(session, Mobilisation.count_due_at <= now)


async def due_escalations(session: AsyncSession, now: datetime) -> list[int]:
    return await _due(
        session,
        _open() & (Mobilisation.escalate_at <= now) & Mobilisation.escalated_at.is_(None),
    )


async def due_reminders(session: AsyncSession, now: datetime) -> list[int]:
    return await _due(
        session, _open() & (Mobilisation.remind_at <= now) & Mobilisation.reminded_at.is_(None)
    )


async def due_closings(session: AsyncSession, now: datetime) -> list[int]:
    return await _due(session, _open() & (Mobilisation.close_at <= now))


async def lock_call(session: AsyncSession, alert_id: int) -> Mobilisation | None:
    """The call's row, locked on PostgreSQL so two processes never fire one deadline
    twice (SQLite writes one transaction at a time anyway)."""
    return await session.scalar(
        select(Mobilisation).where(Mobilisation.alert_id == alert_id).with_for_update()
    )


async def copies(session: AsyncSession, alert_id: int) -> Sequence[Delivery]:
    """Every channel copy of the call (first part, not an edit), queued or sent."""
    return await alert_queries.editable_copies(session, alert_id, first_parts_only=True)


async def channels_with_copies(session: AsyncSession, alert_id: int) -> set[str]:
    rows = await session.scalars(
        select(Delivery.channel_id).where(
            Delivery.fact_type == "alert",
            Delivery.fact_id == alert_id,
            Delivery.channel_id.is_not(None),
            Delivery.edit_of_delivery_id.is_(None),
        )
    )
    return {row for row in rows if row is not None}


@dataclass(frozen=True)
class EditState:
    """Where a copy's edits stand: one still waiting unclaimed (a newer count rewrites its
    payload instead of queueing another), and when the copy was last edited or is being
    edited (the next edit waits a window after it)."""

    waiting: int | None = None
    last: datetime | None = None


async def edit_states(session: AsyncSession, alert_id: int, now: datetime) -> dict[int, EditState]:
    rows = await session.execute(
        select(
            Delivery.edit_of_delivery_id,
            Delivery.id,
            Delivery.status,
            Delivery.claimed_by,
            Delivery.sent_at,
        ).where(
            Delivery.fact_type == "alert",
            Delivery.fact_id == alert_id,
            Delivery.edit_of_delivery_id.is_not(None),
            Delivery.status.in_(("pending", "sent")),
        )
    )
    states: dict[int, EditState] = {}
    for copy, edit, status, claimed_by, sent_at in rows:
        if copy is None:
            continue
        state = states.get(copy, EditState())
        if status == "pending" and claimed_by is None:
            state = EditState(edit, state.last)
        else:  # sent, or being sent now
            moment = sent_at if status == "sent" and sent_at is not None else now
            state = EditState(state.waiting, max(filter(None, (state.last, moment))))
        states[copy] = state
    return states


async def replace_waiting_edits(
    session: AsyncSession, edit_ids: Sequence[int], payload: str
) -> set[int]:
    """Rewrite the waiting edits in one statement; returns those rewritten (the others
    were claimed by the dispatcher meanwhile: a new edit is queued for their copies)."""
    if not edit_ids:
        return set()
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(list(edit_ids)),
            Delivery.status == "pending",
            Delivery.claimed_by.is_(None),
        )
        .values(payload=payload)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def channels_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Channel]:
    found = await session.scalars(select(Channel).where(Channel.id.in_(list(set(ids)))))
    return {channel.id: channel for channel in found}


async def open_calls_with_start(
    session: AsyncSession, after: datetime
) -> list[tuple[Alert, Mobilisation]]:
    rows = await session.execute(
        select(Alert, Mobilisation)
        .join(Mobilisation, Mobilisation.alert_id == Alert.id)
        .where(_open(), Mobilisation.starts_at.is_not(None), Mobilisation.starts_at >= after)
        .order_by(Mobilisation.starts_at, Alert.id)
    )
    return [(alert, mobilisation) for alert, mobilisation in rows]
