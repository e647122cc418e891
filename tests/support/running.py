"""Run Tocsin's application (relays + dispatcher) in the background of a test or bench."""

from __future__ import annotations

import asyncio

from bot.app import Application, Wiring


class RunningApp:
    def __init__(self, wiring: Wiring, *, receive: bool = False, settle: float = 0.0) -> None:
        self.wiring = wiring
        self.app = Application(wiring, receive=receive)
        self._settle = settle
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RunningApp:
        self._task = asyncio.create_task(self.app.run())
        if self._settle:
            await asyncio.sleep(self._settle)  # relays connected (getMe) before timing
        return self

    async def __aexit__(self, *_: object) -> None:
        self.app.stop()
        assert self._task is not None
        await self._task
