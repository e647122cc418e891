"""Two organisations and one member of each role, built by the real composition root;
people talk to the router as the relays hand messages over, answers read from the outbox."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from alerts.clock import ManualClock
from alerts.messages import InboundMessage, OutboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.database import Database
from storage.models import Base, Delivery, Member

NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
ADMIN = "9000001"  # admin (anafe), from the file
ORG_ADMIN = "9000002"  # org-admin of anafe, from the file
COORDINATOR = "9000003"  # coordinator of anafe, from the file
OBSERVER = "9000004"  # observer of anafe, from the file
OTHER_ORG_ADMIN = "9000005"  # org-admin of cimade, from the file
STRANGER = "9000099"
ROLES = {"admin": ADMIN, "org-admin": ORG_ADMIN, "coordinator": COORDINATOR, "observer": OBSERVER}


def people_raw(database_url: str) -> dict[str, Any]:
    def member(user: str, role: str, organisation: str = "anafe") -> dict[str, str]:
        return {"platform": "telegram", "user": user, "organisation": organisation, "role": role}

    return {
        "storage": {"url": database_url},
        "console": {"interactive": False, "user": "local"},
        "organisations": [
            {"id": "anafe", "name": "Anafé", "contact": "permanence@anafe.example"},
            {"id": "cimade", "name": "La Cimade"},
        ],
        "members": [
            member(ADMIN, "admin"),
            member(ORG_ADMIN, "org-admin"),
            member(COORDINATOR, "coordinator"),
            member(OBSERVER, "observer"),
            member(OTHER_ORG_ADMIN, "org-admin", "cimade"),
        ],
        "channels": [
            {
                "id": "vigie-italie",
                "platform": "console",
                "address": "vigie-italie",
                "organisation": "anafe",
                "borders": ["franco-italienne"],
                "themes": ["*"],
                "min_urgency": "info",
            },
            {
                "id": "cimade-espagne",
                "platform": "console",
                "address": "cimade-espagne",
                "organisation": "cimade",
                "borders": ["franco-espagnole"],
                "themes": ["mineurs"],
                "min_urgency": "info",
            },
        ],
    }


def people_config(raw: dict[str, Any]) -> LoadedConfig:
    return LoadedConfig(
        settings=build_settings(raw, "people.toml"),
        secrets=Secrets(),
        source="people.toml",
        embedded=False,
    )


@dataclass
class PeopleScene:
    wiring: Wiring
    clock: ManualClock
    _updates: int = 0
    _read: dict[tuple[str, str], int] = field(default_factory=dict)

    async def say(self, sender: str, text: str, *, platform: str = "telegram") -> str:
        """`sender` writes `text` to the bot in private; returns the bot's answers."""
        self._updates += 1
        async with self.wiring.database.sessions() as session:
            newest = await session.scalar(select(func.max(Delivery.id)))
        self._read[(platform, sender)] = newest or 0  # earlier answers (another scene's too)
        inbound = InboundMessage(
            platform=platform,
            update_id=f"p{self._updates}-{uuid.uuid4().hex[:8]}",  # unique over restarts
            chat=sender,
            chat_type="private",
            sender=sender,
            text=text,
        )
        await self.wiring.router(inbound)
        return "\n".join(await self.fresh(platform, sender))

    async def fresh(self, platform: str, chat: str) -> list[str]:
        key = (platform, chat)
        async with self.wiring.database.sessions() as session:
            rows = await session.execute(
                select(Delivery.id, Delivery.payload)
                .where(
                    Delivery.platform == platform,
                    Delivery.address == chat,
                    Delivery.id > self._read.get(key, 0),
                )
                .order_by(Delivery.id)
            )
            found = list(rows)
        if found:
            self._read[key] = found[-1][0]
        return [OutboundMessage.from_json(payload).plain for _, payload in found]

    async def member(self, user: str, platform: str = "telegram") -> Member | None:
        async with self.wiring.database.sessions() as session:
            return await session.scalar(
                select(Member).where(Member.platform == platform, Member.user_ref == user)
            )

    async def member_id(self, user: str) -> int:
        found = await self.member(user)
        assert found is not None
        return found.id

    async def elsewhere(self, chat: str) -> int:
        """Messages queued for any chat but `chat` (a refusal only answers its sender)."""
        async with self.wiring.database.sessions() as session:
            query = select(func.count()).select_from(Delivery).where(Delivery.address != chat)
            return int(await session.scalar(query) or 0)

    async def snapshot(self, *, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, but those the router writes for any message (the update
        seen, the answer queued, a stranger's answer turn)."""
        ignored = {"deliveries", "inbound_seen", "platform_state", *skip}
        tables: dict[str, list[tuple[Any, ...]]] = {}
        async with self.wiring.database.sessions() as session:
            for table in Base.metadata.sorted_tables:
                if table.name in ignored:
                    continue
                rows = await session.execute(select(table))
                tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return tables


@asynccontextmanager
async def people_scene(
    database_url: str,
    *,
    database: Database | None = None,
    clock: ManualClock | None = None,
    raw: dict[str, Any] | None = None,
) -> AsyncIterator[PeopleScene]:
    clock = clock or ManualClock(NOW)
    wiring = await build(
        people_config(raw or people_raw(database_url)),
        clock=clock,
        database=database,
        console_output=io.StringIO(),
    )
    try:
        yield PeopleScene(wiring, clock)
    finally:
        if database is None:
            await wiring.database.close()
