"""The per-member intake limit: one member cannot flood every channel.

Beyond `[alerts] per_member_per_minute` alerts in a minute, a member's alerts are refused
(a `vital` one never is). The first refusal is answered, saying until when alerts are
refused; the others until then are refused without an answer (a burst of 300 would
otherwise get 290 answers), but counted, and the receipt of the member's next relayed
alert says how many were not relayed. Everything is counted in the database, inside the
transaction that raises the alert: the limit holds across restarts, across processes, and
within a group-commit batch (whose earlier alerts the count already sees).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from alerts.types import Urgency
from bot.context import Request
from storage import queries

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    note: str = ""  # for the receipt: what was refused before


class AlertLimit:
    def __init__(self, *, per_minute: int) -> None:
        self._per_minute = per_minute  # 0: no limit

    async def admit(self, request: Request, urgency: Urgency) -> Admission:
        """Whether the member may raise one more alert now; a refusal is answered here
        (once per refusal period) and counted."""
        member = request.member
        if self._per_minute <= 0 or member is None or urgency is Urgency.VITAL:
            return Admission(True)
        session, now = request.session, request.now
        since = now - WINDOW
        recent, told_at = await queries.intake_load(session, member.id, since, cap=self._per_minute)
        if told_at is not None and told_at > since:
            # Refused a moment ago and told until when: refused again, counted, silent.
            await queries.record_refusal(session, member.id, now, told=False)
            return Admission(False)
        if recent >= self._per_minute:
            log.info("%s: a member is over the alert limit", request.inbound.platform)
            await queries.record_refusal(session, member.id, now, told=True)
            until = (now + WINDOW).strftime("%H:%M:%S")
            request.reply(request.t("limit.refused", limit=self._per_minute, until=until))
            return Admission(False)
        if told_at is None:
            return Admission(True)
        refused = await queries.take_refusals(session, member.id)
        if refused is None:
            return Admission(True)
        count, first, last = refused
        note = request.t(
            "limit.reported",
            count=count,
            first=first.strftime("%H:%M:%S"),
            last=last.strftime("%H:%M:%S"),
            limit=self._per_minute,
        )
        return Admission(True, note)
