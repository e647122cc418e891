"""Telegram's flood limits for sending messages, scalable for fast tests.

Semantics (periods are divided by ``scale``, so ``scale=10`` is ten times faster):
- overall, per bot: at most ``global_per_second`` sends in any sliding 1 s window;
- per private chat (positive id): a token bucket of ``private_burst`` tokens refilled at
  ``private_per_second`` — a short burst is allowed, as Telegram allows one, then one a
  second;
- per group, supergroup or channel (negative id): at most ``group_per_minute`` sends in
  any sliding 60 s window.
A refused send is not counted. The wait reported is the time until the earliest slot
frees in every limit involved; the server rounds it up to whole seconds (at least 1),
as ``retry_after`` is an integer in the Bot API.
Memory stays bounded: a window keeps at most ``limit`` timestamps, and idle per-chat
limiters are dropped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    global_per_second: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20


class SlidingWindow:
    """At most ``limit`` events in any window of ``period`` seconds."""

    __slots__ = ("_stamps", "limit", "period")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._stamps: deque[float] = deque(maxlen=limit)

    def _trim(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()

    def wait(self, now: float) -> float:
        self._trim(now)
        if len(self._stamps) < self.limit:
            return 0.0
        return self._stamps[0] + self.period - now

    def take(self, now: float) -> None:
        self._stamps.append(now)

    def idle(self, now: float) -> bool:
        self._trim(now)
        return not self._stamps

    def __len__(self) -> int:
        return len(self._stamps)


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` tokens a second; a send takes one."""

    __slots__ = ("_tokens", "_updated", "capacity", "rate")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self._tokens = capacity
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._updated, 0.0)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def wait(self, now: float) -> float:
        self._refill(now)
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.capacity


def retry_after_seconds(wait: float) -> int:
    """The Bot API's integer retry_after: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


class RateLimiter:
    """Decides whether one more send may go now; counts it when it may."""

    _PRUNE_EVERY = 512

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        scale: float = 1.0,
        clock: Callable[[], float],
    ) -> None:
        if scale <= 0:
            raise ValueError("rate scale must be positive")
        self.limits = limits or RateLimits()
        self.scale = scale
        self._clock = clock
        self._global = SlidingWindow(self.limits.global_per_second, 1.0 / scale)
        self._private: dict[int, TokenBucket] = {}
        self._groups: dict[int, SlidingWindow] = {}
        self._calls = 0

    def acquire(self, chat_id: int) -> float:
        """0.0 and the send is counted, or the seconds to wait before a slot frees."""
        now = self._clock()
        self._calls += 1
        if self._calls % self._PRUNE_EVERY == 0:
            self._prune(now)
        chat_limit: TokenBucket | SlidingWindow
        if chat_id > 0:
            bucket = self._private.get(chat_id)
            if bucket is None:
                bucket = TokenBucket(
                    self.limits.private_burst, self.limits.private_per_second * self.scale, now
                )
                self._private[chat_id] = bucket
            chat_limit = bucket
        else:
            window = self._groups.get(chat_id)
            if window is None:
                window = SlidingWindow(self.limits.group_per_minute, 60.0 / self.scale)
                self._groups[chat_id] = window
            chat_limit = window
        wait = max(self._global.wait(now), chat_limit.wait(now))
        if wait > 0:
            return wait
        self._global.take(now)
        chat_limit.take(now)
        return 0.0

    def _prune(self, now: float) -> None:
        for private_id in [key for key, bucket in self._private.items() if bucket.idle(now)]:
            del self._private[private_id]
        for group_id in [key for key, window in self._groups.items() if window.idle(now)]:
            del self._groups[group_id]

    def tracked_chats(self) -> int:
        return len(self._private) + len(self._groups)
