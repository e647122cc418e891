"""The one small interface every platform relay implements."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, cast, runtime_checkable

from alerts.messages import DeliveryResult, InboundMessage, OutboundMessage, SendContext
from alerts.text import well_formed
from relays.images import PhotoSource

InboundSink = Callable[[InboundMessage], Awaitable[None]]
ChatClass = Literal["private", "group"]
_T = TypeVar("_T")


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def replace_lone_surrogates(value: _T) -> _T:
    """`value` with every string made well formed (`alerts.text.well_formed`): what a
    platform sent (a decoded JSON tree, or the neutral message built from it) before
    anything stores, queries or repeats it. Platforms' JSON may hold a lone `\\ud800`
    escape; left in, it fails every write of the update, and again on every retry."""
    found: Any = value
    if isinstance(found, str):
        return cast(_T, well_formed(found))
    if isinstance(found, dict):
        return cast(
            _T,
            {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in found.items()},
        )
    if isinstance(found, list | tuple):
        return cast(_T, type(found)(replace_lone_surrogates(item) for item in found))
    if dataclasses.is_dataclass(found) and not isinstance(found, type):
        changed = {}
        for name in _field_names(type(found)):
            current = getattr(found, name)
            if type(current) is str:
                cleaned = well_formed(current)
            elif current is None or isinstance(current, bool | int | float):
                continue
            else:
                cleaned = replace_lone_surrogates(current)
            if cleaned is not current and cleaned != current:
                changed[name] = cleaned
        return cast(_T, dataclasses.replace(found, **changed)) if changed else value
    return value


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


# -- what some relays can do besides sending, handed to their users by the root ----------


@runtime_checkable
class LeavesChats(Protocol):
    """A relay that can leave a group (Telegram: an unclaimed group's timeout)."""

    platform: str

    async def leave(self, address: str) -> bool:
        """True when left or already gone."""


@runtime_checkable
class FetchesPhotos(Protocol):
    """A relay that can download its platform's photos, for the other relays to forward."""

    platform: str

    async def fetch_photo(self, ref: str) -> bytes: ...


class BotIdentity:
    """The names the bot is addressed by on one platform (`/alert@name` in a group), as its
    relay learns them once connected. The relay owns it; the router asks it."""

    def __init__(self) -> None:
        self._names: frozenset[str] = frozenset()

    @property
    def names(self) -> frozenset[str]:
        return self._names

    def learn(self, name: str) -> None:
        self._names = self._names | {name.lower()}


class PhotoSources(Mapping[str, PhotoSource]):
    """Each relay's photo download, by platform: a view over the relays of this process,
    so a relay forwards a photo from another platform without holding that relay."""

    def __init__(self, relays: Mapping[str, Relay]) -> None:
        self._relays = relays

    def __getitem__(self, platform: str) -> PhotoSource:
        relay = self._relays[platform]
        if not isinstance(relay, FetchesPhotos):
            raise KeyError(platform)
        return relay.fetch_photo

    def __iter__(self) -> Iterator[str]:
        return (name for name, relay in self._relays.items() if isinstance(relay, FetchesPhotos))

    def __len__(self) -> int:
        return sum(1 for _ in self)


RelayBuilder = Callable[[PhotoSources], "Relay | None"]  # None: not for this process


def build_relays(builders: Iterable[RelayBuilder]) -> dict[str, Relay]:
    """Build the relays of this process together, each given the others' photo downloads.
    Nothing is added after this returns; a photo is only fetched while sending."""
    relays: dict[str, Relay] = {}
    photos = PhotoSources(relays)
    for build in builders:
        relay = build(photos)
        if relay is not None:
            relays[relay.platform] = relay
    return relays
