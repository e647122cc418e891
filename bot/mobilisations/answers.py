"""Answer buttons on a call's copies (and on reminders): "J'y vais" (per need), "Je ne peux
pas", "Je me retire", "Toujours partant·e ?". Any member may answer from any chat. A press
in a group is acknowledged by the platform (Telegram's callback answer, once per press)
and shows in the live count; a refusal (stranger, closed call, forged button) is told to
the presser privately, and an answer given in a private chat is confirmed there. One
current answer per member: a button pressed twenty times counts once. The call's
coordinator is told each change."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from alerts.messages import text_message
from alerts.mobilisations.buttons import is_ours, read_press
from alerts.mobilisations.calls import CallService
from alerts.mobilisations.counts import need_label
from alerts.notices import private_address
from alerts.outbox import NOTICE, Target
from alerts.types import NOTICE_PRIORITY
from bot.context import Fallback, Request
from storage import platform_state

log = logging.getLogger(__name__)
_ANSWER = {"going": "going", "cannot": "cannot", "withdraw": "withdrawn"}


class AnswerButtons(Fallback):
    def __init__(
        self, calls: CallService, *, stranger_answer_every: timedelta = timedelta(minutes=10)
    ) -> None:
        self._calls = calls
        self._stranger_every = stranger_answer_every

    async def handle(self, request: Request) -> bool:
        button = request.inbound.button
        if button is None or not is_ours(button.data):
            return False
        press = read_press(button.data)
        if request.member is None:
            if await self._stranger_turn(request):
                await self._tell_presser(request, request.t("mob.answer.stranger"))
            return True
        if press is None:
            log.info("%s: a mobilisation button that names nothing", request.inbound.platform)
            await self._tell_presser(request, request.t("mob.answer.unknown"))
            return True
        if press.action == "still":
            current = await self._calls.current_answer(
                request.session, press.call, request.member.id
            )
            if current == "going":
                await self._tell_presser(request, request.t("mob.reminder.yes"))
            return True
        result = await self._calls.answer(
            request.session,
            request.member,
            press.call,
            _ANSWER[press.action],
            press.need,
            request.now,
        )
        if result.code == "unchanged":
            return True  # the press was acknowledged by the platform; nothing new to say
        if result.code == "recorded":
            # In a group, hundreds answer within seconds: no private message each (the
            # platform's acknowledgement and the count say it); in private, a confirmation.
            if request.inbound.chat_type == "private":
                need = need_label(result.need, 1, request.t) if result.need else ""
                key = f"mob.answer.{_ANSWER[press.action]}"
                request.reply(request.t(key, id=press.call, need=need))
        else:
            await self._tell_presser(request, request.t(f"mob.answer.{result.code}", id=press.call))
        return True

    async def _stranger_turn(self, request: Request) -> bool:
        """A stranger pressing in a group is answered at most once per window (stored, as
        the router does for a stranger's commands): a button hammered is not a flood."""
        inbound = request.inbound
        if inbound.chat_type == "private":
            return True
        digest = hashlib.sha256(f"{inbound.platform}:{inbound.sender}".encode()).hexdigest()
        return await platform_state.claim_stranger_answer(
            request.session, inbound.platform, digest[:32], request.now, every=self._stranger_every
        )

    async def _tell_presser(self, request: Request, text: str) -> None:
        """In the private chat the press came from, or the presser's private chat: a
        group is not told who answered what."""
        inbound = request.inbound
        if inbound.chat_type == "private":
            request.reply(text)
            return
        address = await private_address(
            request.session, request.outbox.platforms, inbound.platform, inbound.sender
        )
        if address is None:
            return
        request.outbox.enqueue(
            request.session,
            Target(inbound.platform, address),
            text_message(text),
            fact=NOTICE,
            priority=NOTICE_PRIORITY,
            now=request.now,
        )
