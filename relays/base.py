"""The one small interface every platform relay implements."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from alerts.messages import DeliveryResult, InboundMessage, OutboundMessage, SendContext

InboundSink = Callable[[InboundMessage], Awaitable[None]]
ChatClass = Literal["private", "group"]


@dataclass(frozen=True)
class RelayHealth:
    """Whether a relay can reach its platform now, as the readiness check reports it."""

    connected: bool
    problem: str = ""  # why not, for the operator: never an id, an address or a text


async def hand_over_together(
    sink: InboundSink, inbounds: Sequence[InboundMessage]
) -> list[tuple[InboundMessage, Exception]]:
    """Hand a fetched batch to the sink at once, in order, so the router can write it in
    one transaction; the messages that failed, with their error. A cancellation is raised
    (the sink's own tasks are cancelled with it)."""
    outcomes = await asyncio.gather(
        *(sink(inbound) for inbound in inbounds), return_exceptions=True
    )
    failed: list[tuple[InboundMessage, Exception]] = []
    for inbound, outcome in zip(inbounds, outcomes, strict=True):
        if isinstance(outcome, Exception):
            failed.append((inbound, outcome))
        elif isinstance(outcome, BaseException):
            raise outcome
    return failed


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

    async def health(self) -> RelayHealth:
        """Connected to the platform lately (asked at each readiness check and scrape)."""
