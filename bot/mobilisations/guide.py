"""`/mobilise` alone, in a private chat: the needs offered as buttons (numbered choices on
Matrix and the console), then the place and time typed in one line. The state lives in
the `conversations` table under its own flow (restart-safe); every button carries the
conversation's token, so a forged or stale one is refused."""

from __future__ import annotations

from typing import Any

from alerts.messages import Button
from alerts.mobilisations.counts import need_label
from alerts.mobilisations.needs import Need
from alerts.text import clean_text
from bot.context import Fallback, Request
from bot.intake import drafts
from bot.intake.drafts import Dialogue
from bot.mobilisations.lines import CallLines

FLOW = "mg"  # this flow's button prefix and its mark in the conversation state
_CANCEL = "x"


class MobilisationGuide(Fallback):
    def __init__(self, lines: CallLines) -> None:
        self._lines = lines

    async def start(self, request: Request) -> None:
        inbound = request.inbound
        if inbound.chat_type != "private":
            request.reply(request.t("mob.error.no_need"))
            return
        dialogue = drafts.new_dialogue(request, {"flow": FLOW, "needs": {}})
        request.reply(request.t("mob.guide.start"), buttons=self._buttons(request, dialogue))
        await drafts.save(request, dialogue)

    @staticmethod
    def _buttons(request: Request, dialogue: Dialogue) -> tuple[tuple[Button, ...], ...]:
        choices = [
            Button(
                need_label(need, 1, request.t, title=True), f"{FLOW}:{dialogue.token}:{need.value}"
            )
            for need in Need
        ]
        rows = [tuple(choices[i : i + 2]) for i in range(0, len(choices), 2)]
        rows.append((Button(request.t("mob.guide.cancel"), f"{FLOW}:{dialogue.token}:{_CANCEL}"),))
        return tuple(rows)

    async def handle(self, request: Request) -> bool:
        inbound = request.inbound
        if inbound.event != "message" or request.member is None:
            return False
        button = inbound.button
        if button is not None and not button.data.startswith(FLOW + ":"):
            return False
        dialogue = await drafts.load(request)
        ours = dialogue is not None and dialogue.state.get("flow") == FLOW
        if button is not None:
            if not ours or dialogue is None or button.data.split(":")[1:2] != [dialogue.token]:
                request.reply(request.t("mob.guide.stale"))
                return True
            await self._press(request, dialogue, button.data.split(":")[-1])
            return True
        if not ours or dialogue is None or inbound.edited:
            return False
        text = clean_text(inbound.text)
        if not text:
            return False
        chosen = _needs(dialogue.state)
        # After "where is it?", the answer completes the line typed before.
        line = f"{dialogue.state['line']} {text}" if dialogue.state.get("line") else text
        outcome = await self._lines.raise_call(request, line, chosen)
        dialogue.state["line"] = line if outcome == "border" else None
        if outcome == "sent":
            await drafts.remove(request)
        else:
            await drafts.save(request, dialogue)
        return True

    async def _press(self, request: Request, dialogue: Dialogue, value: str) -> None:
        if value == _CANCEL:
            await drafts.remove(request)
            request.reply(request.t("mob.guide.cancelled"))
            return
        try:
            need = Need(value)
        except ValueError:
            request.reply(request.t("mob.guide.stale"))
            return
        needs: dict[str, Any] = dialogue.state.setdefault("needs", {})
        needs[need.value] = int(needs.get(need.value, 0)) + 1
        chosen = ", ".join(
            f"{count} {need_label(n, count, request.t)}"
            for n, count in _needs(dialogue.state).items()
        )
        request.reply(
            request.t("mob.guide.need_chosen", need=chosen),
            buttons=self._buttons(request, dialogue),
        )
        await drafts.save(request, dialogue)


def _needs(state: dict[str, Any]) -> dict[Need, int]:
    raw = state.get("needs") or {}
    found: dict[Need, int] = {}
    for need in Need:
        value = raw.get(need.value) if isinstance(raw, dict) else None
        if isinstance(value, int) and 0 < value <= 500:
            found[need] = value
    return found
