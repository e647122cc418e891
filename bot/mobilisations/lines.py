"""A call from one line (the command's, or the guided call's with the needs chosen by
button): read, checked, within the member's intake limit, raised and answered with its
receipt — or answered with what is wrong. Shared by `/mobilise` and the guide."""

from __future__ import annotations

import logging

from alerts.alert_fanout import Author, Origin
from alerts.mobilisations.calls import CallService
from alerts.mobilisations.draft import parse_mobilisation_line
from alerts.mobilisations.needs import CANONICAL_WORD, Need
from alerts.parsing import AlertInputError
from alerts.vocabulary import Vocabulary
from bot.context import Request
from bot.intake.limit import AlertLimit
from bot.intake.raising import MemberRequired

log = logging.getLogger(__name__)
_OURS = {"no_need", "start_past", "start_bad", "escalate_bad"}


class CallLines:
    def __init__(
        self,
        *,
        calls: CallService,
        vocabulary: Vocabulary,
        max_length: int,
        timezone: str,
        limit: AlertLimit,
    ) -> None:
        self._calls = calls
        self._vocabulary = vocabulary
        self._max_length = max_length
        self._timezone = timezone
        self._limit = limit  # the members' intake limit: calls count as alerts

    async def raise_call(self, request: Request, text: str, chosen: dict[Need, int]) -> str:
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
            self._ask_border(request)
            return "border"
        admission = await self._limit.admit(request, draft.alert.urgency)
        if not admission.admitted:
            return "refused"
        member = request.member
        if member is None:
            raise MemberRequired
        accepted = await self._calls.create(
            request.session,
            draft,
            Author(member.id, member.organisation_id, member.organisation.name),
            Origin(request.inbound.platform, request.inbound.chat, request.inbound.message_id),
            request.now,
        )
        log.info("%s: mobilisation %s raised", request.inbound.platform, accepted.alert_id)
        receipt = request.t("mob.receipt", id=accepted.alert_id, count=accepted.channels)
        request.reply(receipt + admission.note)
        return "sent"

    def _ask_border(self, request: Request) -> None:
        borders = ", ".join(f"#{b.id}" for b in self._vocabulary.borders)
        example = self._vocabulary.borders[0].id if self._vocabulary.borders else "frontiere"
        request.reply(request.t("mob.ask_border", borders=borders, example=example))


def _with_needs(text: str, chosen: dict[Need, int]) -> str:
    """The guide's chosen needs written in front of the typed line, in words the needs
    parser reads back."""
    words = [f"{count} {CANONICAL_WORD[need]}" for need, count in chosen.items()]
    return ", ".join([*words, text]) if words else text
