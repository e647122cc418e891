"""The one place a draft is raised: within the member's intake limit, in the request's
transaction, answered with its receipt. Every way in (the one-line commands, a photo's
caption, the guided alert's "send") ends here."""

from __future__ import annotations

from alerts.alert_fanout import AcceptedAlert, AlertService, Author, Origin
from alerts.messages import Location, PhotoRef
from alerts.parsing import AlertDraft
from bot.context import Request
from bot.intake.limit import AlertLimit


class MemberRequired(Exception):
    """Intake ran for someone who is no member: the router lets only members through."""


class AlertRaiser:
    def __init__(self, *, service: AlertService, limit: AlertLimit) -> None:
        self._service = service
        self._limit = limit

    async def raise_and_answer(
        self,
        request: Request,
        draft: AlertDraft,
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> bool:
        """Raise the alert and answer with its receipt; False when the member is over the
        intake limit (then `AlertLimit` answered, or not)."""
        admission = await self._limit.admit(request, draft.urgency)
        if not admission.admitted:
            return False
        member = request.member
        if member is None:
            raise MemberRequired
        inbound = request.inbound
        accepted = await self._service.raise_alert(
            request.session,
            draft,
            Author(member.id, member.organisation_id, member.organisation.name),
            Origin(inbound.platform, inbound.chat, inbound.message_id),
            photo=photo,
            location=location,
        )
        # Receipts keep the chat's reply order: same priority as every other reply.
        request.reply(receipt(request, accepted) + admission.note)
        return True


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
