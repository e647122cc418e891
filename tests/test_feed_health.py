"""Polling schedule rules, with an injected clock and a seeded random source."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from feeds.health import (
    MAX_BACKOFF,
    backoff_after_failure,
    backoff_delay,
    effective_interval,
    min_interval,
    next_poll_after_success,
    should_pause,
)

NOW = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)
EVERY = timedelta(minutes=30)


def test_next_poll_is_the_interval_plus_bounded_positive_jitter() -> None:
    rng = random.Random(7)
    polls = [next_poll_after_success(NOW, EVERY, 0.1, rng) for _ in range(500)]

    assert all(NOW + EVERY <= poll <= NOW + EVERY * 1.1 for poll in polls)
    assert len(set(polls)) > 400  # spread out, not in lockstep


def test_next_poll_without_jitter_is_exact() -> None:
    assert next_poll_after_success(NOW, EVERY, 0.0, random.Random(1)) == NOW + EVERY


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_jitter_fraction_must_be_a_fraction(fraction: float) -> None:
    with pytest.raises(ValueError, match="jitter_fraction"):
        next_poll_after_success(NOW, EVERY, fraction, random.Random(1))


def test_backoff_doubles_from_the_interval() -> None:
    class NoJitter(random.Random):
        def random(self) -> float:
            return 0.0

    delays = [backoff_delay(EVERY, failures, NoJitter()) for failures in range(1, 7)]
    assert delays == [EVERY * factor for factor in (1, 2, 4, 8, 16, 32)]


def test_backoff_is_jittered_and_capped_at_a_day() -> None:
    rng = random.Random(3)
    for failures in range(1, 12):
        base = min(EVERY * 2 ** (failures - 1), MAX_BACKOFF)
        for _ in range(50):
            delay = backoff_delay(EVERY, failures, rng)
            assert base <= delay <= min(base * 1.25, MAX_BACKOFF)
    assert backoff_delay(EVERY, 10_000, rng) == MAX_BACKOFF  # no overflow


def test_backoff_never_polls_a_slow_feed_faster_than_its_interval() -> None:
    weekly = timedelta(days=7)
    assert backoff_delay(weekly, 3, random.Random(1)) == weekly


def test_backoff_after_failure_is_relative_to_now() -> None:
    rng = random.Random(5)
    at = backoff_after_failure(NOW, EVERY, 3, rng)
    assert NOW + 4 * EVERY <= at <= NOW + 5 * EVERY


def test_backoff_needs_at_least_one_failure() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        backoff_delay(EVERY, 0, random.Random(1))


@pytest.mark.parametrize(
    ("failures", "pause_after", "expected"),
    [(0, 10, False), (9, 10, False), (10, 10, True), (25, 10, True), (100, 0, False)],
)
def test_should_pause(failures: int, pause_after: int, expected: bool) -> None:
    assert should_pause(failures, pause_after) is expected


def test_minimum_intervals() -> None:
    assert min_interval(host_is_private=False) == timedelta(minutes=5)
    assert min_interval(host_is_private=True) == timedelta(seconds=1)
    assert effective_interval(timedelta(seconds=10), host_is_private=False) == timedelta(minutes=5)
    assert effective_interval(timedelta(seconds=10), host_is_private=True) == timedelta(seconds=10)
    assert effective_interval(timedelta(hours=2), host_is_private=False) == timedelta(hours=2)
