"""A relay at the seam for dispatcher tests: records what it is asked to send and answers
with scripted outcomes, the way a platform would (the dispatcher is the code under test)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from alerts.messages import DeliveryResult, OutboundMessage, SendContext
from relays.base import ChatClass, InboundSink, RelayHealth


@dataclass
class SentRecord:
    address: str
    message: OutboundMessage
    context: SendContext


Script = Callable[[str, OutboundMessage, SendContext, int], DeliveryResult | None]


@dataclass
class ScriptedRelay:
    platform: str = "console"
    script: Script | None = None  # None or a None answer means "sent"
    delay: float = 0.0
    sent: list[SentRecord] = field(default_factory=list)
    attempts: list[SentRecord] = field(default_factory=list)

    async def start(self, _sink: InboundSink | None) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult:
        record = SentRecord(address, message, context)
        self.attempts.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.script(address, message, context, len(self.attempts)) if self.script else None
        if answer is not None:
            return answer
        self.sent.append(record)
        return DeliveryResult.sent(f"m{len(self.sent)}")

    def chat_class(self, address: str) -> ChatClass:
        return "private" if address.startswith("user") else "group"

    async def health(self) -> RelayHealth:
        return RelayHealth(connected=True)
