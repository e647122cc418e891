"""What the dispatcher is told: how to retry, how far to lease ahead, and the Telegram
limits (Matrix is paced by the homeserver's own 429 answers)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from relays.ratelimit import PlatformLimits, Rate


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 2.0
    max_delay: float = 15 * 60.0
    give_up_after: timedelta = timedelta(hours=24)
    jitter: float = 0.2  # ± fraction, so many chats retrying do not stampede together

    def backoff(self, attempts: int, rng: random.Random) -> float:
        base = min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)
        return float(base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class DispatcherSettings:
    lease: timedelta = timedelta(minutes=2)  # a backstop; heartbeats free leases sooner
    heartbeat: timedelta = timedelta(seconds=5)
    max_in_flight: int = 200
    # Seconds of a platform's overall rate leased ahead of the pacer. More would only queue
    # in memory, where a row of one chat would wait behind all those already queued.
    lead: float = 0.5
    poll_interval: float = 1.0
    send_timeout: float = 60.0


def telegram_limits(overall: float, private: float, group_per_minute: float) -> PlatformLimits:
    return PlatformLimits(
        overall=Rate(overall),
        private_chat=Rate(private),
        group_chat=Rate.per_minute(group_per_minute, burst=3),
    )
