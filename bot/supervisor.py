"""Supervised background tasks: a crashed loop is logged and restarted with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, *, rng: random.Random | None = None, max_delay: float = 60.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._rng = rng or random.Random()  # noqa: S311 (backoff jitter, not a secret)
        self._max_delay = max_delay
        self._stopping = False

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self._tasks[name] = asyncio.create_task(self._keep_running(name, run), name=name)

    async def _keep_running(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A job that ran well for a while before failing (the database went away
                # for a minute) starts its backoff afresh: it must not wait a minute per blip.
                failures = 1 if loop.time() - started > self._max_delay else failures + 1
                delay = min(self._max_delay, 2.0 ** min(failures, 10)) * self._rng.uniform(0.5, 1)
                log.exception("%s crashed (failure %d); restarting in %.1fs", name, failures, delay)
                await asyncio.sleep(delay)
            else:
                return  # a clean return means the job is finished

    async def stop(self, grace: float = 15.0) -> None:
        self._stopping = True
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:  # a job that ignores the stop eats the orchestrator's grace
                log.warning(
                    "%s still running %gs after the stop; cancelled", task.get_name(), grace
                )
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
