"""`tocsin run` stops on SIGTERM (a container's stop) and SIGINT (Ctrl-C) while its standard
input stays open and idle: exit code 0 within the orchestrator's grace, no traceback, the
dispatcher retired, and what was queued before the signal either sent or still pending."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from relays.console_input import DescriptorLines
from storage.database import open_database
from storage.models import Delivery, PlatformState
from storage.outbox import WORKER_PREFIX
from tests.test_cli import ROOT


class RunningTocsin:
    """A `tocsin run` on the embedded default whose stdin is a pipe kept open."""

    def __init__(self, cwd: Path) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
        environment["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=lines.extend, args=(stream,), daemon=True)
            for stream, lines in (
                (self.process.stdout, self._stdout),
                (self.process.stderr, self._stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    def close_pipes(self) -> None:
        """Once the process has ended: the readers reach the end, then the pipes close."""
        for reader in self._readers:
            reader.join(timeout=30)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, stream: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in getattr(self, stream):
            assert self.process.poll() is None, f"tocsin ended early:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} on {stream}:\n{self.stderr}"
            time.sleep(0.05)


@contextmanager
def tocsin_run(cwd: Path) -> Iterator[RunningTocsin]:
    run = RunningTocsin(cwd)
    try:
        yield run
    finally:
        if run.process.poll() is None:
            run.process.kill()
        run.process.wait(timeout=30)
        run.close_pipes()


async def deliveries_and_workers(tmp_path: Path) -> tuple[list[Delivery], list[str]]:
    database = await open_database(f"sqlite+aiosqlite:///{tmp_path}/tocsin-data/tocsin.db")
    try:
        async with database.sessions() as session:
            rows = list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())
            workers = list(
                (
                    await session.scalars(
                        select(PlatformState.key).where(PlatformState.key.startswith(WORKER_PREFIX))
                    )
                ).all()
            )
            return rows, workers
    finally:
        await database.close()


@pytest.mark.parametrize("moment", ["idle", "busy"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_run_while_stdin_stays_open(
    tmp_path: Path, signum: signal.Signals, moment: str
) -> None:
    with tocsin_run(tmp_path) as run:
        run.wait_for("stderr", "console: started")
        run.type("/alert 6 personnes refoulées à Menton")
        run.wait_for("stdout", "Alerte #1")  # stored and acknowledged: queued
        if moment == "idle":  # all printed, the console is back waiting for a line
            run.wait_for("stdout", "[vigie-italie]")
            await asyncio.sleep(0.5)
        else:  # these may be unread, read, queued or sent when the signal lands
            run.type("/alert contrôle à Hendaye")
            run.type("/alert 3 mineurs à Briançon")
        run.process.send_signal(signum)
        returncode = run.process.wait(timeout=30)  # stdin is still open: only the signal stops it
        assert run.process.stdin is not None
        assert not run.process.stdin.closed
    assert returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "after the stop; cancelled" not in run.stderr  # no job held the stop for its grace

    rows, workers = await deliveries_and_workers(tmp_path)
    assert workers == []  # the dispatcher retired: its heartbeat is gone, its leases released
    menton = [row for row in rows if row.address == "vigie-italie"]
    assert len(menton) == 1  # the alert acknowledged before the signal was not lost
    printed = run.stdout
    for row in rows:
        if row.status == "sent":
            assert f"[{row.address}]" in printed, row.address  # sent means shown
        else:  # left for the next start, claimable at once
            assert (row.status, row.claimed_by) == ("pending", None), row.address
    if menton[0].status == "sent":
        assert "refoulées à Menton" in printed


@pytest.fixture
def pipe() -> Iterator[tuple[DescriptorLines, int]]:
    """Lines read from a real pipe, and the pipe's write end."""
    read_end, write_end = os.pipe()
    yield DescriptorLines(read_end, "utf-8"), write_end
    os.close(read_end)
    with contextlib.suppress(OSError):
        os.close(write_end)


async def test_descriptor_lines_split_decode_and_end(pipe: tuple[DescriptorLines, int]) -> None:
    lines, write_end = pipe
    os.write(write_end, "un\ndeux \xe9".encode() + b" \xff")
    assert await lines.readline() == "un\n"
    reading = asyncio.ensure_future(lines.readline())
    await asyncio.sleep(0.05)
    assert not reading.done()  # half a line waits for the rest
    os.write(write_end, b"\ntrois")
    assert await reading == "deux é \udcff\n"  # a byte that is not text: a lone surrogate
    os.close(write_end)
    assert await lines.readline() == "trois"  # the last line may lack its newline
    assert await lines.readline() == ""
    assert await lines.readline() == ""


async def test_descriptor_lines_stop_waiting_when_cancelled(
    pipe: tuple[DescriptorLines, int],
) -> None:
    lines, write_end = pipe
    reading = asyncio.ensure_future(lines.readline())
    await asyncio.sleep(0.05)
    reading.cancel()
    await asyncio.wait([reading])  # no thread holds on to the read
    assert reading.cancelled()
    os.write(write_end, b"encore\n")  # the input is still there for a next reader
    assert await lines.readline() == "encore\n"
