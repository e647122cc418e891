"""A round run every few seconds until `stop()`, for the jobs the supervisor keeps running
(tests call the round themselves, with a manual clock): one failed round is logged and the
next one runs, since each round is idempotent and resumes what the last one left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(
        self,
        round_: Callable[[], Awaitable[object]],
        *,
        every: float,
        log: logging.Logger,
        failure: str,
    ) -> None:
        self._round = round_
        self._every = every
        self._log = log  # the job's own logger, so its records keep their name
        self._failure = failure
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Until `stop()`; supervised by the caller."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                await self._round()
            except Exception:  # one bad round must not stop the next
                self._log.exception(self._failure)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)

    def stop(self) -> None:
        self._stopping.set()
