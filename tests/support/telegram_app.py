"""Tocsin running whole against the project's Bot API server, and a phone that talks to it.

The app is built by the real composition root with a Telegram token and `base_url`
pointing at the test server; people act through the server's injection side only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from alerts.clock import Clock
from bot.app import Application, Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from relays.telegram.relay import TelegramRelay
from storage.database import Database
from tests.telegram_api import BotApiServer, StoredMessage

TOKEN = "555000111:AAH-tocsin_e2e_token_abcdefghijklm"
VOLUNTEER = 7_000_001  # observer of "anafe"
COORDINATOR = 7_000_002  # org-admin of "anafe"
STRANGER = 7_000_099  # nobody's member
ITALY = -1_002_000_000_001  # channel: franco-italienne, every theme
SPAIN = -1_002_000_000_002  # channel: franco-espagnole
MINORS = -1_002_000_000_003  # channel: every border, theme mineurs
FORUM = -1_002_000_000_004  # a forum; its topic "Roya" is a channel for franco-italienne


def scene_config(server: BotApiServer, database_url: str, topic: int) -> dict[str, Any]:
    def channel(
        name: str, chat: int | str, borders: list[str], themes: list[str]
    ) -> dict[str, Any]:
        return {
            "id": name,
            "platform": "telegram",
            "address": str(chat),
            "organisation": "anafe",
            "borders": borders,
            "themes": themes,
            "min_urgency": "info",
        }

    return {
        "storage": {"url": database_url},
        "telegram": {
            "base_url": server.api_url,
            "poll_timeout": 1,
            "unclaimed_group_timeout": "10m",
        },
        "delivery": {"telegram_private_per_second": 100.0, "telegram_group_per_minute": 600.0},
        "organisations": [{"id": "anafe", "name": "Anafé <&> Réseau"}],
        "members": [
            {"platform": "telegram", "user": str(VOLUNTEER), "organisation": "anafe"},
            {
                "platform": "telegram",
                "user": str(COORDINATOR),
                "organisation": "anafe",
                "role": "org-admin",
            },
        ],
        "channels": [
            channel("tg-italie", ITALY, ["franco-italienne"], ["*"]),
            channel("tg-espagne", SPAIN, ["franco-espagnole"], ["*"]),
            channel("tg-mineurs", MINORS, ["*"], ["mineurs"]),
            channel("tg-roya", f"{FORUM}:{topic}", ["franco-italienne"], ["*"]),
        ],
    }


def add_scene_chats(server: BotApiServer) -> int:
    """The scene's chats on the server; returns the forum topic's thread id."""
    server.add_user(VOLUNTEER, first_name="Volontaire")
    server.add_user(COORDINATOR, first_name="Coordinatrice")
    server.add_user(STRANGER, first_name="Inconnu")
    for chat, title in ((ITALY, "Vigie Italie"), (SPAIN, "Vigie Espagne"), (MINORS, "Mineurs")):
        server.add_chat(chat, title=title)
    server.add_chat(FORUM, title="Réseau Roya", is_forum=True)
    return server.add_topic(FORUM, "Roya")


@asynccontextmanager
async def running_tocsin(
    server: BotApiServer,
    raw: dict[str, Any],
    *,
    clock: Clock | None = None,
    database: Database | None = None,
) -> AsyncIterator[Wiring]:
    config = LoadedConfig(
        settings=build_settings(raw, "telegram-e2e.toml"),
        secrets=Secrets(telegram_token=server.token),
        source="telegram-e2e.toml",
        embedded=False,
    )
    wiring = await build(config, clock=clock, database=database)
    application = Application(wiring)
    task = asyncio.create_task(application.run())
    relay = wiring.relays["telegram"]
    assert isinstance(relay, TelegramRelay)
    try:
        async with asyncio.timeout(10):
            await relay.receiving.wait()
        yield wiring
    finally:
        application.stop()
        await task


@dataclass
class Phone:
    """One person's Telegram app: says things in a chat, presses buttons, reads answers."""

    server: BotApiServer
    user: int
    chat: int

    def __post_init__(self) -> None:
        self.read = len(self.server.sent_messages(self.chat))

    def say(self, text: str, **options: Any) -> int:
        sent = self.server.inject_message(self.chat, text, user_id=self.user, **options)
        return int(sent["message"]["message_id"])

    async def answers(self, count: int = 1, within: float = 10.0) -> list[StoredMessage]:
        """The next `count` messages of the bot in this chat."""
        messages = await self.server.wait_for_sent(
            self.read + count, chat_id=self.chat, within=within
        )
        fresh = messages[self.read : self.read + count]
        self.read += count
        return fresh

    async def answer(self, within: float = 10.0) -> StoredMessage:
        [message] = await self.answers(1, within)
        return message

    async def until(
        self, wanted: Callable[[StoredMessage], bool], within: float = 10.0
    ) -> StoredMessage:
        """Read answers until one matches (the flow's intermediate notes are skipped)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.answer(within)
                if wanted(message):
                    return message

    def press(self, message: StoredMessage, label: str) -> None:
        current = self.server.message(message.chat_id, message.message_id)
        for row in (current.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label or button["text"].endswith(" " + label):
                    self.server.inject_callback(
                        message.chat_id,
                        message.message_id,
                        button["callback_data"],
                        user_id=self.user,
                    )
                    return
        raise AssertionError(f"no button {label!r} on {current.text!r}")


def labels(message: StoredMessage) -> list[str]:
    return [
        button["text"]
        for row in (message.reply_markup or {}).get("inline_keyboard", [])
        for button in row
    ]


def sent_texts(server: BotApiServer, chat: int) -> list[str]:
    """The text (or caption) of every message the bot sent to a chat, in order."""
    return [message.text or message.caption or "" for message in server.sent_messages(chat)]
