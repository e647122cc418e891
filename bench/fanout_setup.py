"""What the fan-out benchmark (bench/fanout.py) sets up and reads: its configuration,
inbound messages, delivery counts, databases and the machine's reference speed."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alerts.messages import InboundMessage
from bot.app import Wiring, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.models import Delivery
from tests.support.databases import private_postgres_url, reset_postgres
from tests.support.telegram_process import TelegramServerProcess

GROUP_BASE = -1001000000000
VITAL_CHANNELS = 50
FLOODER = 5_000_001
IDLE_CHAT = -1009000000001


def chat_id(index: int) -> int:
    return GROUP_BASE - index


MEMBERS = 100


def make_config(
    database_url: str,
    server: TelegramServerProcess | None,
    channels: int,
    scale: float,
    per_member_per_minute: int = 10,
) -> LoadedConfig:
    raw: dict[str, Any] = {
        "storage": {"url": database_url},
        "alerts": {"per_member_per_minute": per_member_per_minute},
        "telegram": {
            "base_url": server.api_url if server else "http://127.0.0.1:9/bot",
            "base_file_url": f"{server.base_url}/file/bot" if server else None,
        },
        "delivery": {
            "telegram_global_per_second": 30 * scale,
            "telegram_private_per_second": 1 * scale,
            "telegram_group_per_minute": 18 * scale + 2,  # see tests: 20 at real limits
        },
        "organisations": [{"id": "bench", "name": "Banc d'essai"}],
        # Alerts come from many volunteers, each under the per-member limit (10 a minute).
        "members": [
            *(
                {"platform": "console", "user": f"bench-{n}", "organisation": "bench"}
                | {"role": "admin"}
                for n in range(MEMBERS)
            ),
            {"platform": "telegram", "user": str(FLOODER), "organisation": "bench"},
        ],
        "channels": channel_entries(channels),
    }
    if server is None:
        raw.pop("telegram")
    raw["telegram"] = {k: v for k, v in raw.get("telegram", {}).items() if v is not None}
    return LoadedConfig(
        settings=build_settings(raw, "bench"),
        secrets=Secrets(telegram_token=server.token if server else None),
        source="bench",
        embedded=False,
    )


async def groups_app(
    server: TelegramServerProcess, channels: int, scale: float, folder: Path
) -> Wiring:
    """Tocsin built on a fresh SQLite database, with `channels` groups on `server`."""
    for index in range(channels):
        server.add_chat(chat_id(index), title=f"Groupe {index}")
    return await build(
        make_config(await fresh_url("sqlite", folder), server, channels, scale),
        console_output=io.StringIO(),
    )


def channel_entries(channels: int) -> list[dict[str, Any]]:
    """An idle channel at another border, then `channels` groups at the Italian border,
    the first VITAL_CHANNELS of which also take the Spanish border."""
    idle = {
        "id": "idle",
        "platform": "telegram",
        "address": str(IDLE_CHAT),
        "organisation": "bench",
        "min_urgency": "info",
        "borders": ["manche"],
    }
    return [idle] + [
        {
            "id": f"g{index}",
            "platform": "telegram",
            "address": str(chat_id(index)),
            "organisation": "bench",
            "min_urgency": "info",
            "borders": ["franco-italienne", "franco-espagnole"]
            if index < VITAL_CHANNELS
            else ["franco-italienne"],
        }
        for index in range(channels)
    ]


def inbound(text: str, number: int) -> InboundMessage:
    return InboundMessage(
        platform="console",
        update_id=f"bench-{time.time_ns()}-{number}",
        chat="bench",
        chat_type="private",
        sender=f"bench-{number % MEMBERS}",
        text=text,
    )


async def sent_count(
    wiring: Wiring, fact_type: str = "alert", priority: int | None = None, address: str = ""
) -> int:
    conditions = [
        Delivery.status == "sent",
        Delivery.platform == "telegram",
        Delivery.fact_type == fact_type,
    ]
    if priority is not None:
        conditions.append(Delivery.priority == priority)
    if address:
        conditions.append(Delivery.address == address)
    async with wiring.database.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Delivery).where(*conditions)) or 0
        )


async def fresh_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder}/bench-{time.time_ns()}.db"
    url = os.environ.get("TOCSIN_BENCH_DATABASE_URL") or os.environ.get("TOCSIN_TEST_DATABASE_URL")
    if not url:
        raise SystemExit("PostgreSQL figures need TOCSIN_BENCH_DATABASE_URL")
    url = await private_postgres_url(url)
    await reset_postgres(url)
    return url


def machine_reference() -> dict[str, float]:
    """A fixed workload (Python and SQLite, no Tocsin code), so figures taken on different
    days or machines can be compared: the shared CI machine's speed varies a lot."""
    started = time.perf_counter()
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT)")
    for number in range(20_000):
        payload = json.dumps({"text": f"alerte {number}", "themes": ["mineurs", "refoulement"]})
        connection.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        if number % 10 == 0:
            connection.commit()
    connection.close()
    return {"reference_ms": (time.perf_counter() - started) * 1000}


def show(title: str, figures: dict[str, Any]) -> None:
    parts = [f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()]
    print(f"{title}: " + " ".join(parts), flush=True)
