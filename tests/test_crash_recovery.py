"""`kill -9` in the middle of a 200-channel fan-out, then a restart: every channel gets the
alert, and the only duplicates are sends the platform took that the killed process had
not yet recorded. Real processes, real HTTP, both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from storage.database import open_database
from storage.models import Delivery
from tests.support.telegram_process import TelegramServerProcess

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = 200
GROUP_BASE = -1003000000000
MARKER = "bloquées au col de Montgenèvre"


def write_config(path: Path, database_url: str, server: TelegramServerProcess) -> None:
    lines = [
        f'[storage]\nurl = "{database_url}"\n',
        f'[telegram]\nbase_url = "{server.api_url}"\n',
        '[console]\ninteractive = true\nuser = "local"\n',
        '[[organisations]]\nid = "org"\nname = "Org"\n',
        '[[members]]\nplatform = "console"\nuser = "local"\norganisation = "org"\nrole = "admin"\n',
    ]
    for index in range(CHANNELS):
        lines.append(
            f'[[channels]]\nid = "g{index}"\nplatform = "telegram"\n'
            f'address = "{GROUP_BASE - index}"\norganisation = "org"\n'
            'borders = ["franco-italienne"]\n'
        )
    path.write_text("\n".join(lines), encoding="utf-8")


def tocsin_run(config: Path, token: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env.update(PYTHONPATH=str(ROOT), TOCSIN_TELEGRAM_TOKEN=token)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--log-level", "WARNING", "run", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=config.parent,
    )


def delivered(server: TelegramServerProcess) -> Counter[int]:
    return Counter(m["chat_id"] for m in server.sent() if MARKER in (m.get("text") or ""))


async def recorded_sent(database_url: str) -> int:
    database = await open_database(database_url)
    try:
        async with database.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.fact_type == "alert", Delivery.status == "sent")
                )
                or 0
            )
    finally:
        await database.close()


async def test_kill_9_mid_fanout_then_restart(database_url: str, tmp_path: Path) -> None:
    with TelegramServerProcess(rate_scale=1.0) as server:
        config = tmp_path / "tocsin.toml"
        write_config(config, database_url, server)
        first = tocsin_run(config, server.token)
        assert first.stdin is not None
        first.stdin.write(f"/alert 15 personnes {MARKER}\n")
        first.stdin.flush()
        async with asyncio.timeout(60):
            while len(delivered(server)) < 60:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        await asyncio.sleep(0.5)  # requests already on the wire reach the server
        taken_by_platform = sum(delivered(server).values())
        in_flight = taken_by_platform - await recorded_sent(database_url)
        assert 60 <= taken_by_platform < CHANNELS, "the kill did not land mid-fan-out"

        second = tocsin_run(config, server.token)
        _, err = second.communicate(input="", timeout=180)  # stdin ends: drain and exit
        assert second.returncode == 0, err
        counts = delivered(server)
    assert set(counts) == {GROUP_BASE - i for i in range(CHANNELS)}  # nobody missed it
    duplicates = sum(count - 1 for count in counts.values())
    assert 0 <= in_flight <= 5
    assert duplicates <= in_flight
