"""Processes started at the same moment on one empty PostgreSQL database, as a container
orchestrator starts them: they take turns at the migrations and at the sync of the
configuration file (an advisory lock), all come up, and then share the outbox without a
double send. Real processes, real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from bot.config_sync import sync_config
from config.loader import build_settings
from storage.database import Database, open_database
from storage.models import Channel, Delivery, Member, Organisation, Subscription
from tests.support.console import printed_messages
from tests.support.databases import fresh_database_url, postgres_url

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = 30
MARKER = "refoulées au pont Saint-Louis"

pytestmark = pytest.mark.skipif(postgres_url() is None, reason="needs TOCSIN_TEST_DATABASE_URL")


def directory_toml(channels: int) -> str:
    lines = [
        '[[organisations]]\nid = "org"\nname = "Org"\n',
        '[[organisations]]\nid = "autre"\nname = "Autre"\n',
        '[[members]]\nplatform = "console"\nuser = "local"\norganisation = "org"\nrole = "admin"\n',
        '[[members]]\nplatform = "telegram"\nuser = "42"\norganisation = "autre"\n',
    ]
    for index in range(channels):
        lines.append(
            f'[[channels]]\nid = "c{index}"\nplatform = "console"\naddress = "chan-{index}"\n'
            f'organisation = "{"org" if index % 2 else "autre"}"\nmin_urgency = "info"\n'
        )
    return "\n".join(lines)


@contextmanager
def tocsin_processes(config: Path, commands: list[str]) -> Iterator[list[subprocess.Popen[str]]]:
    """Start every command at once; each process's output goes to files beside `config`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env["PYTHONPATH"] = str(ROOT)
    files: list[IO[str]] = []
    processes: list[subprocess.Popen[str]] = []
    try:
        for index, command in enumerate(commands):
            out = open(config.parent / f"{index}-{command}.out", "w", encoding="utf-8")  # noqa: SIM115
            err = open(config.parent / f"{index}-{command}.err", "w", encoding="utf-8")  # noqa: SIM115
            files += [out, err]
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", command, "--config", str(config)],
                    stdin=subprocess.PIPE if command == "run" else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    text=True,
                    env=env,
                    cwd=config.parent,
                )
            )
        yield processes
    finally:
        for process in processes:
            if process.stdin is not None:
                # the end of its input stops `tocsin run` once the outbox is drained
                process.stdin.close()
            elif process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for file in files:
            file.close()


def output(config: Path, index: int, command: str, stream: str) -> str:
    return (config.parent / f"{index}-{command}.{stream}").read_text(encoding="utf-8")


async def wait_until_started(
    config: Path, commands: list[str], processes: list[subprocess.Popen[str]]
) -> None:
    """Every process logged its console relay started, or the test fails with its stderr."""
    async with asyncio.timeout(180):
        while True:
            errors = [output(config, i, c, "err") for i, c in enumerate(commands)]
            for process, error in zip(processes, errors, strict=True):
                assert process.poll() is None, f"a process died at start:\n{error}"
            if all("console: started" in error for error in errors):
                return
            await asyncio.sleep(0.2)


async def count_deliveries(database: Database) -> tuple[int, int]:
    """(all alert deliveries, those not sent yet)."""
    async with database.sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.fact_type == "alert")
        )
        left = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.fact_type == "alert", Delivery.status != "sent")
        )
    return int(total or 0), int(left or 0)


async def test_run_and_three_workers_start_at_once_on_an_empty_database(tmp_path: Path) -> None:
    url = await fresh_database_url("postgresql", tmp_path)
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f'[storage]\nurl = "{url}"\n[console]\ninteractive = true\nuser = "local"\n'
        + directory_toml(CHANNELS),
        encoding="utf-8",
    )
    commands = ["run", "worker", "worker", "worker"]
    with tocsin_processes(config, commands) as processes:
        await wait_until_started(config, commands, processes)
        assert all(process.poll() is None for process in processes)

        run = processes[0]
        assert run.stdin is not None
        run.stdin.write(f"/alert 3 personnes {MARKER}, Menton\n")
        run.stdin.flush()
        database = await open_database(url, migrate=False)
        try:
            async with asyncio.timeout(120):
                while True:
                    total, left = await count_deliveries(database)
                    if total and not left:
                        break
                    await asyncio.sleep(0.2)
            async with database.sessions() as session:
                channels = await session.scalar(select(func.count()).select_from(Channel))
                subscriptions = await session.scalar(select(func.count()).select_from(Subscription))
        finally:
            await database.close()
        assert channels == subscriptions == CHANNELS  # four syncs, one row each
        assert all(process.poll() is None for process in processes)

    errors = [output(config, i, c, "err") for i, c in enumerate(commands)]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert not any("Traceback" in error for error in errors), errors
    sent = [
        message.split("]", 1)[0][1:]
        for index, command in enumerate(commands)
        for message in printed_messages(output(config, index, command, "out"))
        if MARKER in message and message.startswith("[chan-")
    ]
    per_channel = Counter(sent)
    assert set(per_channel) == {f"chan-{index}" for index in range(CHANNELS)}
    assert max(per_channel.values()) == 1, "an alert was sent twice to one channel"


async def head_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def test_two_engines_migrate_one_empty_database_at_once(tmp_path: Path) -> None:
    url = await fresh_database_url("postgresql", tmp_path)
    # Alembic's `context` is global to the process: two migrations in one process that
    # overlap wait for each other for ever (not just fail), hence the time limit.
    async with asyncio.timeout(120):
        first, second = await asyncio.gather(open_database(url), open_database(url))
    try:
        assert await head_revision(first) == await head_revision(second) is not None
    finally:
        await first.close()
        await second.close()
    # a later start on the migrated database has nothing to do and comes up
    again = await open_database(url)
    try:
        assert await head_revision(again) is not None
    finally:
        await again.close()


def test_two_db_upgrade_processes_at_once(tmp_path: Path) -> None:
    url = asyncio.run(fresh_database_url("postgresql", tmp_path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env.update(PYTHONPATH=str(ROOT), TOCSIN_DATABASE_URL=url)
    upgrade = [sys.executable, "-m", "bot.cli", "db", "upgrade"]
    processes = [
        subprocess.Popen(
            upgrade, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert all(out.startswith("database at revision ") for out, _ in results), results
    again = subprocess.run(upgrade, capture_output=True, text=True, env=env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert again.stdout == results[0][0], again.stderr


async def test_two_syncs_of_the_configuration_at_once_write_each_row_once(
    tmp_path: Path,
) -> None:
    url = await fresh_database_url("postgresql", tmp_path)
    settings = build_settings(tomllib.loads(directory_toml(CHANNELS)), "test.toml")
    first, second = await open_database(url), await open_database(url)
    now = datetime(2026, 5, 1, tzinfo=UTC)

    async def sync(database: Database) -> None:
        async with database.transaction() as session:
            await sync_config(session, settings, now)

    try:
        await asyncio.gather(sync(first), sync(second), sync(first), sync(second))
        async with first.sessions() as session:
            counts = [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Organisation, Member, Channel, Subscription)
            ]
    finally:
        await first.close()
        await second.close()
    assert counts == [2, 2, CHANNELS, CHANNELS]
