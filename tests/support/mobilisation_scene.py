"""Tocsin built by the real composition root for mobilisation calls, fed neutral messages
at the router (as the relays hand them over), the deadlines run by `tick` under a manual
clock, the results read from the outbox and the tables."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.messages import ButtonPress, InboundMessage, OutboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.database import Database
from storage.models import Delivery

NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 14:00 in Paris
SPAIN = "vigie-espagne"  # console channel, franco-espagnole
ITALY = "vigie-italie"  # console channel, franco-italienne
COORDINATOR = "coord"
OBSERVERS = ("obs1", "obs2", "obs3", "obs4")


def scene_settings(
    database_url: str, *, web: bool = False, per_minute: int = 10, **mobilisations: object
) -> LoadedConfig:
    def member(user: str, role: str = "observer", organisation: str = "anafe") -> dict[str, str]:
        return {"platform": "console", "user": user, "organisation": organisation, "role": role}

    def channel(address: str, border: str) -> dict[str, object]:
        return {
            "id": address,
            "platform": "console",
            "address": address,
            "organisation": "anafe",
            "borders": [border],
            "themes": ["*"],
            "min_urgency": "info",
        }

    raw: dict[str, object] = {
        "storage": {"url": database_url},
        "console": {"interactive": False, "user": "local"},
        "organisations": [{"id": "anafe", "name": "Anafé"}, {"id": "cimade", "name": "Cimade"}],
        "members": [
            member(COORDINATOR, "coordinator"),
            member("other-coord", "coordinator", "cimade"),
            member("admin-anafe", "org-admin"),
            *(member(user) for user in OBSERVERS),
        ],
        "channels": [channel(SPAIN, "franco-espagnole"), channel(ITALY, "franco-italienne")],
        "mobilisations": {"edit_every": "5s", **mobilisations},
    }
    raw["alerts"] = {"per_member_per_minute": per_minute}
    if web:
        raw["web"] = {"listen": "127.0.0.1:0"}
    return LoadedConfig(
        settings=build_settings(raw, "mobilisation-scene.toml"),
        secrets=Secrets(),
        source="mobilisation-scene.toml",
        embedded=False,
    )


@dataclass
class Scene:
    wiring: Wiring
    clock: ManualClock
    updates: int = 0
    said: dict[str, int] = field(default_factory=dict)

    def _next(self) -> str:
        self.updates += 1
        return f"u{self.updates}"

    async def say(
        self,
        user: str,
        text: str,
        *,
        chat: str | None = None,
        chat_type: Literal["private", "group"] = "private",
        message_id: str | None = None,
        edited: bool = False,
    ) -> None:
        await self.wiring.router(
            InboundMessage(
                platform="console",
                update_id=self._next(),
                chat=chat or user,
                chat_type=chat_type,
                sender=user,
                text=text,
                message_id=message_id,
                edited=edited,
            )
        )

    def press_message(self, user: str, data: str, chat: str = SPAIN) -> InboundMessage:
        update = self._next()
        return InboundMessage(
            platform="console",
            update_id=update,
            chat=chat,
            chat_type="group" if chat != user else "private",
            sender=user,
            button=ButtonPress(data=data, press_id=update),
        )

    async def press(self, user: str, data: str, chat: str = SPAIN) -> None:
        await self.wiring.router(self.press_message(user, data, chat))

    async def tick(self) -> int:
        assert self.wiring.mobilisations is not None
        return await self.wiring.mobilisations.runner.tick()

    async def rows(self, chat: str) -> list[Delivery]:
        async with self.wiring.database.sessions() as session:
            found = await session.scalars(
                select(Delivery)
                .where(Delivery.platform == "console", Delivery.address == chat)
                .order_by(Delivery.id)
            )
            return list(found)

    async def texts(self, chat: str) -> list[str]:
        return [OutboundMessage.from_json(row.payload).plain for row in await self.rows(chat)]

    async def last(self, chat: str) -> str:
        """What the chat was last told (the newest row)."""
        return (await self.texts(chat))[-1]


@asynccontextmanager
async def mobilisation_scene(
    database_url: str,
    *,
    database: Database | None = None,
    clock: ManualClock | None = None,
    web: bool = False,
    per_minute: int = 10,
    **mobilisations: object,
) -> AsyncIterator[Scene]:
    clock = clock or ManualClock(NOW)
    wiring = await build(
        scene_settings(database_url, web=web, per_minute=per_minute, **mobilisations),
        clock=clock,
        database=database,
        console_output=io.StringIO(),
    )
    try:
        yield Scene(wiring, clock)
    finally:
        if database is None:
            await wiring.database.close()
