"""Fan-out through python-telegram-bot over real HTTP, against the project's Bot API test
server misbehaving on purpose: 502s and hung requests, a bot blocked or kicked mid-way,
a group upgraded to a supergroup mid-way. Both databases."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from alerts.messages import InboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.models import Channel
from tests.support.running import RunningApp
from tests.telegram_api import DEFAULT_TOKEN, BotApiServer

ADMIN = 424242
GROUP_BASE = -1002000000000


def group(index: int) -> int:
    return GROUP_BASE - index


def telegram_config(
    server: BotApiServer, database_url: str, groups: int, scale: float = 1.0
) -> LoadedConfig:
    raw: dict[str, Any] = {
        "storage": {"url": database_url},
        "telegram": {"base_url": server.api_url, "base_file_url": server.file_url},
        "delivery": {
            "telegram_global_per_second": 30 * scale,
            "telegram_group_per_minute": 20 * scale,
            "telegram_private_per_second": 1 * scale,
            "first_retry_delay": "1s",
        },
        "organisations": [{"id": "org", "name": "Anafé"}],
        "members": [
            {"platform": "console", "user": "local", "organisation": "org", "role": "admin"},
            {
                "platform": "telegram",
                "user": str(ADMIN),
                "organisation": "org",
                "role": "org-admin",
            },
        ],
        "channels": [
            {
                "id": f"g{i}",
                "platform": "telegram",
                "address": str(group(i)),
                "organisation": "org",
                "borders": ["franco-italienne"],
            }
            for i in range(groups)
        ],
    }
    return LoadedConfig(
        settings=build_settings(raw, "test.toml"),
        secrets=Secrets(telegram_token=DEFAULT_TOKEN),
        source="test.toml",
        embedded=False,
    )


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(seed=3) as running:
        running.add_user(ADMIN, "Admin")
        yield running


async def raise_alert(wiring: Wiring, text: str) -> None:
    await wiring.router(
        InboundMessage(
            platform="console",
            update_id=f"u-{text}",
            chat="local",
            chat_type="private",
            sender="local",
            text=text,
        )
    )


def alert_counts(server: BotApiServer, marker: str) -> Counter[int]:
    return Counter(m.chat_id for m in server.sent_messages() if marker in (m.text or ""))


async def wait_for(condition: Any, within: float) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the condition reads another component)
            await asyncio.sleep(0.05)


async def test_502s_and_timeouts_lose_nothing(server: BotApiServer, database_url: str) -> None:
    groups = 40
    server.set_faults(error_ratio=0.20, timeout_ratio=0.05, timeout_seconds=1.0, seed=11)
    wiring = await build(
        telegram_config(server, database_url, groups, scale=10), console_output=io.StringIO()
    )
    async with RunningApp(wiring):
        await raise_alert(wiring, "/alert 12 personnes refoulées à Menton")
        await wait_for(lambda: len(alert_counts(server, "refoulées à Menton")) == groups, 60)
        await wiring.dispatcher.wait_drained()
    counts = alert_counts(server, "refoulées à Menton")
    stats = server.stats()
    assert stats["server_errors"] > 0
    assert stats["timeouts"] > 0
    assert set(counts) == {group(i) for i in range(groups)}  # nothing lost
    assert max(counts.values()) == 1  # refused or held requests were not processed twice


async def test_a_channel_that_blocks_the_bot_mid_fanout(
    server: BotApiServer, database_url: str
) -> None:
    groups = 30
    victim = group(20)
    wiring = await build(
        telegram_config(server, database_url, groups), console_output=io.StringIO()
    )
    async with RunningApp(wiring):
        await raise_alert(wiring, "/alert contrôle à Vintimille")
        await server.wait_for_sent(5, within=10)  # the fan-out is under way
        server.set_chat_state(victim, kicked=True)
        await wait_for(lambda: len(alert_counts(server, "contrôle à Vintimille")) == groups - 1, 30)
        await wait_for(lambda: bool(server.sent_messages(ADMIN)), 10)
        await wiring.dispatcher.wait_drained()
    counts = alert_counts(server, "contrôle à Vintimille")
    assert victim not in counts
    assert set(counts) == {group(i) for i in range(groups)} - {victim}
    notices = server.sent_messages(ADMIN)
    assert len(notices) == 1
    assert "g20" in (notices[0].text or "")
    async with wiring.database.sessions() as session:
        channel = await session.get(Channel, "g20")
    await wiring.database.close()  # stopping closed it; the reads above opened it again
    assert channel is not None
    assert not channel.active


async def test_a_group_upgraded_to_a_supergroup_mid_fanout(
    server: BotApiServer, database_url: str
) -> None:
    groups = 30
    old, new = -4000000001, -1009999999999
    config = telegram_config(server, database_url, groups)
    raw_channels = [
        c.model_copy(update={"address": str(old)}) if c.id == "g25" else c
        for c in config.settings.channels
    ]
    config = LoadedConfig(
        settings=config.settings.model_copy(update={"channels": tuple(raw_channels)}),
        secrets=config.secrets,
        source=config.source,
        embedded=False,
    )
    wiring = await build(config, console_output=io.StringIO())
    async with RunningApp(wiring):
        await raise_alert(wiring, "/alert familles à Briançon")
        await server.wait_for_sent(3, within=10)
        server.state.inject_migration(old, new)
        await wait_for(lambda: len(alert_counts(server, "familles à Briançon")) == groups, 30)
        await wiring.dispatcher.wait_drained()
    counts = alert_counts(server, "familles à Briançon")
    assert counts[new] == 1
    assert old not in counts
    async with wiring.database.sessions() as session:
        address = await session.scalar(select(Channel.address).where(Channel.id == "g25"))
    await wiring.database.close()  # stopping closed it; the reads above opened it again
    assert address == str(new)
