"""`/mobilise` (one line, or guided alone), `/mobilisation N`, `/close N <outcome>`,
`/agenda`."""

from __future__ import annotations

import logging
import re

from alerts.mobilisations.calls import CallService
from alerts.mobilisations.copies import call_view
from alerts.mobilisations.counts import count_line, need_label
from alerts.text import clean_text
from alerts.types import Role
from bot.context import Command, Request
from bot.mobilisations.access import may_manage
from bot.mobilisations.guide import MobilisationGuide
from bot.mobilisations.lines import CallLines
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
        lines: CallLines,
        guide: MobilisationGuide,
    ) -> None:
        self._calls = calls
        self._lines = lines
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
        await self._lines.raise_call(request, request.args, {})

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
            shown = await self._calls.close(
                request.session, alert.id, outcome, request.now, request.known_member.id
            )
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
            if mobilisation.starts_at is None:
                continue  # the query reads calls with a start only
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


def _name(member: Member | None) -> str:
    """A removed member's answer still counts; the person is no longer named."""
    if member is None:
        return "—"
    return member.display_name or member.user_ref
