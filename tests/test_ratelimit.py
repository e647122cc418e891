"""Pacing within the platforms' limits, on an injected clock."""

from __future__ import annotations

import itertools

from relays.ratelimit import ChatBuckets, PriorityPacer, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_late_release_does_not_crowd_the_next_second() -> None:
    clock = Clock()
    pacer = PriorityPacer(Rate(30), monotonic=clock, margin=0.01)
    released: list[float] = []
    for number in range(120):
        clock.now = pacer.free_at()
        if number == 5:
            clock.now += 0.02  # the event loop woke up late once
        await pacer.acquire(0)  # free now: released at once
        released.append(clock.now)
    # The cadence catches up after the late release, but never puts a 31st send in a
    # second, which is how the platform counts.
    assert all(later - first >= 1.0 for first, later in zip(released, released[30:], strict=False))
    gaps = [b - a for a, b in itertools.pairwise(released)]
    assert min(gaps) < 1.01 / 30  # it did catch up: no drift added by the late wake-up
    assert released[-1] - released[0] < 119 * 1.01 / 30 + 0.03


def test_after_a_429_a_chat_may_send_when_the_platform_said() -> None:
    clock = Clock()
    buckets = ChatBuckets(monotonic=clock)
    group = Rate.per_minute(20, burst=3)
    buckets.block("telegram:-1001", 1.0)
    assert abs(buckets.wait_time("telegram:-1001", group) - 1.0) < 1e-9
    clock.now += 1.0
    assert buckets.wait_time("telegram:-1001", group) == 0.0
    buckets.take("telegram:-1001", group)
    assert buckets.wait_time("telegram:-1001", group) > 3.0  # then the group's own pace


def test_a_429_blocks_a_private_chat_for_the_time_said_then_its_own_pace() -> None:
    clock = Clock()
    buckets = ChatBuckets(monotonic=clock)
    private = Rate(1.0)
    buckets.block("telegram:42", 30.0)
    assert abs(buckets.wait_time("telegram:42", private) - 30.0) < 1e-9
    clock.now += 29.0
    assert buckets.wait_time("telegram:42", private) > 0.99
    clock.now += 1.0
    assert buckets.wait_time("telegram:42", private) == 0.0
    buckets.take("telegram:42", private)
    assert 1.0 < buckets.wait_time("telegram:42", private) < 1.02  # 1/s, with the margin


def test_a_chat_never_seen_comes_before_one_that_just_sent() -> None:
    clock = Clock()
    buckets = ChatBuckets(monotonic=clock)
    group = Rate.per_minute(20, burst=3)
    clock.now += 100.0
    buckets.take("telegram:-1", group)
    assert buckets.ready_at("telegram:-2", group) < buckets.ready_at("telegram:-1", group)
