"""Reading what a volunteer sent: the one place a line becomes an `AlertDraft` (a parse
error answered in the member's language), and what a message carries besides text."""

from __future__ import annotations

from alerts.messages import Attachment, InboundMessage, PhotoRef
from alerts.parsing import AlertDraft, AlertInputError, check_length, parse_alert_line
from alerts.types import Kind, Urgency
from alerts.vocabulary import Vocabulary
from bot.context import Request

_UNSUPPORTED = ("sticker", "voice", "audio", "document", "video", "other")


class LineReader:
    def __init__(self, *, vocabulary: Vocabulary, max_length: int) -> None:
        self._vocabulary = vocabulary
        self._max_length = max_length

    def parse(
        self, text: str, *, urgency: Urgency | None = None, kind: Kind = Kind.ALERT
    ) -> AlertDraft:
        """The line as a draft; `AlertInputError` for empty or over-long text."""
        return parse_alert_line(
            text, self._vocabulary, max_length=self._max_length, urgency=urgency, kind=kind
        )

    def draft(
        self,
        request: Request,
        text: str,
        *,
        urgency: Urgency | None = None,
        kind: Kind = Kind.ALERT,
    ) -> AlertDraft | None:
        """The line as a draft, or None once the error was answered."""
        try:
            return self.parse(text, urgency=urgency, kind=kind)
        except AlertInputError as error:
            answer_error(request, error)
            return None

    def text(self, request: Request, text: str) -> str | None:
        """A guided alert's description within the length limit, or None once answered."""
        try:
            return check_length(text, self._max_length)
        except AlertInputError as error:
            answer_error(request, error)
            return None

    def ask_border(self, request: Request, draft: AlertDraft) -> None:
        """A draft with no border (or several): say which to add."""
        if draft.border_choices:
            names = ", ".join(f"#{border}" for border in draft.border_choices)
            request.reply(request.t("ask.border_choice", borders=names))
            return
        borders = ", ".join(f"#{border.id}" for border in self._vocabulary.borders)
        example = self._vocabulary.borders[0].id if self._vocabulary.borders else "frontiere"
        request.reply(request.t("ask.border", borders=borders, example=example))


def answer_error(request: Request, error: AlertInputError) -> None:
    request.reply(request.t(f"error.{error.code}", **error.params))


def photo_of(inbound: InboundMessage) -> PhotoRef | None:
    """The sender's photo as a neutral reference valid on its own platform."""
    photo = next((a for a in inbound.attachments if a.kind == "photo"), None)
    return PhotoRef(photo.platform, photo.ref) if photo is not None else None


def refused_attachment(request: Request) -> bool:
    """A sticker, voice note, document… where text is expected (a photo is fine): answered
    here, True when it was one."""
    inbound = request.inbound
    if photo_of(inbound) is not None:
        return False
    attachment: Attachment | None = next(
        (a for a in inbound.attachments if a.kind in _UNSUPPORTED), None
    )
    if attachment is None:
        return False
    request.reply(
        request.t(f"intake.unsupported.{attachment.kind}") + request.t("intake.unsupported.hint")
    )
    return True
