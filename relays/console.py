"""The console relay: standard input as a local member's private chat, deliveries printed
as a phone would show them.

This is the embedded default's platform: a trainer can type `/alert …` and watch the
fan-out, and tests drive the whole bot through it. A message keeps its line breaks: its
first line follows the chat's name, the others are indented under it. The console has no
buttons: a question's choices are printed as a numbered list, as on Matrix, and typing a
number (or a choice's text) answers the latest question, like pressing the button.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable
from itertools import count
from typing import TextIO

from alerts.messages import (
    Button,
    ButtonPress,
    DeliveryResult,
    InboundMessage,
    OutboundMessage,
    SendContext,
)
from alerts.platforms import PlatformTraits
from alerts.splitting import TextBudget
from relays.base import ChatClass, InboundSink, RelayHealth
from relays.choices import answer_of, choices_of, with_numbered_choices
from relays.console_input import console_lines
from relays.markup import to_plain

CHOICE_HINT = (
    "↩️ Tapez le numéro (ou le texte) de votre choix · Type the number (or the text) of your choice"
)


def console_block(prefix: str, text: str) -> str:
    """A printed message: the first line after `prefix`, the next ones aligned under it
    (blank lines between paragraphs stay blank), ending with a newline."""
    first, *rest = text.split("\n")
    indent = " " * (len(prefix) + 1)
    lines = [f"{prefix} {first}", *(indent + line if line.strip() else "" for line in rest)]
    return "\n".join(lines) + "\n"


# The console has no limit worth splitting at, and its user id is its private chat.
TRAITS = PlatformTraits(
    name="console",
    command_prefix="/",
    text_budget=TextBudget(1_000_000, len),
    buttons=False,  # choices are printed as a numbered list and answered by typing
    user_id_is_private_chat=True,
)


class ConsoleRelay:
    platform = TRAITS.name
    has_buttons = TRAITS.buttons

    def __init__(
        self,
        *,
        user: str = "local",
        output: TextIO | None = None,
        read_line: Callable[[], str] | None = None,
        interactive: bool = True,
        settle: Callable[[], Awaitable[None]] | None = None,
        settle_timeout: float = 10.0,
    ) -> None:
        """`settle`: waits until what a typed line caused was printed, so the next line
        (a number answering a question) meets the question it answers, and a scripted
        session prints the same transcript every time."""
        self._user = user
        self._settle = settle
        self._settle_timeout = settle_timeout
        self._interactive = interactive
        self._session = uuid.uuid4().hex[:12]  # update ids must never repeat across runs
        self._output = output or sys.stdout
        self._next_line = console_lines(read_line, sys.stdin)
        self._ids = count(1)
        self._question: tuple[Button, ...] = ()  # the choices of the latest message to the user
        self.input_finished = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, sink: InboundSink | None) -> None:
        if sink is None or not self._interactive:
            return  # deliveries are printed; nobody types (a deployment without a terminal)
        self._reader = asyncio.create_task(self._read(sink), name="console-input")

    async def _read(self, sink: InboundSink) -> None:
        try:
            while True:
                line = await self._next_line()
                if not line:
                    return
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                await sink(self._inbound(text))
                if self._settle is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settle_timeout):
                            await self._settle()
        finally:
            self.input_finished.set()

    def _inbound(self, text: str) -> InboundMessage:
        number = str(next(self._ids))
        update_id = f"{self._session}-{number}"
        answer = answer_of(self._question, text)
        press = None
        if isinstance(answer, Button):
            press = ButtonPress(data=answer.data, press_id=update_id)
        elif answer is not None:
            text = answer  # a count, typed "4." or 4️⃣
        return InboundMessage(
            platform=self.platform,
            update_id=update_id,
            chat=self._user,
            chat_type="private",
            sender=self._user,
            sender_name=self._user,
            text="" if press else text,
            message_id=number,
            button=press,
        )

    async def stop(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            await asyncio.wait([self._reader])  # stdin is no longer watched once this returns

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        prefix = f"[{address}]"
        if context.reply_to_message_id:
            prefix += f" (↪ {context.reply_to_message_id})"
        if context.edit_message_id:
            prefix += f" (✎ {context.edit_message_id})"
        if address == self._user:
            self._question = tuple(choices_of(message))
        shown = with_numbered_choices(message, CHOICE_HINT, counts_by_value=True)
        self._output.write(console_block(prefix, to_plain(shown)))
        self._output.flush()
        return DeliveryResult.sent(f"console-{context.delivery_id}")

    def chat_class(self, address: str) -> ChatClass:
        return "private" if address == self._user else "group"

    async def health(self) -> RelayHealth:
        return RelayHealth(connected=True)  # a terminal is always there
