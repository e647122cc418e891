"""The guided alert: `/alert` alone starts a step-by-step conversation with buttons —
border → place → what happened → how many → minors → themes → urgency → confirm.

Platform-neutral: questions are neutral messages with `Button`s (Telegram shows inline
keyboards, Matrix numbered choices that come back as button presses), answers are
presses, text, a photo or a shared location. The state lives in the `conversations` table
(restart-safe) with a token that every button carries, so a forged button or one of an
ended conversation is refused. The same module makes a photo with a caption an alert with
a photo, a shared location the nearest known place (never exact coordinates unless a
channel opted in), and answers a sticker, voice note or document with a clear message.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from alerts.messages import (
    Attachment,
    Button,
    InboundMessage,
    Location,
    OutboundMessage,
    Paragraph,
    PhotoRef,
    Span,
)
from alerts.outbox import NOTICE, Target
from alerts.parsing import AlertDraft, AlertInputError, check_length, parse_alert_line
from alerts.platforms import PlatformCatalogue
from alerts.text import clean_text
from alerts.types import NOTICE_PRIORITY, Kind, Urgency
from alerts.vocabulary import Vocabulary
from bot import conversations
from bot.alert_commands import AlertCommands
from bot.context import Command, Fallback, Handler, Request
from bot.conversations import Dialogue

log = logging.getLogger(__name__)

FLOW = "ga"  # the prefix of this flow's button data
STEPS = ("border", "place", "what", "people", "minors", "themes", "urgency", "confirm")
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
_NUMBERED = {step: index + 1 for index, step in enumerate(STEPS[:-1])}
_PEOPLE_CHOICES = (1, 2, 3, 5, 10, 20, 50)
_MINOR_CHOICES = (1, 2, 3, 5, 10)
_CANCEL = "x"
_MAX_COUNT = 9999
_MAX_PLACE = 120
_UNSUPPORTED = ("sticker", "voice", "audio", "document", "video", "other")


def photo_of(inbound: InboundMessage) -> PhotoRef | None:
    """The sender's photo as a neutral reference valid on its own platform."""
    photo = next((a for a in inbound.attachments if a.kind == "photo"), None)
    return PhotoRef(photo.platform, photo.ref) if photo is not None else None


def unsupported_attachment(inbound: InboundMessage) -> Attachment | None:
    """A sticker, voice note, document… where text is expected (a photo is fine)."""
    if photo_of(inbound) is not None:
        return None
    return next((a for a in inbound.attachments if a.kind in _UNSUPPORTED), None)


def refuse_attachment(request: Request, attachment: Attachment) -> None:
    request.reply(
        request.t(f"intake.unsupported.{attachment.kind}") + request.t("intake.unsupported.hint")
    )


class GuidedAlert(Fallback):
    def __init__(
        self,
        *,
        alerts: AlertCommands,
        vocabulary: Vocabulary,
        max_length: int,
        ttl: timedelta = timedelta(hours=1),
        location_radius_km: float = 30.0,
        platforms: PlatformCatalogue,
    ) -> None:
        """`platforms`: where `/alert` alone guides, all the relays' platforms (those
        without buttons show numbered choices answered by typing the number)."""
        self._alerts = alerts
        self._platforms = platforms
        self._vocabulary = vocabulary
        self._max_length = max_length
        self._ttl = ttl
        self._radius = location_radius_km

    # -- commands ----------------------------------------------------------------------

    def commands(self, base: list[Command]) -> list[Command]:
        """`base` (the alert commands) with `/alert` and `/urgent` able to guide and to carry
        a photo, plus `/cancel`."""
        guided: dict[str, Handler] = {"alert": self.alert, "urgent": self.urgent}
        wrapped = [
            replace(command, handler=guided[command.name]) if command.name in guided else command
            for command in base
        ]
        wrapped.append(Command("cancel", self.cancel, help_key="help.cancel", aliases=("annuler",)))
        return wrapped

    async def alert(self, request: Request) -> None:
        if request.inbound.platform not in self._platforms:
            await self._alerts.alert(request)
            return
        await self._alert_command(request, None)

    async def urgent(self, request: Request) -> None:
        if request.inbound.platform not in self._platforms:
            await self._alerts.urgent(request)
            return
        await self._alert_command(request, Urgency.URGENT)

    async def cancel(self, request: Request) -> None:
        inbound = request.inbound
        dialogue = await conversations.load(
            request.session, inbound.platform, inbound.chat, inbound.sender
        )
        if dialogue is None:
            request.reply(request.t("guided.nothing_to_cancel"))
            return
        await conversations.remove(request.session, inbound.platform, inbound.chat, inbound.sender)
        request.reply(request.t("guided.cancelled"))

    async def _alert_command(self, request: Request, urgency: Urgency | None) -> None:
        inbound = request.inbound
        private = inbound.chat_type == "private"
        if not request.args.strip():
            if not private:
                request.reply(request.t("guided.in_group"))
                return
            state: dict[str, Any] = {}
            if urgency is not None:
                state["urgency"] = urgency.value
            await self._start(request, state, photo=photo_of(inbound))
            return
        await self._one_line(request, request.args, urgency)

    async def _one_line(self, request: Request, text: str, urgency: Urgency | None) -> None:
        """`/alert <text>` (or a photo's caption): raised at once when its border is known;
        in a private chat, a missing border is asked with buttons, the rest kept."""
        inbound = request.inbound
        try:
            draft = parse_alert_line(
                text, self._vocabulary, max_length=self._max_length, urgency=urgency
            )
        except AlertInputError as error:
            request.reply(request.t(f"error.{error.code}", **error.params))
            return
        photo = photo_of(inbound)
        if draft.needs_border:
            if inbound.chat_type != "private":
                self._alerts.ask_border(request, draft)
                return
            state: dict[str, Any] = {
                "text": draft.text,
                "people": draft.people,
                "minors": draft.minors,
                "themes": list(draft.themes),
                "themes_done": True,
                "urgency": draft.urgency.value,
                "border_choices": list(draft.border_choices),
            }
            await self._start(request, state, photo=photo)
            return
        await self._alerts.raise_and_answer(request, draft, photo=photo)

    # -- non-command input -------------------------------------------------------------

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if (
            inbound.event != "message"
            or request.member is None  # the router refuses non-members politely
            or inbound.platform not in self._platforms
        ):
            return False
        if inbound.button is not None:
            return await self._press(request, inbound.button.data)
        dialogue = await self._dialogue(request)
        if inbound.edited:
            return dialogue is not None and await self._edited_answer(request, dialogue)
        if dialogue is not None:
            if dialogue.expired(request.now, self._ttl):
                await self._expire(request)
                return True
            await self._answer(request, dialogue)
            return True
        if inbound.chat_type != "private":
            return False
        attachment = unsupported_attachment(inbound)
        if attachment is not None:
            refuse_attachment(request, attachment)
            return True
        photo = photo_of(inbound)
        if photo is not None:
            if inbound.text.strip():
                await self._one_line(request, inbound.text, None)
            else:
                await self._start(request, {}, photo=photo)
            return True
        if inbound.location is not None:
            await self._start(request, {}, location=inbound.location)
            return True
        return False

    async def _dialogue(self, request: Request) -> Dialogue | None:
        inbound = request.inbound
        return await conversations.load(
            request.session, inbound.platform, inbound.chat, inbound.sender
        )

    async def _expire(self, request: Request) -> None:
        inbound = request.inbound
        await conversations.remove(request.session, inbound.platform, inbound.chat, inbound.sender)
        minutes = int(self._ttl.total_seconds() // 60)
        request.reply(request.t("guided.expired", minutes=minutes))

    async def _start(
        self,
        request: Request,
        state: dict[str, Any],
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> None:
        inbound = request.inbound
        dialogue = Dialogue(
            inbound.platform, inbound.chat, inbound.sender, conversations.new_token(), state
        )
        if photo is not None:
            state["photo"] = {"platform": photo.platform, "ref": photo.ref}
        log.info("%s: guided alert started", inbound.platform)
        request.reply(request.t("guided.start"))
        if location is not None:
            self._take_location(request, dialogue, location)
        await self._advance(request, dialogue)

    async def _press(self, request: Request, data: str) -> bool:
        parts = data.split(":")
        if parts[0] != FLOW:
            return False
        dialogue = await self._dialogue(request)
        if len(parts) != 4 or dialogue is None or parts[1] != dialogue.token:
            log.info("%s: a button of no conversation in progress", request.inbound.platform)
            request.reply(request.t("guided.stale_button"))
            return True
        if dialogue.expired(request.now, self._ttl):
            await self._expire(request)
            return True
        step, value = _STEP_OF_CODE.get(parts[2]), parts[3]
        if value == _CANCEL:
            await self.cancel(request)
            return True
        if step is None or step != dialogue.state.get("step"):
            request.reply(request.t("guided.old_question"))
            return True
        if not await self._choose(request, dialogue, step, value):
            request.reply(request.t("guided.stale_button"))
        return True

    async def _choose(self, request: Request, dialogue: Dialogue, step: str, value: str) -> bool:
        """Apply a button's value; False when it names nothing this step offered."""
        state = dialogue.state
        if step == "border":
            border = _index(self._vocabulary.borders, value)
            if border is None:
                return False
            self._set_border(state, border.id)
        elif step == "place":
            border = self._vocabulary.border(state.get("border") or "")
            if value == "-":
                state["place"] = None
            else:
                place = _index(border.places if border else (), value)
                if place is None:
                    return False
                state["place"] = place.name
        elif step in ("people", "minors"):
            number = None if value == "?" else _count(value)
            if value != "?" and number is None:
                return False
            state[step] = number
            if step == "minors" and state["minors"] and "mineurs" in self._vocabulary.theme_ids:
                themes = state.setdefault("themes", [])
                if "mineurs" not in themes:
                    themes.append("mineurs")
        elif step == "themes":
            if value == "ok":
                state["themes_done"] = True
            else:
                theme = _index(self._vocabulary.themes, value)
                if theme is None:
                    return False
                themes = state.setdefault("themes", [])
                if theme.id in themes:
                    themes.remove(theme.id)
                else:
                    themes.append(theme.id)
                self._edit_themes(request, dialogue)
                await self._save(request, dialogue)
                return True
        elif step == "urgency":
            if value not in {u.value for u in Urgency}:
                return False
            state["urgency"] = value
        elif step == "confirm":
            if value != "send":
                return False
            await self._raise(request, dialogue)
            return True
        else:
            return False
        await self._advance(request, dialogue)
        return True

    async def _answer(self, request: Request, dialogue: Dialogue) -> None:
        """Typed text, a photo or a location while a question is waiting."""
        inbound, state = request.inbound, dialogue.state
        step = state.get("step", "border")
        attachment = unsupported_attachment(inbound)
        if attachment is not None:
            refuse_attachment(request, attachment)
            return
        photo = photo_of(inbound)
        if photo is not None:
            state["photo"] = {"platform": photo.platform, "ref": photo.ref}
        if inbound.location is not None:
            self._take_location(request, dialogue, inbound.location)
            await self._advance(request, dialogue)
            return
        text = clean_text(inbound.text)
        if not text:
            await self._advance(request, dialogue)  # a photo alone: ask again what is missing
            return
        if step == "border":
            border = self._vocabulary.border_by_label(text)
            place = self._vocabulary.place_by_name(text)
            if border is None and place is None:
                request.reply(request.t("guided.use_buttons"))
                await self._save(request, dialogue)
                return
            if place is not None:
                self._set_border(state, place.border_id)
                state["place"] = place.name
            elif border is not None:
                self._set_border(state, border.id)
        elif step == "place":
            place = self._vocabulary.place_by_name(text)
            state["place"] = place.name if place is not None else text[:_MAX_PLACE]
            if place is not None and place.border_id != state.get("border"):
                self._set_border(state, place.border_id)
        elif step == "what":
            try:
                state["text"] = check_length(text, self._max_length)
            except AlertInputError as error:
                request.reply(request.t(f"error.{error.code}", **error.params))
                await self._save(request, dialogue)
                return
            state["what_message"] = inbound.message_id
            themes = state.setdefault("themes", [])
            for theme_id in self._vocabulary.themes_in(text):
                if theme_id not in themes:
                    themes.append(theme_id)
        elif step in ("people", "minors"):
            number = _count(text)
            if number is None:
                request.reply(request.t("guided.not_a_number"))
                await self._save(request, dialogue)
                return
            await self._choose(request, dialogue, step, str(number))
            return
        else:
            request.reply(request.t("guided.use_buttons"))
            await self._save(request, dialogue)
            return
        await self._advance(request, dialogue)

    async def _edited_answer(self, request: Request, dialogue: Dialogue) -> bool:
        """The volunteer corrected their "what happened" message before sending."""
        inbound, state = request.inbound, dialogue.state
        if not inbound.message_id or inbound.message_id != state.get("what_message"):
            return False
        try:
            state["text"] = check_length(clean_text(inbound.text), self._max_length)
        except AlertInputError as error:
            request.reply(request.t(f"error.{error.code}", **error.params))
            return True
        request.reply(request.t("guided.text_updated"))
        await self._save(request, dialogue)
        return True

    def _take_location(self, request: Request, dialogue: Dialogue, location: Location) -> None:
        """A shared position: kept for channels that opted in, named by the nearest place."""
        state = dialogue.state
        state["location"] = [location.latitude, location.longitude]
        match = self._vocabulary.nearest_place(location.latitude, location.longitude, self._radius)
        if match is None:
            request.reply(request.t("guided.place_far", radius=int(self._radius)))
            return
        self._set_border(state, match.place.border_id)
        state["place"] = match.place.name
        request.reply(
            request.t("guided.place_found", place=match.place.name, km=f"{match.distance_km:.0f}")
        )

    @staticmethod
    def _set_border(state: dict[str, Any], border_id: str) -> None:
        if state.get("border") != border_id:
            state.pop("place", None)
        state["border"] = border_id

    # -- asking ------------------------------------------------------------------------

    @staticmethod
    def _next_step(state: dict[str, Any]) -> str:
        if not state.get("border"):
            return "border"
        if "place" not in state:
            return "place"
        if not state.get("text"):
            return "what"
        for step in ("people", "minors"):
            if step not in state:
                return step
        if not state.get("themes_done"):
            return "themes"
        if "urgency" not in state:
            return "urgency"
        return "confirm"

    async def _advance(self, request: Request, dialogue: Dialogue) -> None:
        step = self._next_step(dialogue.state)
        if step == "place":
            border = self._vocabulary.border(dialogue.state["border"])
            if border is None or not border.places:
                dialogue.state["place"] = None
                step = self._next_step(dialogue.state)
        dialogue.state["step"] = step
        await self._ask(request, dialogue, step)
        await self._save(request, dialogue)

    async def _save(self, request: Request, dialogue: Dialogue) -> None:
        await conversations.save(request.session, dialogue, request.now)

    def _button(self, dialogue: Dialogue, step: str, label: str, value: str) -> Button:
        return Button(label, f"{FLOW}:{dialogue.token}:{_CODES[step]}:{value}")

    def _cancel_row(self, request: Request, dialogue: Dialogue, step: str) -> tuple[Button, ...]:
        return (self._button(dialogue, step, request.t("guided.cancel_button"), _CANCEL),)

    async def _ask(self, request: Request, dialogue: Dialogue, step: str) -> None:
        if step == "themes":
            await self._ask_themes(request, dialogue)
            return
        if step == "confirm":
            request.reply(self._summary(request, dialogue))
            return
        buttons: list[Button] = []
        if step == "border":
            choices = set(dialogue.state.get("border_choices") or ())
            buttons = [
                self._button(dialogue, step, border.name, str(index))
                for index, border in enumerate(self._vocabulary.borders)
                if not choices or border.id in choices
            ]
        elif step == "place":
            border = self._vocabulary.border(dialogue.state["border"])
            assert border is not None
            buttons = [
                self._button(dialogue, step, place.name, str(index))
                for index, place in enumerate(border.places)
            ]
            buttons.append(self._button(dialogue, step, request.t("guided.place_none"), "-"))
        elif step == "people":
            buttons = [self._button(dialogue, step, str(n), str(n)) for n in _PEOPLE_CHOICES]
            buttons.append(self._button(dialogue, step, request.t("guided.unknown"), "?"))
        elif step == "minors":
            buttons = [self._button(dialogue, step, request.t("guided.no_minors"), "0")]
            buttons += [self._button(dialogue, step, str(n), str(n)) for n in _MINOR_CHOICES]
            buttons.append(self._button(dialogue, step, request.t("guided.unknown"), "?"))
        elif step == "urgency":
            buttons = [
                self._button(dialogue, step, request.t(f"guided.urgency.{u.value}"), u.value)
                for u in Urgency
            ]
        width = 1 if step == "urgency" else (4 if step in ("people", "minors") else 2)
        rows = (*_rows(buttons, width), self._cancel_row(request, dialogue, step))
        request.reply(request.t(f"guided.{step}", step=_NUMBERED[step]), buttons=rows)

    def _themes_message(self, request: Request, dialogue: Dialogue) -> OutboundMessage:
        chosen = set(dialogue.state.get("themes") or ())
        buttons = [
            self._button(
                dialogue, "themes", ("✅ " if theme.id in chosen else "▫️ ") + theme.name, str(i)
            )
            for i, theme in enumerate(self._vocabulary.themes)
        ]
        rows = (
            *_rows(buttons, 2),
            (self._button(dialogue, "themes", request.t("guided.themes_done"), "ok"),),
            self._cancel_row(request, dialogue, "themes"),
        )
        text = request.t("guided.themes", step=_NUMBERED["themes"])
        return OutboundMessage((Paragraph((Span(text),)),), buttons=rows)

    async def _ask_themes(self, request: Request, dialogue: Dialogue) -> None:
        message = self._themes_message(request, dialogue)
        request.replies.append(message)
        # written at once: the question's delivery id, for its later edits
        ids = await request.outbox.enqueue_now(
            request.session,
            Target(request.inbound.platform, request.inbound.chat),
            message,
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=request.now,
        )
        dialogue.state["themes_question"] = ids[0]

    def _edit_themes(self, request: Request, dialogue: Dialogue) -> None:
        """A toggle redraws the keyboard in place rather than asking again."""
        question = dialogue.state.get("themes_question")
        message = self._themes_message(request, dialogue)
        if not isinstance(question, int):
            request.reply(message)
            return
        request.outbox.enqueue(
            request.session,
            Target(request.inbound.platform, request.inbound.chat),
            message,
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=request.now,
            edit_of_delivery_id=question,
        )

    def _summary(self, request: Request, dialogue: Dialogue) -> OutboundMessage:
        state, t = dialogue.state, request.t
        none = t("guided.none")
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
        buttons = (
            (
                self._button(dialogue, "confirm", t("guided.send"), "send"),
                self._button(dialogue, "confirm", t("guided.cancel_button"), _CANCEL),
            ),
        )
        return OutboundMessage(
            (
                Paragraph((Span(t("guided.confirm"), "bold"),)),
                Paragraph((Span(state.get("text", "")),)),
                Paragraph((Span("\n".join(lines)),)),
            ),
            buttons=buttons,
        )

    async def _raise(self, request: Request, dialogue: Dialogue) -> None:
        state = dialogue.state
        draft = AlertDraft(
            text=state["text"],
            urgency=Urgency(state.get("urgency", "normal")),
            border=state["border"],
            place=state.get("place"),
            themes=tuple(state.get("themes") or ()),
            people=state.get("people"),
            minors=state.get("minors") or None,
            kind=Kind.ALERT,
        )
        photo = state.get("photo")
        location = state.get("location")
        raised = await self._alerts.raise_and_answer(
            request,
            draft,
            photo=PhotoRef(photo["platform"], photo["ref"]) if photo else None,
            location=Location(location[0], location[1]) if location else None,
        )
        if not raised:
            return  # refused by the intake limit: the dialogue is kept, to confirm later
        inbound = request.inbound
        await conversations.remove(request.session, inbound.platform, inbound.chat, inbound.sender)


class StaleButtons(Fallback):
    """Last in line: a member's button press nobody took is refused politely."""

    async def handle(self, request: Request) -> bool:
        if request.inbound.button is None or request.member is None:
            return False
        request.reply(request.t("stale.button"))
        return True


def _rows(buttons: list[Button], width: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


def _index(items: tuple[Any, ...], value: str) -> Any:
    if not value.isdigit():
        return None
    index = int(value)
    return items[index] if index < len(items) else None


def _count(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    number = int(text)
    return number if number <= _MAX_COUNT else None


def _shown(value: int | None, none: str) -> str:
    return none if value is None else str(value)
