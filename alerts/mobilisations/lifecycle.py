"""When a call's deadlines fall, and whether one still fires when it is due: decisions
on plain values, so each is tested without a database or a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.types import Urgency

UNSTARTED_CLOSE = timedelta(hours=24)  # a call with no start closes a day after it began


@dataclass(frozen=True)
class Timings:
    escalate_after: timedelta
    remind_before: timedelta
    close_after: timedelta
    edit_every: timedelta


@dataclass(frozen=True)
class Deadlines:
    escalate_at: datetime | None
    remind_at: datetime | None
    close_at: datetime


def deadlines(
    timings: Timings,
    created_at: datetime,
    starts_at: datetime | None,
    escalate_after: timedelta | None = None,
) -> Deadlines:
    """A reminder only when there is a start still far enough ahead to remind before it."""
    escalate = escalate_after or timings.escalate_after
    remind_at = None
    if starts_at is not None and starts_at - timings.remind_before > created_at:
        remind_at = starts_at - timings.remind_before
    close_at = (
        starts_at + timings.close_after if starts_at is not None else created_at + UNSTARTED_CLOSE
    )
    return Deadlines(created_at + escalate, remind_at, close_at)


def should_escalate(*, is_open: bool, covered: bool, escalated: bool) -> bool:
    """Once, and never once the needs are covered or the call closed."""
    return is_open and not covered and not escalated


def raised(urgency: Urgency) -> Urgency:
    """One step up; `vital` stays `vital`."""
    order = [Urgency.INFO, Urgency.NORMAL, Urgency.URGENT, Urgency.VITAL]
    return order[min(len(order) - 1, order.index(urgency) + 1)]


def count_due(current: datetime | None, now: datetime, every: timedelta) -> datetime:
    """When the copies show a new answer: a burst within `every` makes one edit per copy
    (the first answer of a quiet call waits `every` too, gathering those that follow)."""
    return current if current is not None else now + every
