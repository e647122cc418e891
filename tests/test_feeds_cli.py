"""`tocsin feeds check URL` as an operator runs it: a real process against the local server."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.feed_server import FeedServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()


async def tocsin(*args: str, cwd: Path) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    environment["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=cwd,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tocsin.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def test_check_prints_each_item_with_its_classification(
    server: FeedServer, tmp_path: Path
) -> None:
    file = config(tmp_path, "[feed_watch]\nallow_private = true\n")
    code, out, err = await tocsin(
        "feeds", "check", server.url("/feeds/conseil_etat"), "--config", file, cwd=tmp_path
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Conseil d'État - Actualités — {server.url('/feeds/conseil_etat')}"
    assert lines[1] == "2 item(s)"
    assert "- Refus d'entrée à la frontière franco-italienne : le Conseil d'État annule" in out
    assert "  borders: franco-italienne · themes: refoulement, juridique" in lines
    assert "  borders: zones-attente · themes: mineurs, asile, enfermement, juridique" in lines
    assert not (tmp_path / "tocsin-data").exists()  # nothing stored


async def test_check_tries_keywords_and_shows_what_they_keep(
    server: FeedServer, tmp_path: Path
) -> None:
    file = config(tmp_path, "[feed_watch]\nallow_private = true\n")
    code, out, _ = await tocsin(
        "feeds",
        "check",
        server.url("/feeds/gisti"),
        "--config",
        file,
        "--keyword",
        "Marseille",
        cwd=tmp_path,
    )
    assert code == 0
    assert "warning: the feed is not well-formed XML" in out
    assert "  filtered out (no keyword matched)" in out
    assert "  kept (matched: Marseille)" in out
    assert out.rstrip().endswith("1 of 2 item(s) kept by the keywords")


async def test_check_uses_the_labels_of_a_configured_feed(
    server: FeedServer, tmp_path: Path
) -> None:
    url = server.url("/feeds/conseil_etat")
    file = config(
        tmp_path,
        f'[feed_watch]\nallow_private = true\n[[feeds]]\nid = "ce"\nurl = "{url}"\n'
        'themes = ["legislation"]\nkeywords = ["Roissy"]\n',
    )
    code, out, _ = await tocsin("feeds", "check", url, "--config", file, cwd=tmp_path)
    assert code == 0
    assert "fixed labels: legislation" in out
    assert "keywords: Roissy" in out
    assert "themes: legislation, mineurs, asile, enfermement, juridique" in out


@pytest.mark.parametrize(
    ("path", "allow_private", "message"),
    [
        ("/feeds/conseil_etat", False, "127.0.0.1, a loopback address"),
        ("/feeds/gone", True, "answered HTTP 404 Not Found"),
        ("/feeds/bomb", True, "declares XML entities"),
    ],
)
async def test_check_reports_a_bad_feed_on_one_line(
    server: FeedServer, tmp_path: Path, path: str, allow_private: bool, message: str
) -> None:
    file = config(tmp_path, f"[feed_watch]\nallow_private = {str(allow_private).lower()}\n")
    code, out, err = await tocsin(
        "feeds", "check", server.url(path), "--config", file, cwd=tmp_path
    )
    assert code == 1
    assert out == ""
    assert err.startswith("tocsin: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("path", ["/feeds/conseil_etat", "/feeds/gone"])
async def test_check_never_prints_the_user_name_and_password_of_a_feed(
    server: FeedServer, tmp_path: Path, path: str
) -> None:
    file = config(tmp_path, "[feed_watch]\nallow_private = true\n")
    url = f"http://veille:s3cret-Pa55@127.0.0.1:{server.port}{path}"
    code, out, err = await tocsin("feeds", "check", url, "--config", file, cwd=tmp_path)

    assert server.requests_headers[-1]["Authorization"].startswith("Basic ")  # still used
    assert (code == 0) == (path == "/feeds/conseil_etat")
    assert f"http://127.0.0.1:{server.port}{path}" in out + err
    assert "s3cret-Pa55" not in out + err
    assert "veille" not in out + err
