"""Showing a call's current state in every copy: one edit per copy, through the outbox.

An edit still waiting for its turn is rewritten with the newer state instead of queueing
another, so a burst of answers costs each copy at most one edit per window whatever the
platform's pace; edits sit below urgent alerts in every chat's queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.mobilisations.counts import NeedCount, count_needs
from alerts.mobilisations.needs import Need
from alerts.mobilisations.render import CallRenderer, CallView
from alerts.outbox import FactRef, Outbox, Target, cleaned
from alerts.stored_views import alert_view
from storage import mobilisation_queries
from storage.mobilisation_queries import EditState
from storage.models import Alert, Delivery, Mobilisation

# Below every alert (info 10 … vital 90) except announcements: a count never overtakes an
# urgent alert in a chat, and a call's copy (≥ 10) always goes before its own edits.
COUNT_EDIT_PRIORITY = 5


async def call_counts(session: AsyncSession, alert_id: int) -> tuple[NeedCount, ...]:
    wanted: dict[Need, int] = {}
    for need, count in await mobilisation_queries.needs_of(session, alert_id):
        try:
            wanted[Need(need)] = count
        except ValueError:
            continue  # a need this version does not know: not shown, not counted
    going: list[Need | None] = []
    known = {n.value for n in Need}
    for name in await mobilisation_queries.going_needs(session, alert_id):
        going.append(Need(name) if name in known else None)
    ordered = {need: wanted[need] for need in Need if need in wanted}
    return tuple(count_needs(ordered, going))


async def call_view(session: AsyncSession, alert: Alert, mobilisation: Mobilisation) -> CallView:
    # A call's card never carried the follow-up line: its view leaves the parent out.
    view = replace(await alert_view(session, alert), parent_id=None)
    return CallView(
        alert=view,
        counts=await call_counts(session, alert.id),
        starts_at=mobilisation.starts_at,
        closed=alert.status == "closed",
        outcome=alert.outcome,
    )


async def show_everywhere(
    session: AsyncSession,
    renderer: CallRenderer,
    outbox: Outbox,
    alert: Alert,
    mobilisation: Mobilisation,
    now: datetime,
    every: timedelta,
) -> int:
    """Edit every copy to the call's current state; returns how many copies. A copy edited
    (or being edited) less than `every` ago gets its next edit a window after that one."""
    view = await call_view(session, alert, mobilisation)
    states = await mobilisation_queries.edit_states(session, alert.id, now)
    copies = await mobilisation_queries.copies(session, alert.id)
    channels = await mobilisation_queries.channels_by_id(
        session, [copy.channel_id for copy in copies if copy.channel_id]
    )
    # Copies by the rendering they show (one per language and location choice).
    groups: dict[tuple[str, bool], list[Delivery]] = {}
    for copy in copies:
        channel = channels.get(copy.channel_id or "")
        if channel is not None:
            groups.setdefault((channel.language, channel.share_locations), []).append(copy)
    for key, group in groups.items():
        message = cleaned(renderer.render(view, *key))
        waiting = {
            copy.id: edit
            for copy in group
            if (edit := states.get(copy.id, EditState()).waiting) is not None
        }
        rewritten = await mobilisation_queries.replace_waiting_edits(
            session, list(waiting.values()), message.to_json()
        )
        for copy in group:
            if waiting.get(copy.id) in rewritten:
                continue
            last = states.get(copy.id, EditState()).last
            at = copy.next_attempt_at if copy.status == "pending" else now
            outbox.enqueue(
                session,
                Target(copy.platform, copy.address, copy.channel_id),
                message,
                fact=FactRef("alert", alert.id, alert.kind),
                priority=COUNT_EDIT_PRIORITY,
                now=now,
                deliver_at=max(at, last + every) if last is not None else at,
                edit_of_delivery_id=copy.id,
            )
    mobilisation.count_due_at = None
    return sum(len(group) for group in groups.values())
