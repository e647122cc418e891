"""Tocsin against the real Synapse: configurations, a running app, and waiting helpers.

Every scene registers its own users (so rate limits and rooms never leak between tests);
people act through the fixture's plain-HTTP helpers, never through the relay's client.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alerts.clock import Clock
from alerts.messages import InboundMessage
from bot.app import Application, Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from relays.matrix.relay import MatrixOptions, MatrixRelay
from relays.matrix.session import MatrixAccount
from storage.database import Database, open_database
from tests.support.synapse import RegisteredUser, SynapseServer, unique_localpart

T = TypeVar("T")


async def wait_until(
    check: Callable[[], Awaitable[T]], *, within: float = 20.0, every: float = 0.15
) -> T:
    """Poll `check` until it returns something truthy; fail with its last value."""
    last: T | None = None
    try:
        async with asyncio.timeout(within):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"still not true after {within}s; last value: {last!r}") from None


@dataclass
class Scene:
    """A bot account, a member (alice, admin of "anafe") and rooms both have joined."""

    server: SynapseServer
    bot: RegisteredUser
    alice: RegisteredUser
    rooms: dict[str, str] = field(default_factory=dict)
    # The bot's crypto store: one per scene, so a restart within a test keeps its device.
    store_path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tocsin-e2ee-")))
    store_key: str = "test store key, not a secret"

    async def room(self, name: str, *, encrypted: bool = False) -> str:
        """A room alice creates; the bot joins it before Tocsin starts (no invite handling)."""
        room_id = await self.server.create_room(
            self.alice, name, invite=[self.bot.user_id], encrypted=encrypted
        )
        await self.server.join(self.bot, room_id)
        self.rooms[name] = room_id
        return room_id

    async def say(self, room: str, text: str, **content: Any) -> str:
        body: dict[str, Any] = {"msgtype": "m.text", "body": text, **content}
        return await self.server.send_event(
            self.alice, self.rooms.get(room, room), "m.room.message", body
        )

    async def bodies(self, room: str, *, sender: str | None = None) -> list[str]:
        """Bodies of the room's messages (the bot's by default), oldest first."""
        who = sender or self.bot.user_id
        events = await self.server.room_messages(self.alice, self.rooms.get(room, room))
        return [event["content"].get("body", "") for event in events if event["sender"] == who]

    async def bot_events(self, room: str) -> list[dict[str, Any]]:
        events = await self.server.room_messages(self.alice, self.rooms.get(room, room), 500)
        return [event for event in events if event["sender"] == self.bot.user_id]


async def new_scene(server: SynapseServer, *, bot_exempt: bool = True) -> Scene:
    bot = await server.register_user(
        unique_localpart("tocsin"), exempt_from_ratelimit=bot_exempt, displayname="Tocsin"
    )
    alice = await server.register_user(unique_localpart("alice"), displayname="Alice")
    return Scene(server, bot, alice)


def channel(channel_id: str, room_id: str, borders: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": channel_id,
        "platform": "matrix",
        "address": room_id,
        "organisation": "anafe",
        "borders": list(borders),
        "min_urgency": "info",
        **extra,
    }


def scene_config(
    scene: Scene,
    database_url: str,
    *,
    channels: Sequence[dict[str, Any]] = (),
    members: Sequence[dict[str, Any]] = (),
    matrix: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    password: bool = False,
) -> LoadedConfig:
    raw: dict[str, Any] = {
        "storage": {"url": database_url},
        "organisations": [{"id": "anafe", "name": "Anafé"}],
        "members": [
            {
                "platform": "matrix",
                "user": scene.alice.user_id,
                "organisation": "anafe",
                "role": "admin",
            },
            *members,
        ],
        "channels": list(channels),
        "matrix": {
            "homeserver": scene.server.base_url,
            "user_id": scene.bot.user_id,
            "store_path": str(scene.store_path),
            **(matrix or {}),
        },
        **(extra or {}),
    }
    secrets = (
        Secrets(matrix_password=scene.bot.password, matrix_store_key=scene.store_key)
        if password
        else Secrets(matrix_access_token=scene.bot.access_token, matrix_store_key=scene.store_key)
    )
    return LoadedConfig(
        settings=build_settings(raw, "test.toml"),
        secrets=secrets,
        source="test.toml",
        embedded=False,
    )


def matrix_of(wiring: Wiring) -> MatrixRelay:
    relay = wiring.relays["matrix"]
    assert isinstance(relay, MatrixRelay)
    return relay


@asynccontextmanager
async def running(config: LoadedConfig, *, clock: Clock | None = None) -> AsyncIterator[Wiring]:
    """`tocsin run` in-process, until the block ends; yields once Matrix has synced."""
    database = await open_database(config.settings.storage.url)
    wiring = await build(config, clock=clock, database=database)
    application = Application(wiring)
    task = asyncio.create_task(application.run(), name="tocsin")
    try:
        relay = matrix_of(wiring)
        async with asyncio.timeout(20):
            while not relay.synced.is_set():
                if task.done():
                    await task  # raises what stopped it
                await asyncio.sleep(0.02)
        yield wiring
    finally:
        application.stop()
        await asyncio.wait_for(task, 30)


class RecordingSink:
    """An inbound sink that keeps what the relay hands over."""

    def __init__(self) -> None:
        self.received: list[InboundMessage] = []
        self._changed = asyncio.Event()

    async def __call__(self, inbound: InboundMessage) -> None:
        self.received.append(inbound)
        self._changed.set()

    async def wait_for(self, count: int, within: float = 20.0) -> list[InboundMessage]:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received


def relay_for(
    scene: Scene,
    database: Database,
    clock: Clock,
    *,
    password: bool = False,
    **options: Any,
) -> MatrixRelay:
    account = MatrixAccount(
        homeserver=scene.server.base_url,
        user_id=scene.bot.user_id,
        access_token=None if password else scene.bot.access_token,
        password=scene.bot.password if password else None,
    )
    return MatrixRelay(
        account,
        database=database,
        clock=clock,
        options=MatrixOptions(**{"first_backoff": 0.2, "max_backoff": 1.0, **options}),
    )


@asynccontextmanager
async def started(relay: MatrixRelay, sink: RecordingSink | None) -> AsyncIterator[MatrixRelay]:
    await relay.start(sink)
    try:
        if sink is not None:
            async with asyncio.timeout(20):
                await relay.synced.wait()
        yield relay
    finally:
        await relay.stop()


async def settled(relay: MatrixRelay, within: float = 20.0) -> None:
    """Wait for the end of the next complete sync (its batch handled and stored)."""
    relay.synced.clear()
    async with asyncio.timeout(within):
        await relay.synced.wait()
