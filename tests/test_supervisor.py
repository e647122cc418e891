"""The supervisor restarts a crashed job with backoff, afresh after a healthy spell."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from bot.supervisor import Supervisor


async def test_backoff_grows_with_quick_failures_and_starts_afresh_after_a_long_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.supervisor")
    supervisor = Supervisor(rng=random.Random(3), max_delay=0.05)
    runs: list[str] = []
    done = asyncio.Event()

    async def job() -> None:
        runs.append("run")
        if len(runs) in (1, 2):
            raise RuntimeError("the database went away")
        if len(runs) == 3:
            await asyncio.sleep(0.1)  # ran well for longer than max_delay, then failed
            raise RuntimeError("the database went away again")
        done.set()

    supervisor.start("job", job)
    async with asyncio.timeout(5):
        await done.wait()
    await supervisor.stop()
    failures = [
        record.getMessage().split("(")[1].split(")")[0]
        for record in caplog.records
        if record.getMessage().startswith("job crashed")
    ]
    assert failures == ["failure 1", "failure 2", "failure 1"]
    assert len(runs) == 4


async def test_a_job_still_running_after_the_grace_is_named_and_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.supervisor")
    supervisor = Supervisor()
    cancelled = asyncio.Event()

    async def ignores_the_stop() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def returns() -> None:
        return

    supervisor.start("stubborn", ignores_the_stop)
    supervisor.start("prompt", returns)
    await asyncio.sleep(0)
    await supervisor.stop(grace=0.05)
    assert cancelled.is_set()
    assert [record.getMessage() for record in caplog.records] == [
        "stubborn still running 0.05s after the stop; cancelled"
    ]
