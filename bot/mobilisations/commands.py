"""`/mobilise` (one line, or guided alone), `/mobilisation N`, `/close N <outcome>`,
`/agenda`."""

from __future__ import annotations

import logging
import re

from alerts.mobilisations.calls import CallService
from alerts.mobilisations.copies import call_view
from alerts.mobilisations.counts import count_line, need_label
from alerts.mobilisations.draft import MobilisationDraft, parse_mobilisation_line
from alerts.mobilisations.needs import CANONICAL_WORD, Need
from alerts.parsing import AlertInputError
from alerts.service import Author, Origin
from alerts.text import clean_text
from alerts.types import Role
from alerts.vocabulary import Vocabulary
from bot.context import Command, Request
from bot.mobilisations.access import may_manage
from bot.mobilisations.guide import MobilisationGuide
from storage import mobilisation_queries
from storage.models import Alert, Member

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"^\s*#?(\d{1,15})(?:\s+(.*))?$", re.DOTALL)
_MAX_OUTCOME = 2000


class MobilisationCommands:
    def __init__(
        self,
        *,
        calls: CallService,
        vocabulary: Vocabulary,
        max_length: int,
        timezone: str,
        guide: MobilisationGuide,
    ) -> None:
        self._calls = calls
        self._vocabulary = vocabulary
        self._max_length = max_length
        self._timezone = timezone
        self._guide = guide

    def commands(self) -> list[Command]:
        return [
            Command(
                "mobilise",
                self.mobilise,
                Role.COORDINATOR,
                "help.mobilise_call",
                aliases=("mobilize",),
            ),
            Command("mobilisation", self.show, Role.COORDINATOR, "help.mobilisation"),
            Command("close", self.close, Role.COORDINATOR, "help.close", aliases=("clore",)),
            Command("agenda", self.agenda, help_key="help.agenda"),
            Command("answer", self.card, help_key="help.answer", aliases=("repondre",)),
        ]

    async def mobilise(self, request: Request) -> None:
        if not request.args.strip():
            await self._guide.start(request)
            return
        await self.call_from_line(request, request.args, {})

    async def call_from_line(self, request: Request, text: str, chosen: dict[Need, int]) -> str:
        """Raise the call the line describes (needs chosen in the guide added); answer
        with what is wrong otherwise. "sent", "border" (asked where), or "refused"."""
        try:
            draft = parse_mobilisation_line(
                _with_needs(text, chosen),
                self._vocabulary,
                now=request.now,
                max_length=self._max_length,
                timezone=self._timezone,
            )
        except AlertInputError as error:
            key = f"mob.error.{error.code}" if error.code in _OURS else f"error.{error.code}"
            request.reply(request.t(key, **error.params))
            return "refused"
        if draft.alert.border is None:
            self._ask_border(request, draft)
            return "border"
        member = request.member
        assert member is not None
        accepted = await self._calls.create(
            request.session,
            draft,
            Author(member.id, member.organisation_id, member.organisation.name),
            Origin(request.inbound.platform, request.inbound.chat, request.inbound.message_id),
            request.now,
        )
        log.info("%s: mobilisation %s raised", request.inbound.platform, accepted.alert_id)
        request.reply(request.t("mob.receipt", id=accepted.alert_id, count=accepted.channels))
        return "sent"

    def _ask_border(self, request: Request, draft: MobilisationDraft) -> None:
        borders = ", ".join(f"#{b.id}" for b in self._vocabulary.borders)
        example = self._vocabulary.borders[0].id if self._vocabulary.borders else "frontiere"
        request.reply(request.t("mob.ask_border", borders=borders, example=example))

    async def show(self, request: Request) -> None:
        """Who is going (per need) and who cannot."""
        found = await self._target(request, "mob.list.usage")
        if found is None:
            return
        call = await mobilisation_queries.call(request.session, found.id)
        if call is None:
            request.reply(request.t("mob.unknown", id=found.id))
            return
        alert, mobilisation = call
        view = await call_view(request.session, alert, mobilisation)
        going: dict[str, list[str]] = {}
        cannot: list[str] = []
        for answer, member in await mobilisation_queries.answers_with_members(
            request.session, alert.id
        ):
            name = _name(member)
            if answer.answer == "going":
                going.setdefault(answer.need or "", []).append(name)
            elif answer.answer == "cannot":
                cannot.append(name)
        state = (
            request.t("mob.list.open")
            if alert.status == "open"
            else request.t("mob.list.closed", outcome=alert.outcome or "-")
        )
        lines = [request.t("mob.list.title", id=alert.id, state=state)]
        for count in view.counts:
            names = going.get(count.need.value, [])
            lines.append(
                request.t(
                    "mob.list.need",
                    need=need_label(count.need, count.wanted, request.t, title=True),
                    covered=count.covered,
                    wanted=count.wanted,
                    names=", ".join(names) or request.t("mob.list.nobody"),
                )
            )
        lines.append(
            request.t("mob.list.cannot", names=", ".join(cannot) or request.t("mob.list.nobody"))
        )
        request.reply("\n".join(lines))

    async def close(self, request: Request) -> None:
        match = _NUMBER.match(request.args)
        outcome = clean_text(match.group(2) or "") if match else ""
        if match is None or not outcome:
            request.reply(request.t("close.usage"))
            return
        alert = await self._target(request, "close.usage")
        if alert is None:
            return
        if alert.status != "open":
            request.reply(request.t("close.already", id=alert.id))
            return
        outcome = outcome[:_MAX_OUTCOME]
        if alert.kind == "mobilisation":
            shown = await self._calls.close(request.session, alert.id, outcome, request.now)
            if shown is None:
                request.reply(request.t("close.already", id=alert.id))
                return
        else:
            shown = await self._calls.close_alert(request.session, alert, outcome, request.now)
        log.info("%s: #%s closed", request.inbound.platform, alert.id)
        request.reply(request.t("close.done", id=alert.id, count=shown))

    async def _target(self, request: Request, usage: str) -> Alert | None:
        """The alert or call the first argument names, if this member may manage it."""
        match = _NUMBER.match(request.args)
        if match is None:
            request.reply(request.t(usage))
            return None
        alert_id = int(match.group(1))
        alert = await request.session.get(Alert, alert_id)
        if alert is None or alert.kind not in ("alert", "mobilisation"):
            request.reply(request.t("mob.unknown", id=alert_id))
            return None
        if not may_manage(request.member, alert):
            request.reply(request.t("mob.not_yours", id=alert_id))
            return None
        return alert

    async def card(self, request: Request) -> None:
        """The call with its answer buttons, here: to answer from a private chat."""
        match = _NUMBER.match(request.args)
        if match is None:
            request.reply(request.t("mob.answer.usage"))
            return
        call = await mobilisation_queries.call(request.session, int(match.group(1)))
        if call is None:
            request.reply(request.t("mob.unknown", id=match.group(1)))
            return
        view = await call_view(request.session, *call)
        request.reply(self._calls.renderer.render(view, request.language, False))

    async def agenda(self, request: Request) -> None:
        calls = await mobilisation_queries.open_calls_with_start(request.session, request.now)
        if not calls:
            request.reply(request.t("agenda.none"))
            return
        lines = [request.t("agenda.title")]
        for alert, mobilisation in calls:
            assert mobilisation.starts_at is not None
            view = await call_view(request.session, alert, mobilisation)
            lines.append(
                request.t(
                    "agenda.line",
                    id=alert.id,
                    when=self._calls.renderer.when(mobilisation.starts_at),
                    place=alert.place or alert.border or "-",
                    count=count_line(list(view.counts), request.t),
                )
            )
        request.reply("\n".join(lines))


_OURS = {"no_need", "start_past", "start_bad", "escalate_bad"}


def _with_needs(text: str, chosen: dict[Need, int]) -> str:
    """The guide's chosen needs written in front of the typed line, in words the needs
    parser reads back."""
    words = [f"{count} {CANONICAL_WORD[need]}" for need, count in chosen.items()]
    return ", ".join([*words, text]) if words else text


def _name(member: Member | None) -> str:
    """A removed member's answer still counts; the person is no longer named."""
    if member is None:
        return "—"
    return member.display_name or member.user_ref
