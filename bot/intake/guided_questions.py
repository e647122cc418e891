"""The guided alert's questions: the buttons of each step (their data carries the
conversation's token), the themes keyboard redrawn in place, the summary to confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.messages import Button, OutboundMessage, Paragraph, Span
from alerts.outbox import NOTICE, Target
from alerts.types import NOTICE_PRIORITY, Urgency
from alerts.vocabulary import Vocabulary
from bot.context import Request
from bot.intake.drafts import Dialogue
from bot.intake.guided_steps import STEPS

FLOW = "ga"  # the prefix of this flow's button data
CANCEL = "x"
_CODES = {
    "border": "b",
    "place": "p",
    "what": "w",
    "people": "n",
    "minors": "m",
    "themes": "t",
    "urgency": "u",
    "confirm": "c",
}
_STEP_OF_CODE = {code: step for step, code in _CODES.items()}
_NUMBERED = {step: number + 1 for number, step in enumerate(STEPS[:-1])}
_PEOPLE_CHOICES = (1, 2, 3, 5, 10, 20, 50)
_MINOR_CHOICES = (1, 2, 3, 5, 10)


@dataclass(frozen=True)
class Press:
    """A button of this flow: its conversation's token, its step (None: unknown), value."""

    token: str
    step: str | None
    value: str


def read_press(data: str) -> Press | None:
    """None for another flow's button; a malformed one of this flow has no token."""
    parts = data.split(":")
    if parts[0] != FLOW:
        return None
    if len(parts) != 4:
        return Press("", None, "")
    return Press(parts[1], _STEP_OF_CODE.get(parts[2]), parts[3])


def _button(dialogue: Dialogue, step: str, label: str, value: str) -> Button:
    return Button(label, f"{FLOW}:{dialogue.token}:{_CODES[step]}:{value}")


def _rows(buttons: list[Button], width: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


async def _post(request: Request, message: OutboundMessage, *, edit_of: int | None = None) -> int:
    """Write the message (or the edit of one) to this chat now: its delivery id."""
    ids = await request.outbox.enqueue_now(
        request.session,
        Target(request.inbound.platform, request.inbound.chat),
        message,
        fact=NOTICE,
        priority=NOTICE_PRIORITY,
        now=request.now,
        edit_of_delivery_id=edit_of,
    )
    return ids[0]


def _shown(value: int | None, none: str) -> str:
    return none if value is None else str(value)


class GuidedQuestions:
    def __init__(self, *, vocabulary: Vocabulary) -> None:
        self._vocabulary = vocabulary

    async def ask(self, request: Request, dialogue: Dialogue, step: str) -> None:
        if step == "themes":
            await self._ask_themes(request, dialogue)
            return
        if step == "confirm":
            request.reply(self._summary(request, dialogue))
            return
        buttons = self._choices(request, dialogue, step)
        width = 1 if step == "urgency" else (4 if step in ("people", "minors") else 2)
        cancel = (_button(dialogue, step, request.t("guided.cancel_button"), CANCEL),)
        rows = (*_rows(buttons, width), cancel)
        request.reply(request.t(f"guided.{step}", step=_NUMBERED[step]), buttons=rows)

    def _choices(self, request: Request, dialogue: Dialogue, step: str) -> list[Button]:
        state, t = dialogue.state, request.t
        if step == "border":
            choices = set(state.get("border_choices") or ())
            return [
                _button(dialogue, step, border.name, str(number))
                for number, border in enumerate(self._vocabulary.borders)
                if not choices or border.id in choices
            ]
        if step == "place":
            border = self._vocabulary.border(state["border"])
            places = border.places if border is not None else ()
            buttons = [
                _button(dialogue, step, place.name, str(number))
                for number, place in enumerate(places)
            ]
            return [*buttons, _button(dialogue, step, t("guided.place_none"), "-")]
        if step in ("people", "minors"):
            counts = _PEOPLE_CHOICES if step == "people" else _MINOR_CHOICES
            first = (
                [] if step == "people" else [_button(dialogue, step, t("guided.no_minors"), "0")]
            )
            buttons = [_button(dialogue, step, str(n), str(n)) for n in counts]
            return [*first, *buttons, _button(dialogue, step, t("guided.unknown"), "?")]
        if step == "urgency":
            return [
                _button(dialogue, step, t(f"guided.urgency.{u.value}"), u.value) for u in Urgency
            ]
        return []

    def _themes_message(self, request: Request, dialogue: Dialogue) -> OutboundMessage:
        chosen = set(dialogue.state.get("themes") or ())
        buttons = [
            _button(
                dialogue, "themes", ("✅ " if theme.id in chosen else "▫️ ") + theme.name, str(i)
            )
            for i, theme in enumerate(self._vocabulary.themes)
        ]
        rows = (
            *_rows(buttons, 2),
            (_button(dialogue, "themes", request.t("guided.themes_done"), "ok"),),
            (_button(dialogue, "themes", request.t("guided.cancel_button"), CANCEL),),
        )
        text = request.t("guided.themes", step=_NUMBERED["themes"])
        return OutboundMessage((Paragraph((Span(text),)),), buttons=rows)

    async def _ask_themes(self, request: Request, dialogue: Dialogue) -> None:
        message = self._themes_message(request, dialogue)
        request.replies.append(message)
        # written at once: the question's delivery id, for its later edits
        dialogue.state["themes_question"] = await _post(request, message)

    async def redraw_themes(self, request: Request, dialogue: Dialogue) -> None:
        """A toggle redraws the keyboard in place rather than asking again."""
        question = dialogue.state.get("themes_question")
        message = self._themes_message(request, dialogue)
        if not isinstance(question, int):
            request.reply(message)
            return
        await _post(request, message, edit_of=question)

    def _summary(self, request: Request, dialogue: Dialogue) -> OutboundMessage:
        t = request.t
        buttons = (
            (
                _button(dialogue, "confirm", t("guided.send"), "send"),
                _button(dialogue, "confirm", t("guided.cancel_button"), CANCEL),
            ),
        )
        return OutboundMessage(
            (
                Paragraph((Span(t("guided.confirm"), "bold"),)),
                Paragraph((Span(dialogue.state.get("text", "")),)),
                Paragraph((Span("\n".join(self._summary_lines(request, dialogue.state))),)),
            ),
            buttons=buttons,
        )

    def _summary_lines(self, request: Request, state: dict[str, Any]) -> list[str]:
        t, none = request.t, request.t("guided.none")
        border = self._vocabulary.border(state["border"])
        themes = [self._vocabulary.theme(theme_id) for theme_id in state.get("themes") or ()]
        lines = [
            t("guided.summary.border", border=border.name if border else state["border"]),
            t("guided.summary.place", place=state.get("place") or none),
            t("guided.summary.people", people=_shown(state.get("people"), none)),
            t("guided.summary.minors", minors=_shown(state.get("minors"), none)),
            t(
                "guided.summary.themes",
                themes=", ".join(theme.name for theme in themes if theme) or none,
            ),
            t("guided.summary.urgency", urgency=t(f"urgency.{state.get('urgency', 'normal')}")),
        ]
        if state.get("photo"):
            lines.append(t("guided.summary.photo"))
        if state.get("location"):
            lines.append(t("guided.summary.location"))
        return lines
