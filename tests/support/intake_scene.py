"""Tocsin built by the real composition root, fed neutral messages at the router (as the
relays hand them over, a burst at once), its answers read from the outbox."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select

from alerts.clock import ManualClock
from alerts.messages import InboundMessage, OutboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.database import Database
from storage.models import Alert, Delivery

NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
GROUP = "vigie-italie"  # a console channel (franco-italienne)


def scene_settings(database_url: str) -> LoadedConfig:
    def member(platform: str, user: str, role: str = "observer") -> dict[str, str]:
        return {"platform": platform, "user": user, "organisation": "anafe", "role": role}

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

    raw = {
        "storage": {"url": database_url},
        "console": {"interactive": False, "user": "local"},
        "organisations": [{"id": "anafe", "name": "Anafé"}],
        "members": [
            member("console", "local"),
            member("matrix", "@obs:example.org"),
            member("telegram", "7000001"),
        ],
        "channels": [
            channel(GROUP, "franco-italienne"),
            channel("vigie-espagne", "franco-espagnole"),
        ],
    }
    return LoadedConfig(
        settings=build_settings(raw, "intake-scene.toml"),
        secrets=Secrets(),
        source="intake-scene.toml",
        embedded=False,
    )


@dataclass
class IntakeScene:
    wiring: Wiring
    clock: ManualClock

    async def replies(self, platform: str, chat: str) -> list[str]:
        """What was queued for one chat, in order."""
        async with self.wiring.database.sessions() as session:
            rows = await session.scalars(
                select(Delivery.payload)
                .where(Delivery.platform == platform, Delivery.address == chat)
                .order_by(Delivery.id)
            )
            return [OutboundMessage.from_json(payload).plain for payload in rows]

    async def priorities(self, platform: str, chat: str) -> list[int]:
        async with self.wiring.database.sessions() as session:
            rows = await session.scalars(
                select(Delivery.priority)
                .where(Delivery.platform == platform, Delivery.address == chat)
                .order_by(Delivery.id)
            )
            return list(rows)

    async def alerts(self) -> int:
        async with self.wiring.database.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Alert)) or 0)


@asynccontextmanager
async def intake_scene(
    database_url: str, *, database: Database | None = None, clock: ManualClock | None = None
) -> AsyncIterator[IntakeScene]:
    clock = clock or ManualClock(NOW)
    wiring = await build(
        scene_settings(database_url), clock=clock, database=database, console_output=io.StringIO()
    )
    try:
        yield IntakeScene(wiring, clock)
    finally:
        if database is None:
            await wiring.database.close()


def message(
    platform: str,
    sender: str,
    text: str,
    update_id: str,
    *,
    chat: str | None = None,
    chat_type: Literal["private", "group"] = "private",
) -> InboundMessage:
    return InboundMessage(
        platform=platform,
        update_id=update_id,
        chat=chat or sender,
        chat_type=chat_type,
        sender=sender,
        text=text,
    )


async def burst(
    scene: IntakeScene, lines: Sequence[tuple[str, str, str]], *, prefix: str = "u"
) -> None:
    """(platform, sender, text) handed to the router at once, as a relay hands a batch."""
    await asyncio.gather(
        *(
            scene.wiring.router(message(platform, sender, text, f"{prefix}{number}"))
            for number, (platform, sender, text) in enumerate(lines)
        )
    )
