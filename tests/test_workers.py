"""Scale-out: two real `tocsin worker` processes share one PostgreSQL outbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.clock import SystemClock
from alerts.messages import text_message
from alerts.outbox import NOTICE, Outbox, Target
from bot.wiring.platforms import platform_catalogue
from storage.database import open_database
from storage.models import Delivery
from tests.support.databases import fresh_database_url, postgres_url

ROOT = Path(__file__).resolve().parents[1]
CHATS = 40
PER_CHAT = 50  # 2,000 deliveries


def worker(config: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "--log-level",
            "WARNING",
            "worker",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.skipif(postgres_url() is None, reason="needs TOCSIN_TEST_DATABASE_URL")
async def test_two_workers_drain_2000_deliveries_without_double_sends(tmp_path: Path) -> None:
    url = await fresh_database_url("postgresql", tmp_path)
    database = await open_database(url)
    now = SystemClock().now()
    async with database.transaction() as session:
        for index in range(PER_CHAT):
            for chat in range(CHATS):
                Outbox(platform_catalogue()).enqueue(
                    session,
                    Target("console", f"chat-{chat}"),
                    text_message(f"msg-{chat}-{index}"),
                    fact=NOTICE,
                    priority=10,
                    now=now,
                )
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n[console]\ninteractive = false\n', encoding="utf-8"
    )
    workers = [worker(config), worker(config)]
    try:
        async with asyncio.timeout(120):
            while True:
                async with database.sessions() as session:
                    left = await session.scalar(
                        select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
                    )
                if left == 0:
                    break
                await asyncio.sleep(0.2)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30) for process in workers]
        await database.close()
    lines = [line for out, _ in outputs for line in out.splitlines() if line.startswith("[")]
    counts = Counter(line.split("] ", 1)[1] for line in lines)
    assert len(counts) == CHATS * PER_CHAT
    assert max(counts.values()) == 1, "a delivery was sent twice"
    per_worker = [sum(1 for line in out.splitlines() if line.startswith("[")) for out, _ in outputs]
    assert all(count > 0 for count in per_worker), per_worker  # both took part
    # every message of every chat was sent, whichever worker took it
    for chat in range(CHATS):
        sequence = [
            int(line.rsplit("-", 1)[1]) for line in lines if line.startswith(f"[chat-{chat}]")
        ]
        assert sorted(sequence) == list(range(PER_CHAT))
    assert all(process.returncode == 0 for process in workers), [e for _, e in outputs]
