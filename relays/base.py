"""The one small interface every platform relay implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from alerts.messages import DeliveryResult, InboundMessage, OutboundMessage, SendContext

InboundSink = Callable[[InboundMessage], Awaitable[None]]
ChatClass = Literal["private", "group"]


class Relay(Protocol):
    """Receives from one platform into neutral messages and sends neutral messages out.

    A relay reports what happened (`DeliveryResult`); it never retries or waits on its
    own: the dispatcher decides.
    """

    platform: str

    async def start(self, sink: InboundSink | None) -> None:
        """Connect; with a sink, also begin receiving (in tasks the relay supervises).

        `tocsin worker` passes None: it only sends. Returns once connected.
        """

    async def stop(self) -> None: ...

    async def send(
        self, address: str, message: OutboundMessage, context: SendContext
    ) -> DeliveryResult: ...

    def chat_class(self, address: str) -> ChatClass:
        """Private chat or group, which selects the per-chat rate limit."""
