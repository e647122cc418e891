"""When to poll a feed next: pure functions of an injected clock and random source.

Jitter spreads polls so that feeds added together (or a restart) do not hit their
servers in lockstep; backoff keeps a failing server from being hammered, and pausing
after many failures hands the problem to a human instead of retrying forever.
Intervals written as "15m" are parsed by ``config.durations.parse_duration``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(hours=24)
PUBLIC_HOST_MIN_INTERVAL = timedelta(minutes=5)
PRIVATE_HOST_MIN_INTERVAL = timedelta(seconds=1)
BACKOFF_JITTER_FRACTION = 0.25


def min_interval(host_is_private: bool) -> timedelta:
    """The shortest polling interval allowed: courtesy for public servers; a private host
    (an intranet, or the test server) is ours to poll as fast as we like."""
    return PRIVATE_HOST_MIN_INTERVAL if host_is_private else PUBLIC_HOST_MIN_INTERVAL


def effective_interval(every: timedelta, host_is_private: bool) -> timedelta:
    """The configured interval, raised to the minimum for that kind of host."""
    return max(every, min_interval(host_is_private))


def next_poll_after_success(
    now: datetime, every: timedelta, jitter_fraction: float, rng: random.Random
) -> datetime:
    """``now + every``, plus up to ``jitter_fraction * every``.

    The jitter is only ever added, so a feed is never polled more often than its
    configured interval (which min_interval may have raised).
    """
    if not 0 <= jitter_fraction <= 1:
        raise ValueError("jitter_fraction must be between 0 and 1")
    return now + every + every * (jitter_fraction * rng.random())


def backoff_delay(every: timedelta, consecutive_failures: int, rng: random.Random) -> timedelta:
    """``every`` doubled per failure after the first, jittered up to +25 %, capped at 24 h."""
    if consecutive_failures < 1:
        raise ValueError("consecutive_failures must be at least 1 after a failure")
    cap = max(MAX_BACKOFF, every)  # a feed polled daily or less is not polled faster
    # 2**20 intervals already exceed any cap; bounding the exponent avoids overflow.
    exponent = min(consecutive_failures - 1, 20)
    base = min(every * (1 << exponent), cap)
    return min(base * (1 + BACKOFF_JITTER_FRACTION * rng.random()), cap)


def backoff_after_failure(
    now: datetime, every: timedelta, consecutive_failures: int, rng: random.Random
) -> datetime:
    """When to try again after the ``consecutive_failures``-th failure in a row."""
    return now + backoff_delay(every, consecutive_failures, rng)


def should_pause(consecutive_failures: int, pause_after: int) -> bool:
    """Stop polling (and tell the feed's admins) after ``pause_after`` failures in a row;
    ``pause_after`` <= 0 means never pause."""
    return pause_after > 0 and consecutive_failures >= pause_after
