"""Where an alert enters. A line (`/alert <text>`, a photo's caption) is read into a draft
and raised at once when its border is known; in a private chat a missing border is asked
with buttons, the rest kept; in a group the border to add is said. `/alert` alone, a lone
photo or a shared location start the guided conversation. Non-command input goes to the
conversation in progress, or enters here.
"""

from __future__ import annotations

from typing import Any

from alerts.types import Urgency
from bot.context import Fallback, Request
from bot.intake import drafts
from bot.intake.guided import GuidedConversation
from bot.intake.raising import AlertRaiser
from bot.intake.reading import LineReader, photo_of, refused_attachment


class AlertEntry(Fallback):
    def __init__(
        self, *, reader: LineReader, raiser: AlertRaiser, guided: GuidedConversation
    ) -> None:
        self._reader = reader
        self._raiser = raiser
        self._guided = guided

    async def command(self, request: Request, urgency: Urgency | None) -> None:
        """`/alert` or `/urgent`: with a text, that line; alone, the guided alert."""
        inbound = request.inbound
        if request.args.strip():
            await self.line(request, request.args, urgency)
            return
        if inbound.chat_type != "private":
            request.reply(request.t("guided.in_group"))
            return
        state: dict[str, Any] = {} if urgency is None else {"urgency": urgency.value}
        await self._guided.start(request, state, photo=photo_of(inbound))

    async def line(self, request: Request, text: str, urgency: Urgency | None) -> None:
        draft = self._reader.draft(request, text, urgency=urgency)
        if draft is None:
            return
        photo = photo_of(request.inbound)
        if not draft.needs_border:
            await self._raiser.raise_and_answer(request, draft, photo=photo)
        elif request.inbound.chat_type == "private":
            await self._guided.start(request, drafts.state_of(draft), photo=photo)
        else:
            self._reader.ask_border(request, draft)

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if inbound.event != "message" or request.member is None:
            return False  # the router refuses non-members politely
        if inbound.button is not None:
            return await self._guided.press(request, inbound.button.data)
        dialogue = await drafts.load(request)
        if inbound.edited:
            return dialogue is not None and await self._guided.edited_answer(request, dialogue)
        if dialogue is not None:
            if not await self._guided.ended(request, dialogue):
                await self._guided.answer(request, dialogue)
            return True
        if inbound.chat_type != "private":
            return False
        return await self._private_message(request)

    async def _private_message(self, request: Request) -> bool:
        """A private message that is no command and no answer: a photo or a location
        starts an alert; text is not taken here."""
        inbound = request.inbound
        if refused_attachment(request):
            return True
        photo = photo_of(inbound)
        if photo is not None:
            if inbound.text.strip():
                await self.line(request, inbound.text, None)
            else:
                await self._guided.start(request, {}, photo=photo)
            return True
        if inbound.location is not None:
            await self._guided.start(request, {}, location=inbound.location)
            return True
        return False


class StaleButtons(Fallback):
    """Last in line: a member's button press nobody took is refused politely."""

    async def handle(self, request: Request) -> bool:
        if request.inbound.button is None or request.member is None:
            return False
        request.reply(request.t("stale.button"))
        return True
