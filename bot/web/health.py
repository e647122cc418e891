"""Liveness and readiness: `/livez` answers while the event loop does; `/readyz` when the
database answers and every configured relay reaches its platform."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from aiohttp import web

from bot.web.server import Route
from relays.base import Relay, RelayHealth
from storage.database import Database, ping

DATABASE_TIMEOUT = 2.0  # a database slower than this to say "1" is not ready
RELAY_TIMEOUT = 6.0  # above the Telegram relay's own getMe probe


class HealthChecks:
    def __init__(
        self,
        database: Database,
        relays: Mapping[str, Relay],
        *,
        database_timeout: float = DATABASE_TIMEOUT,
    ) -> None:
        self._database = database
        self._relays = dict(relays)
        self._database_timeout = database_timeout

    async def database_problem(self) -> str | None:
        """None when `SELECT 1` answers in time; otherwise what went wrong (no details that
        could hold the URL: the error's type only)."""
        try:
            async with asyncio.timeout(self._database_timeout), self._database.sessions() as s:
                await ping(s)
        except TimeoutError:
            return f"no answer within {self._database_timeout:g} s"
        except Exception as error:
            return f"unreachable ({type(error).__name__})"
        return None

    async def relays(self) -> dict[str, RelayHealth]:
        names = list(self._relays)
        found = await asyncio.gather(*(self._relay(self._relays[name]) for name in names))
        return dict(zip(names, found, strict=True))

    @staticmethod
    async def _relay(relay: Relay) -> RelayHealth:
        try:
            async with asyncio.timeout(RELAY_TIMEOUT):
                return await relay.health()
        except TimeoutError:
            return RelayHealth(False, "health check timed out")
        except Exception as error:  # a relay's bug must not take the endpoint down
            return RelayHealth(False, f"health check failed ({type(error).__name__})")

    async def not_ready(self) -> dict[str, str]:
        """What is not ready, by name ("database", or a relay's platform); empty when ready."""
        database, relays = await asyncio.gather(self.database_problem(), self.relays())
        problems = {} if database is None else {"database": database}
        for name, health in relays.items():
            if not health.connected:
                problems[name] = health.problem or "not connected"
        return problems

    async def livez(self, _request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def readyz(self, _request: web.Request) -> web.Response:
        problems = await self.not_ready()
        return web.json_response(
            {"ready": not problems, "not_ready": problems},
            status=503 if problems else 200,
            dumps=json.dumps,
        )

    def routes(self) -> list[Route]:
        return [Route("GET", "/livez", self.livez), Route("GET", "/readyz", self.readyz)]
