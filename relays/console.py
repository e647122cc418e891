"""The console relay: standard input as a local member's chat, deliveries printed as lines.

This is the embedded default's platform: a trainer can type `/alert …` and watch the
fan-out, and tests drive the whole bot through it.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from itertools import count
from typing import TextIO

from alerts.messages import DeliveryResult, InboundMessage, OutboundMessage, SendContext
from relays.base import ChatClass, InboundSink, replace_lone_surrogates
from relays.markup import to_one_line


class ConsoleRelay:
    platform = "console"

    def __init__(
        self,
        *,
        user: str = "local",
        output: TextIO | None = None,
        read_line: Callable[[], str] | None = None,
        interactive: bool = True,
    ) -> None:
        self._user = user
        self._interactive = interactive
        self._session = uuid.uuid4().hex[:12]  # update ids must never repeat across runs
        self._output = output or sys.stdout
        self._read_line = read_line or sys.stdin.readline
        self._ids = count(1)
        self.input_finished = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, sink: InboundSink | None) -> None:
        if sink is None or not self._interactive:
            return  # deliveries are printed; nobody types (a deployment without a terminal)
        self._reader = asyncio.create_task(self._read(sink), name="console-input")

    async def _read(self, sink: InboundSink) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                line = await loop.run_in_executor(None, self._read_line)
                if not line:
                    return
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                number = next(self._ids)
                # Under the C locale, standard input decodes bad bytes to lone surrogates.
                await sink(
                    replace_lone_surrogates(
                        InboundMessage(
                            platform=self.platform,
                            update_id=f"{self._session}-{number}",
                            chat=self._user,
                            chat_type="private",
                            sender=self._user,
                            sender_name=self._user,
                            text=text,
                            message_id=str(number),
                        )
                    )
                )
        finally:
            self.input_finished.set()

    async def stop(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        prefix = f"[{address}]"
        if context.reply_to_message_id:
            prefix += f" (↪ {context.reply_to_message_id})"
        if context.edit_message_id:
            prefix += f" (✎ {context.edit_message_id})"
        self._output.write(f"{prefix} {to_one_line(message)}\n")
        self._output.flush()
        return DeliveryResult.sent(f"console-{context.delivery_id}")

    def chat_class(self, address: str) -> ChatClass:
        return "private" if address == self._user else "group"
