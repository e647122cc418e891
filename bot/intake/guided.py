"""The guided alert: a step-by-step conversation with buttons — border → place → what
happened → how many → minors → themes → urgency → confirm.

Platform-neutral: questions are neutral messages with `Button`s (Telegram shows inline
keyboards, Matrix and the console numbered choices that come back as button presses),
answers are presses, text, a photo or a shared location. The draft lives in the database
(`drafts`, restart-safe) with a token that every button carries, so a forged button or
one of an ended conversation is refused. "Send" raises it through `AlertRaiser`, like
every other way in.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from alerts.messages import Location, PhotoRef
from alerts.text import clean_text
from bot.context import Request
from bot.intake import drafts
from bot.intake.drafts import Dialogue
from bot.intake.guided_questions import CANCEL, GuidedQuestions, read_press
from bot.intake.guided_steps import Answer, GuidedSteps
from bot.intake.raising import AlertRaiser
from bot.intake.reading import LineReader, photo_of, refused_attachment

log = logging.getLogger(__name__)


class GuidedConversation:
    def __init__(
        self,
        *,
        steps: GuidedSteps,
        questions: GuidedQuestions,
        reader: LineReader,
        raiser: AlertRaiser,
        ttl: timedelta = timedelta(hours=1),
    ) -> None:
        self._steps = steps
        self._questions = questions
        self._reader = reader
        self._raiser = raiser
        self._ttl = ttl

    async def start(
        self,
        request: Request,
        state: dict[str, Any],
        *,
        photo: PhotoRef | None = None,
        location: Location | None = None,
    ) -> None:
        dialogue = drafts.new_dialogue(request, state)
        if photo is not None:
            drafts.keep_photo(state, photo)
        log.info("%s: guided alert started", request.inbound.platform)
        request.reply(request.t("guided.start"))
        if location is not None:
            self._say(request, self._steps.located(state, location))
        await self._advance(request, dialogue)

    async def cancel(self, request: Request) -> None:
        if await drafts.load(request) is None:
            request.reply(request.t("guided.nothing_to_cancel"))
            return
        await drafts.remove(request)
        request.reply(request.t("guided.cancelled"))

    async def ended(self, request: Request, dialogue: Dialogue) -> bool:
        """True when the conversation expired: then it is forgotten, and said so."""
        if not dialogue.expired(request.now, self._ttl):
            return False
        await drafts.remove(request)
        minutes = int(self._ttl.total_seconds() // 60)
        request.reply(request.t("guided.expired", minutes=minutes))
        return True

    async def press(self, request: Request, data: str) -> bool:
        """A button press; False when the button is not this flow's."""
        press = read_press(data)
        if press is None:
            return False
        dialogue = await drafts.load(request)
        if dialogue is None or press.token != dialogue.token:
            log.info("%s: a button of no conversation in progress", request.inbound.platform)
            request.reply(request.t("guided.stale_button"))
            return True
        if await self.ended(request, dialogue):
            return True
        if press.value == CANCEL:
            await self.cancel(request)
            return True
        if press.step is None or press.step != dialogue.state.get("step"):
            request.reply(request.t("guided.old_question"))
            return True
        pressed = self._steps.press(dialogue.state, press.step, press.value)
        if pressed is None:
            request.reply(request.t("guided.stale_button"))
        elif pressed == "redraw":
            await self._questions.redraw_themes(request, dialogue)
            await drafts.save(request, dialogue)
        elif pressed == "send":
            await self._send(request, dialogue)
        else:
            await self._advance(request, dialogue)
        return True

    async def answer(self, request: Request, dialogue: Dialogue) -> None:
        """Typed text, a photo or a location while a question is waiting."""
        inbound, state = request.inbound, dialogue.state
        if refused_attachment(request):
            return
        photo = photo_of(inbound)
        if photo is not None:
            drafts.keep_photo(state, photo)
        if inbound.location is not None:
            self._say(request, self._steps.located(state, inbound.location))
            await self._advance(request, dialogue)
            return
        text = clean_text(inbound.text)
        if not text:
            await self._advance(request, dialogue)  # a photo alone: ask again what is missing
            return
        step = state.get("step", "border")
        if step == "what":
            described = self._reader.text(request, text)
            if described is None:
                await drafts.save(request, dialogue)
                return
            self._steps.described(state, described, inbound.message_id)
            await self._advance(request, dialogue)
            return
        answer = self._steps.typed(state, step, text)
        self._say(request, answer)
        if answer.stay:
            await drafts.save(request, dialogue)
            return
        await self._advance(request, dialogue)

    async def edited_answer(self, request: Request, dialogue: Dialogue) -> bool:
        """The volunteer corrected their "what happened" message before sending."""
        inbound, state = request.inbound, dialogue.state
        if not inbound.message_id or inbound.message_id != state.get("what_message"):
            return False
        text = self._reader.text(request, clean_text(inbound.text))
        if text is None:
            return True
        state["text"] = text
        request.reply(request.t("guided.text_updated"))
        await drafts.save(request, dialogue)
        return True

    @staticmethod
    def _say(request: Request, answer: Answer) -> None:
        if answer.key is not None:
            request.reply(request.t(answer.key, **answer.params))

    async def _advance(self, request: Request, dialogue: Dialogue) -> None:
        step = self._steps.next_step(dialogue.state)
        dialogue.state["step"] = step
        await self._questions.ask(request, dialogue, step)
        await drafts.save(request, dialogue)

    async def _send(self, request: Request, dialogue: Dialogue) -> None:
        state = dialogue.state
        raised = await self._raiser.raise_and_answer(
            request,
            drafts.draft_of(state),
            photo=drafts.photo_in(state),
            location=drafts.location_in(state),
        )
        if raised:  # refused by the intake limit: the draft is kept, to confirm later
            await drafts.remove(request)
