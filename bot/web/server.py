"""The read-only web server (aiohttp, in Tocsin's own event loop).

It serves the routes the composition root gives it (`Route`): the health checks and
metrics now, the digest archive and the agenda later. `start()` binds at once, so a
listen address that cannot be used is one clear configuration error at start-up;
`run()` then serves under the supervisor until `stop()`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from config.checks import split_listen
from config.loader import ConfigError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


class WebServer:
    def __init__(self, listen: str, routes: Sequence[Route], *, source: str) -> None:
        """`listen` is `[web] listen` (port 0: any free port, see `port`); `source` names
        the configuration file in errors."""
        self._listen = listen
        self._host, self._port = split_listen(listen)
        self._source = source
        self._app = web.Application()
        for route in routes:
            self._app.router.add_route(route.method, route.path, route.handler)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.port: int | None = None  # the bound port, once started

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as error:
            await runner.cleanup()
            raise ConfigError(f"{self._source}: web.listen: {self._why(error)}") from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("web: listening on %s:%d", self._host, self.port)

    def _why(self, error: OSError) -> str:
        if error.errno == errno.EADDRINUSE:
            return f"address {self._listen} is already in use"
        return f"cannot listen on {self._listen} ({error.strerror or type(error).__name__})"

    async def run(self) -> None:
        """Serve until `stop()` (binds first if `start()` was not called)."""
        try:
            await self.start()
            await self._stopping.wait()
        finally:
            await self.close()

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
