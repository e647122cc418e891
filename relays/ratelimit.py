"""Pacing sends within the platforms' limits.

`PriorityPacer` spaces sends over a whole platform (Telegram ~30/s) and serves the
highest-priority waiter first, so a vital alert overtakes an announcement backlog.
`ChatBuckets` keeps each chat within its own limit (1/s private, 20/min groups).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int = 1

    @classmethod
    def per_minute(cls, count: float, burst: int = 1) -> Rate:
        # A sliding minute sees `burst` + refills: refill slower so the sum stays in limit.
        return cls(max(count - (burst - 1), 1.0) / 60.0, burst)


class PriorityPacer:
    """Releases at most `rate.per_second` per second, evenly spaced, best priority first.

    Sends are spaced evenly rather than in bursts: a burst queues inside the HTTP client
    and reaches the platform spread out, so its window would see them later than we
    released them. The cadence follows the schedule, not the moment the event loop woke
    up, so small wake-up delays do not add up over a long fan-out; after an idle spell the
    schedule restarts from now. Catching up after a late release must not crowd a second,
    though: the platform counts sends in any sliding second, so a release also waits until
    the one `per_second` releases earlier is a full (widened) second old. `margin` widens
    each gap and that second a little, to absorb the jitter between our release and the
    moment the platform stamps the request.
    """

    def __init__(
        self,
        rate: Rate | None,
        monotonic: Callable[[], float] = time.monotonic,
        margin: float = 0.01,
    ) -> None:
        self._interval = (1.0 + margin) / rate.per_second if rate else 0.0
        count = max(int(rate.per_second), 1) if rate else 1
        self._window = (1.0 + margin) * count / rate.per_second if rate else 0.0
        self._released: deque[float] = deque(maxlen=count)
        self._monotonic = monotonic
        self._next_free = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._pump: asyncio.Task[None] | None = None

    async def acquire(self, priority: int) -> None:
        if self._interval == 0:
            return
        now = self._monotonic()
        if not self._waiters and now >= self.free_at():
            self._advance(now)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._order), future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._release_loop(), name="pacer")
        await future

    def delay(self, seconds: float) -> None:
        """The platform asked everyone to wait (a global flood limit)."""
        self._next_free = max(self._next_free, self._monotonic() + seconds)

    def free_at(self) -> float:
        """The monotonic time of the next release."""
        released = self._released
        if len(released) == released.maxlen:
            return max(self._next_free, released[0] + self._window)
        return self._next_free

    def _advance(self, now: float) -> None:
        behind = now - self._next_free
        start = now if behind > self._interval else self._next_free
        self._next_free = start + self._interval
        self._released.append(now)

    async def _release_loop(self) -> None:
        while self._waiters:
            wait = self.free_at() - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            _, _, future = heapq.heappop(self._waiters)
            if future.cancelled():
                continue
            self._advance(self._monotonic())
            future.set_result(None)


class ChatBuckets:
    """One token bucket per chat; `wait_time` says how long until that chat may send.

    Each chat is paced at its own class's rate, widened by `margin` like the platform
    pacer: the platform stamps a send when it arrives, a little after we released it, so
    a bucket refilled at exactly the platform's rate would now and then send one early.
    A 429 blocks the chat until the moment the platform named, whatever its rate.
    """

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, margin: float = 0.01
    ) -> None:
        self._monotonic = monotonic
        self._stretch = 1.0 + margin
        self._state: dict[str, tuple[float, float]] = {}  # chat → (tokens, stamp)

    def wait_time(self, chat: str, rate: Rate | None) -> float:
        return max(self.ready_at(chat, rate) - self._monotonic(), 0.0)

    def ready_at(self, chat: str, rate: Rate | None) -> float:
        """The monotonic time from which the chat has a token: in the past for a chat
        that has waited (longest first: the fair order), 0.0 for one never seen."""
        state = self._state.get(chat)
        if state is None:
            return 0.0
        tokens, stamp = state
        if rate is None:
            return stamp  # only a 429's block leaves state for a chat without a limit
        return stamp + (1.0 - tokens) * self._stretch / rate.per_second

    def take(self, chat: str, rate: Rate | None) -> None:
        if rate is None:
            return
        tokens = self._tokens(chat, rate)
        self._state[chat] = (tokens - 1.0, self._monotonic())

    def block(self, chat: str, seconds: float) -> None:
        """After a 429 for this chat: no send until `seconds` have passed, then one token
        (then the chat's own pace)."""
        self._state[chat] = (1.0, self._monotonic() + seconds)

    def _tokens(self, chat: str, rate: Rate) -> float:
        now = self._monotonic()
        # A stamp ahead of now (a 429's block) counts down to its token.
        tokens, stamp = self._state.get(chat, (float(rate.burst), now))
        return min(float(rate.burst), tokens + (now - stamp) * rate.per_second / self._stretch)

    def forget_idle(self, keep: int = 10_000) -> None:
        """Bound memory on a network with very many chats: full buckets carry no state."""
        if len(self._state) > keep:
            self._state.clear()


@dataclass(frozen=True)
class PlatformLimits:
    overall: Rate | None = None
    private_chat: Rate | None = None
    group_chat: Rate | None = None
