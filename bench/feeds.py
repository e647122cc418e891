"""Feed watcher benchmark: prints figures, asserts nothing.

    python bench/feeds.py                       # 500 feeds, SQLite in a temp folder
    python bench/feeds.py --feeds 200 --database postgresql+asyncpg://postgres@127.0.0.1/tocsin_bench

Everything runs on loopback. The feeds are served by the project's test feed server
(tests/feed_server.py: ETag, Last-Modified, 304s) in a child process, so its CPU is not
counted; this process runs the real FeedWatcher (shared httpx client with its pinned
transport, HostLimiter with the default limits, parsing in its child process, one
transaction per feed) on a real database. The feeds are spread over 50 host names that
resolve to a public-looking address, which the test network under the transport maps to
the local server, so the per-host limit and the address pinning apply as in production.

Cycles, each polling every feed once (``poll_once``):
1. first poll: every feed answers 200 with 20 items, recorded without announcing;
2. fresh content: every feed publishes 2 new items (200), announced and routed;
3. mostly 304: 5 % of the feeds publish 2 new items, the others answer 304.
For each: wall time, CPU time of this process (``time.process_time``: all threads,
including the database driver's) plus that of the parsing process (``parse CPU``, read
from /proc), and the peak RSS so far (``getrusage`` ru_maxrss, this process only).
Targets: the mostly-304 cycle ≤ 2 s CPU; peak RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOSTS = 50
ITEMS_PER_FEED = 20
PUBLIC_IP = "93.184.215.14"
PLACES = ("Menton", "Vintimille", "Hendaye", "Calais", "Roissy", "Briançon", "Paris", "Lyon")
TOPICS = ("refoulement", "mineurs", "rétention", "asile", "décision", "loi", "rapport")


# --- the feed server (child process) ---------------------------------------------------


def item_xml(feed: int, number: int) -> str:
    place = PLACES[(feed + number) % len(PLACES)]
    topic = TOPICS[(feed * 3 + number) % len(TOPICS)]
    return (
        f"<item><title>Communiqué {number} du flux {feed} : {topic} à {place}</title>"
        f"<link>https://feed-{feed}.bench.test/articles/{number}</link>"
        f'<guid isPermaLink="false">feed-{feed}-item-{number}</guid>'
        f"<pubDate>Mon, 20 Jan 2025 {number % 24:02d}:{feed % 60:02d}:00 +0000</pubDate>"
        f"<description>&lt;p&gt;Le {topic} observé à {place} fait l'objet d'un "
        f"communiqué détaillé, numéro {number}, publié par le flux {feed}.&lt;/p&gt;"
        "</description></item>"
    )


def feed_body(feed: int, newest: int) -> bytes:
    items = "".join(item_xml(feed, n) for n in range(newest, newest - ITEMS_PER_FEED, -1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Flux {feed}</title><link>https://feed-{feed}.bench.test/</link>"
        f"{items}</channel></rss>"
    ).encode()


async def serve(count: int) -> None:
    """Serve `count` feeds; on stdin, `publish FRACTION` adds 2 items to that share."""
    from tests.feed_server import FeedServer, ServedFeed

    newest = dict.fromkeys(range(count), ITEMS_PER_FEED)
    versions = dict.fromkeys(range(count), 1)

    def served(feed: int) -> ServedFeed:
        return ServedFeed(
            body=feed_body(feed, newest[feed]),
            content_type="application/rss+xml; charset=utf-8",
            etag=f'"f{feed}-v{versions[feed]}"',
            last_modified=f"Mon, 20 Jan 2025 08:{versions[feed] % 60:02d}:00 GMT",
        )

    server = FeedServer({str(feed): served(feed) for feed in range(count)})
    await server.start()
    print(server.port, flush=True)
    loop = asyncio.get_running_loop()
    rng = random.Random(5)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        _, fraction = line.split()
        chosen = rng.sample(range(count), round(count * float(fraction)))
        for feed in chosen:
            newest[feed] += 2
            versions[feed] += 1
            server.feeds[str(feed)] = served(feed)
        print(len(chosen), flush=True)
    await server.stop()


# --- the watcher (this process) ----------------------------------------------------------


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of another process (Linux), 0 when there is none."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FeedServerProcess:
    """The feed server in a child process, so its CPU is not counted here."""

    def __init__(self, count: int) -> None:
        self._child = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--feeds", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.port = int(self._read())

    def _read(self) -> str:
        if self._child.stdout is None:
            raise RuntimeError("the feed server's pipes are gone")
        return self._child.stdout.readline()

    def publish(self, fraction: float) -> int:
        """Add 2 items to that share of the feeds (new ETags); returns how many changed."""
        if self._child.stdin is None:
            raise RuntimeError("the feed server's pipes are gone")
        self._child.stdin.write(f"publish {fraction}\n")
        self._child.stdin.flush()
        return int(self._read())

    def stop(self) -> None:
        if self._child.stdin is None:
            raise RuntimeError("the feed server's pipes are gone")
        self._child.stdin.close()
        self._child.wait(10)


async def bench(count: int, database_url: str | None, server: FeedServerProcess) -> None:
    from alerts.clock import SystemClock
    from bot.config_sync import sync_config
    from bot.wiring.feeds import build_feeds
    from bot.wiring.shared import shared_parts
    from config.loader import build_settings
    from storage import feed_queries
    from storage.database import open_database
    from tests.feed_server import LoopbackNetwork, static_resolver

    hosts = [f"feed-{host}.bench.test" for host in range(HOSTS)]
    # The demo deployment's console channels (one per border, and "all borders" ones).
    raw: dict[str, Any] = tomllib.loads((ROOT / "config" / "demo.toml").read_text("utf-8"))
    raw["feeds"] = [
        {"id": f"f{feed}", "url": f"http://{hosts[feed % HOSTS]}/feeds/{feed}", "every": "15m"}
        for feed in range(count)
    ]
    settings = build_settings(raw, "bench")
    folder = tempfile.TemporaryDirectory()
    url = database_url or f"sqlite+aiosqlite:///{folder.name}/bench.db"
    database = await open_database(url)
    clock = SystemClock()
    async with database.transaction() as session:
        if await feed_queries.all_feeds(session):
            await database.close()
            raise SystemExit(f"{url}: the bench needs a database without feeds")
        await sync_config(session, settings, clock.now())
    shared = shared_parts(settings, database)
    parts = build_feeds(
        settings,
        shared,
        database=database,
        clock=clock,
        network=LoopbackNetwork({PUBLIC_IP: ("127.0.0.1", server.port)}),
        resolver=static_resolver({host: [PUBLIC_IP] for host in hosts}),
        rng=random.Random(1),
    )
    watcher = parts.watcher
    await watcher.sync()
    watch = settings.feed_watch
    print(
        f"{count} feeds on {HOSTS} hosts, {ITEMS_PER_FEED} items each; "
        f"concurrency {watch.concurrency} overall, {watch.per_host} per host; "
        f"database {database.dialect}"
    )
    print(
        f"{'cycle':<16}{'wall s':>8}{'CPU s':>8}{'parse CPU':>10}{'200':>6}{'304':>6}{'new':>7}"
        f"{'announced':>11}{'failed':>8}{'peak RSS MB':>13}"
    )

    async def cycle(name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        parse_cpu = process_cpu(parts.parser.pid)
        report = await watcher.poll_once()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        parse_cpu = process_cpu(parts.parser.pid) - parse_cpu
        print(
            f"{name:<16}{wall:>8.2f}{cpu:>8.2f}{parse_cpu:>10.2f}{report.count('new'):>6}"
            f"{report.count('not_modified'):>6}{report.new_items:>7}{report.announced:>11}"
            f"{report.count('failed') + report.count('skipped'):>8}{peak_rss_mb():>13.1f}"
        )

    try:
        await cycle("first poll")
        server.publish(1.0)
        await cycle("fresh content")
        server.publish(0.05)
        await cycle("mostly 304")
        await cycle("all 304")
    finally:
        await parts.close()
        await shared.directory.stop()
        await database.close()
        folder.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--database", help="database URL (default: SQLite in a temp folder)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.feeds))
    else:
        server = FeedServerProcess(args.feeds)
        try:
            asyncio.run(bench(args.feeds, args.database, server))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
