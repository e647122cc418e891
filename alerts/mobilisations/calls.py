"""Accepting a call and living through it: creation (fact, needs, deadlines and a copy
for every subscribed channel), answers, escalation, reminders and closing. Each writes
its facts and outbox rows in the caller's transaction; nothing is sent from here."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.alert_fanout import AcceptedAlert, Author, Origin
from alerts.channel_cache import ChannelCache
from alerts.i18n import Translator
from alerts.messages import Button, OutboundMessage, text_message
from alerts.metrics import Metrics, NoMetrics
from alerts.mobilisations.buttons import press_data
from alerts.mobilisations.copies import call_view, show_everywhere
from alerts.mobilisations.counts import all_covered, count_line, need_label
from alerts.mobilisations.draft import MobilisationDraft
from alerts.mobilisations.lifecycle import Timings, count_due, deadlines, raised, should_escalate
from alerts.mobilisations.needs import Need
from alerts.mobilisations.render import CallRenderer
from alerts.notices import private_address
from alerts.outbox import NOTICE, FactRef, Outbox, Target
from alerts.parsing import place_key
from alerts.routing import ChannelTarget, RoutableFact, deliver_at, route
from alerts.types import NOTICE_PRIORITY, Kind, Urgency, delivery_priority
from storage import audit_queries, mobilisation_queries, queries
from storage.after_commit import after_commit
from storage.models import Alert, Member, Mobilisation


class CallNotStored(RuntimeError):
    """The call written a moment ago in this transaction could not be read back."""

    def __init__(self, alert_id: int) -> None:
        super().__init__(f"mobilisation {alert_id} not found after it was written")


@dataclass(frozen=True)
class AnswerResult:
    """`code`: recorded | unchanged | closed | unknown | not_going."""

    code: str
    need: Need | None = None


class CallService:
    def __init__(
        self,
        *,
        renderer: CallRenderer,
        outbox: Outbox,
        directory: ChannelCache,
        translate: Translator,
        timings: Timings,
        escalate_to: tuple[str, ...] = (),
        language: str = "fr",
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self.renderer = renderer
        self._outbox = outbox
        self._directory = directory
        self._t = translate
        self.translate = translate
        self.timings = timings
        self._escalate_to = escalate_to
        self._language = language

    # -- the call ----------------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        draft: MobilisationDraft,
        author: Author,
        origin: Origin,
        now: datetime,
    ) -> AcceptedAlert:
        alert_draft = draft.alert
        alert_id = await queries.insert_alert(
            session,
            {
                "kind": Kind.MOBILISATION.value,
                "text": alert_draft.text,
                "border": alert_draft.border,
                "themes": json.dumps(list(alert_draft.themes)),
                "urgency": alert_draft.urgency.value,
                "place": alert_draft.place,
                "place_key": place_key(alert_draft.place, alert_draft.border),
                "people": alert_draft.people,
                "minors": alert_draft.minors,
                "author_member_id": author.member_id,
                "organisation_id": author.organisation_id,
                "status": "open",
                "source_platform": origin.platform,
                "source_chat": origin.chat,
                "source_message_id": origin.message_id,
                "created_at": now,
                "updated_at": now,
            },
        )
        due = deadlines(self.timings, now, draft.starts_at, draft.escalate_after)
        await mobilisation_queries.insert_call(
            session,
            alert_id,
            [(need.value, count) for need, count in draft.needs.items()],
            starts_at=draft.starts_at,
            escalate_at=due.escalate_at,
            remind_at=due.remind_at,
            close_at=due.close_at,
        )
        call = await mobilisation_queries.call(session, alert_id)
        if call is None:  # just written in this transaction: cannot be missing
            raise CallNotStored(alert_id)
        fact = RoutableFact(
            Kind.MOBILISATION,
            alert_draft.border,
            frozenset(alert_draft.themes),
            alert_draft.urgency,
        )
        channels = route(fact, await self._directory.targets(session))
        held = await self._send_copies(session, call, channels, alert_draft.urgency, now)
        audit_queries.record(
            session,
            action="mobilisation.created",
            actor_member_id=author.member_id,
            organisation_id=author.organisation_id,
            at=now,
            detail=f"#{alert_id} channels={len(channels)}",
        )
        received = functools.partial(
            self._metrics.alert_received, origin.platform, Kind.MOBILISATION.value
        )
        after_commit(session.sync_session, received)
        return AcceptedAlert(alert_id, Kind.MOBILISATION, len(channels), held, None)

    async def _send_copies(
        self,
        session: AsyncSession,
        call: tuple[Alert, Mobilisation],
        channels: list[ChannelTarget],
        urgency: Urgency,
        now: datetime,
    ) -> int:
        alert, mobilisation = call
        view = await call_view(session, alert, mobilisation)
        fact = RoutableFact(Kind.MOBILISATION, alert.border, frozenset(), urgency)
        rendered: dict[tuple[str, bool], OutboundMessage] = {}
        held = 0
        for channel in channels:
            key = (channel.language, channel.share_locations)
            if key not in rendered:
                rendered[key] = self.renderer.render(view, *key)
            at = deliver_at(channel, fact, now)
            held += at > now
            self._outbox.enqueue(
                session,
                Target(channel.platform, channel.address, channel.id),
                rendered[key],
                fact=FactRef("alert", alert.id, alert.kind),
                priority=delivery_priority(Kind.MOBILISATION, urgency),
                now=now,
                deliver_at=at,
            )
        return held

    # -- answers -----------------------------------------------------------------------

    async def answer(
        self,
        session: AsyncSession,
        member: Member,
        call_id: int,
        answer: str,
        need: Need | None,
        now: datetime,
    ) -> AnswerResult:
        """`answer`: going | cannot | withdrawn. One current answer per member; the same
        answer again changes nothing (a button pressed twenty times counts once)."""
        # The call's row locked first: a count refresh running now either sees this
        # answer or runs after it, never loses it.
        mobilisation = await mobilisation_queries.lock_call(session, call_id)
        alert = await session.get(Alert, call_id) if mobilisation is not None else None
        if mobilisation is None or alert is None:
            return AnswerResult("unknown")
        if alert.status != "open":
            return AnswerResult("closed")
        named = {n for n, _ in await mobilisation_queries.needs_of(session, call_id)}
        wanted = [n for n in Need if n.value in named]
        if answer == "going":
            if need is None or need not in wanted:
                need = _first(wanted)
        else:
            need = None
        if answer == "withdrawn":
            current = await mobilisation_queries.answer_of(session, call_id, member.id)
            if current is None or current.answer != "going":
                return AnswerResult("not_going")
        changed = await mobilisation_queries.set_answer(
            session, call_id, member.id, answer, need.value if need else None, now
        )
        if not changed:
            return AnswerResult("unchanged", need)
        mobilisation.count_due_at = count_due(
            mobilisation.count_due_at, now, self.timings.edit_every
        )
        return AnswerResult("recorded", need)

    async def _tell_author(
        self, session: AsyncSession, alert: Alert, mobilisation: Mobilisation, now: datetime
    ) -> None:
        """The answers the coordinator was not told yet, in one notice (a burst of answers
        makes one notice per count window, not hundreds): name, organisation, answer."""
        unnoticed = await mobilisation_queries.unnoticed_answers(session, alert.id)
        if not unnoticed:
            return
        for answer, _ in unnoticed:
            answer.notified_at = now
        author = (
            await session.get(Member, alert.author_member_id) if alert.author_member_id else None
        )
        if author is None:
            return
        lang = author.language or self._language

        def t(key: str, /, **params: object) -> str:
            return self._t(lang, key, **params)

        lines = []
        for answer, member in unnoticed[:_LISTED]:
            need = Need(answer.need) if answer.need in _NEEDS else None
            said = t(f"mob.notice.{answer.answer}", need=need_label(need, 1, t) if need else "")
            name = member.display_name or member.user_ref
            lines.append(
                t("mob.notice.line", name=name, organisation=member.organisation.name, answer=said)
            )
        if len(unnoticed) > _LISTED:
            lines.append(t("mob.notice.more", count=len(unnoticed) - _LISTED))
        counts = (await call_view(session, alert, mobilisation)).counts
        head = t("mob.notice.answers", id=alert.id, count=len(unnoticed))
        text = "\n".join([head, *lines, count_line(list(counts), t)])
        await self.tell(session, author, text_message(text), now)

    async def tell(
        self, session: AsyncSession, member: Member, message: OutboundMessage, now: datetime
    ) -> bool:
        """A private message to a member, where they can be reached."""
        address = await private_address(
            session, self._outbox.platforms, member.platform, member.user_ref
        )
        if address is None:
            return False
        self._outbox.enqueue(
            session,
            Target(member.platform, address),
            message,
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=now,
        )
        return True

    async def current_answer(
        self, session: AsyncSession, call_id: int, member_id: int
    ) -> str | None:
        found = await mobilisation_queries.answer_of(session, call_id, member_id)
        return found.answer if found is not None else None

    # -- deadlines ---------------------------------------------------------------------

    async def refresh(self, session: AsyncSession, call_id: int, now: datetime) -> int:
        mobilisation = await mobilisation_queries.lock_call(session, call_id)
        alert = await session.get(Alert, call_id)
        if mobilisation is None or alert is None or mobilisation.count_due_at is None:
            return 0
        await self._tell_author(session, alert, mobilisation, now)
        return await show_everywhere(
            session, self.renderer, self._outbox, alert, mobilisation, now, self.timings.edit_every
        )

    async def escalate(self, session: AsyncSession, call_id: int, now: datetime) -> int | None:
        """Send the call once more, urgency raised, to the escalation channels that did
        not have it; None when it no longer should (covered, closed, done)."""
        mobilisation = await mobilisation_queries.lock_call(session, call_id)
        alert = await session.get(Alert, call_id)
        if mobilisation is None or alert is None:
            return None
        view = await call_view(session, alert, mobilisation)
        if not should_escalate(
            is_open=alert.status == "open",
            covered=all_covered(view.counts),
            escalated=mobilisation.escalated_at is not None,
        ):
            mobilisation.escalated_at = mobilisation.escalated_at or now
            return None
        mobilisation.escalated_at = now
        urgency = raised(Urgency(alert.urgency))
        alert.urgency, alert.updated_at = urgency.value, now
        had = await mobilisation_queries.channels_with_copies(session, call_id)
        channels = [c for c in await self._escalation_channels(session) if c.id not in had]
        await self._send_copies(session, (alert, mobilisation), channels, urgency, now)
        if had:  # the first copies show the raised urgency too, with the next count
            mobilisation.count_due_at = count_due(
                mobilisation.count_due_at, now, self.timings.edit_every
            )
        author = (
            await session.get(Member, alert.author_member_id) if alert.author_member_id else None
        )
        if author is not None:
            lang = author.language or self._language
            text = self._t(
                lang,
                "mob.notice.escalated",
                id=call_id,
                count=len(channels),
                urgency=self._t(lang, f"urgency.{urgency.value}"),
            )
            await self.tell(session, author, text_message(text), now)
        return len(channels)

    async def _escalation_channels(self, session: AsyncSession) -> list[ChannelTarget]:
        targets = await self._directory.targets(session)
        if self._escalate_to:
            return [t for t in targets if t.id in self._escalate_to]
        return [t for t in targets if any(Kind.MOBILISATION in s.kinds for s in t.subscriptions)]

    async def remind(self, session: AsyncSession, call_id: int, now: datetime) -> int:
        """ "Toujours partant·e ?" to everyone going, once."""
        mobilisation = await mobilisation_queries.lock_call(session, call_id)
        alert = await session.get(Alert, call_id)
        if mobilisation is None or alert is None or mobilisation.reminded_at is not None:
            return 0
        mobilisation.reminded_at = now
        if alert.status != "open" or mobilisation.starts_at is None:
            return 0
        reminded = 0
        for member in await mobilisation_queries.going_members(session, call_id):
            lang = member.language or self._language
            place = f" — {alert.place}" if alert.place else ""
            text = self._t(
                lang,
                "mob.reminder",
                id=call_id,
                when=self.renderer.when(mobilisation.starts_at),
                place=place,
            )
            buttons = (
                (
                    Button(self._t(lang, "mob.button.still_yes"), press_data(call_id, "still")),
                    Button(self._t(lang, "mob.button.still_no"), press_data(call_id, "withdraw")),
                ),
            )
            reminded += await self.tell(session, member, text_message(text, buttons=buttons), now)
        return reminded

    async def close(
        self,
        session: AsyncSession,
        call_id: int,
        outcome: str | None,
        now: datetime,
        closer_member_id: int | None = None,
    ) -> int | None:
        """Close with its outcome and show it in every copy (buttons removed); None when
        it was closed already. `closer_member_id` None: closed by its deadline."""
        mobilisation = await mobilisation_queries.lock_call(session, call_id)
        alert = await session.get(Alert, call_id)
        if mobilisation is None or alert is None or alert.status != "open":
            return None
        await self._tell_author(session, alert, mobilisation, now)
        alert.status, alert.outcome, alert.closed_at, alert.updated_at = "closed", outcome, now, now
        audit_queries.record(
            session,
            action="mobilisation.closed",
            actor_member_id=closer_member_id,
            organisation_id=alert.organisation_id,
            at=now,
            detail=f"#{call_id}" if closer_member_id is not None else f"#{call_id} deadline",
        )
        return await show_everywhere(
            session, self.renderer, self._outbox, alert, mobilisation, now, self.timings.edit_every
        )

    async def close_alert(
        self, session: AsyncSession, alert: Alert, outcome: str, now: datetime
    ) -> int:
        """An alert's outcome: a short follow-up, as a reply, in every chat that got it."""
        alert.status, alert.outcome, alert.closed_at, alert.updated_at = "closed", outcome, now, now
        first_parts = await queries.first_parts_of(session, "alert", alert.id)
        language_of = {(c.platform, c.address): c for c in await self._directory.targets(session)}
        for (platform, address), delivery_id in first_parts.items():
            channel = language_of.get((platform, address))
            lang = channel.language if channel else self._language
            text = self._t(lang, "close.alert_followup", id=alert.id, outcome=outcome)
            self._outbox.enqueue(
                session,
                Target(platform, address, channel.id if channel else None),
                text_message(text),
                fact=FactRef("outcome", alert.id, alert.kind),
                priority=delivery_priority(Kind(alert.kind), Urgency(alert.urgency)),
                now=now,
                reply_to_delivery_id=delivery_id,
            )
        return len(first_parts)


_LISTED = 30  # answers named in one notice; the rest are counted
_NEEDS = {need.value for need in Need}


def _first(needs: list[Need]) -> Need | None:
    return needs[0] if needs else None
