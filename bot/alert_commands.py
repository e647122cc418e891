"""The alert commands: `/alert`, `/urgent`, `/mobilise`, and the basics (`/help`, …)."""

from __future__ import annotations

from collections.abc import Callable

from alerts.messages import Location, PhotoRef
from alerts.parsing import AlertDraft, AlertInputError, parse_alert_line
from alerts.service import AcceptedAlert, AlertService, Author, Origin
from alerts.text import clean_text
from alerts.types import Kind, Role, Urgency
from alerts.vocabulary import Vocabulary
from bot.alert_limit import AlertLimit
from bot.context import Command, Request

_MAX_SHOWN = 24  # characters of an unknown language code echoed back


class AlertCommands:
    def __init__(
        self,
        *,
        service: AlertService,
        vocabulary: Vocabulary,
        max_length: int,
        help_lines: Callable[[], list[Command]],
        limit: AlertLimit,
    ) -> None:
        self._service = service
        self._limit = limit
        self._vocabulary = vocabulary
        self._max_length = max_length
        self._help_lines = help_lines

    def commands(self) -> list[Command]:
        return [
            Command("alert", self.alert, help_key="help.alert", aliases=("alerte",)),
            Command("urgent", self.urgent, help_key="help.urgent"),
            Command(
                "mobilise",
                self.mobilise,
                Role.COORDINATOR,
                "help.mobilise",
                aliases=("mobilize", "mobilisation"),
            ),
            Command("borders", self.borders, help_key="help.borders", aliases=("frontieres",)),
            Command("whoami", self.whoami, help_key="help.whoami", aliases=("moi",)),
            Command("lang", self.language, help_key="help.language", aliases=("langue",)),
            Command("help", self.help, help_key="help.help", aliases=("aide",)),
        ]

    async def alert(self, request: Request) -> None:
        await self._raise(request, Kind.ALERT, None)

    async def urgent(self, request: Request) -> None:
        await self._raise(request, Kind.ALERT, Urgency.URGENT)

    async def mobilise(self, request: Request) -> None:
        await self._raise(request, Kind.MOBILISATION, None)

    async def _raise(self, request: Request, kind: Kind, urgency: Urgency | None) -> None:
        try:
            draft = parse_alert_line(
                request.args,
                self._vocabulary,
                max_length=self._max_length,
                urgency=urgency,
                kind=kind,
            )
        except AlertInputError as error:
            request.reply(request.t(f"error.{error.code}", **error.params))
            return
        if draft.needs_border:
            self.ask_border(request, draft)
            return
        await self.raise_and_answer(request, draft)

    async def raise_and_answer(
        self,
        request: Request,
        draft: AlertDraft,
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> bool:
        """Raise the alert and answer with its receipt, unless the member is over the
        intake limit (then `AlertLimit` answered, or not). Every way of raising one (the
        one-line commands, the guided flow, a photo's caption) comes through here."""
        admission = await self._limit.admit(request, draft.urgency)
        if not admission.admitted:
            return False
        accepted = await self.accept(request, draft, photo=photo, location=location)
        # Receipts keep the chat's reply order: same priority as every other reply.
        request.reply(self.receipt(request, accepted) + admission.note)
        return True

    def ask_border(self, request: Request, draft: AlertDraft) -> None:
        if draft.border_choices:
            names = ", ".join(f"#{border}" for border in draft.border_choices)
            request.reply(request.t("ask.border_choice", borders=names))
            return
        borders = ", ".join(f"#{border.id}" for border in self._vocabulary.borders)
        example = self._vocabulary.borders[0].id if self._vocabulary.borders else "frontiere"
        request.reply(request.t("ask.border", borders=borders, example=example))

    async def accept(
        self,
        request: Request,
        draft: AlertDraft,
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> AcceptedAlert:
        """Raise the alert in the request's transaction (shared with the guided flow)."""
        member = request.member
        assert member is not None  # the router only runs commands for members
        author = Author(member.id, member.organisation_id, member.organisation.name)
        origin = Origin(request.inbound.platform, request.inbound.chat, request.inbound.message_id)
        return await self._service.raise_alert(
            request.session, draft, author, origin, photo=photo, location=location
        )

    @staticmethod
    def receipt(request: Request, accepted: AcceptedAlert) -> str:
        kind = request.t(f"kind.{accepted.kind.value}")
        if accepted.channels == 0:
            return request.t("receipt.none", kind=kind, id=accepted.alert_id)
        text = request.t("receipt", kind=kind, id=accepted.alert_id, count=accepted.channels)
        if accepted.parent_id is not None:
            text += request.t("receipt.followup", parent=accepted.parent_id)
        if accepted.held:
            text += request.t("receipt.held", held=accepted.held)
        return text

    async def borders(self, request: Request) -> None:
        lines = [request.t("borders.title")]
        for border in self._vocabulary.borders:
            places = ", ".join(place.name for place in border.places)
            lines.append(f"#{border.id} — {border.name}: {places}")
        request.reply("\n".join(lines))

    async def whoami(self, request: Request) -> None:
        member = request.member
        assert member is not None
        request.reply(
            request.t(
                "whoami",
                user=member.user_ref,
                platform=member.platform,
                organisation=member.organisation_id,
                role=member.role,
            )
        )

    async def language(self, request: Request) -> None:
        """`/lang xx` sets the reply language; alone or with one not available, lists them."""
        wanted = clean_text(request.args).lower()
        available = request.translate.languages
        if wanted not in available:
            choices = ", ".join(
                f"{code} ({request.translate(code, 'language.name')})" for code in available
            )
            if not wanted:
                other = next((code for code in available if code != request.language), "fr")
                request.reply(request.t("language.current", choices=choices, example=other))
            else:
                shown = wanted if len(wanted) <= _MAX_SHOWN else wanted[:_MAX_SHOWN] + "…"
                request.reply(request.t("language.unknown", wanted=shown, choices=choices))
            return
        assert request.member is not None
        request.member.language = wanted
        request.language = wanted
        request.reply(request.t("language.set"))

    async def help(self, request: Request) -> None:
        role = request.role
        lines = [request.t("help.title")]
        for command in self._help_lines():
            if command.help_key and role is not None and role.at_least(command.min_role):
                lines.append(request.t(command.help_key))
        lines.append(request.t("help.footer"))
        request.reply("\n".join(lines))
