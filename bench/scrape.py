"""What a `/metrics` scrape costs with a deep outbox: prints figures, asserts nothing.

    python bench/scrape.py                      # SQLite in a temp folder, 100,000 rows
    python bench/scrape.py --rows 20000 --database postgresql+asyncpg://postgres@127.0.0.1/tocsin_bench

Fills the outbox with pending deliveries (a tenth of them due, over four priorities),
then times the scrape-time reads (`MetricsEndpoint.state`: outbox depth by priority and
the oldest due delivery) and a whole rendered exposition, median and worst of 20.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from alerts.clock import SystemClock  # noqa: E402
from bot.web.health import HealthChecks  # noqa: E402
from bot.web.metrics import MetricsEndpoint, PrometheusMetrics  # noqa: E402
from bot.wiring.platforms import platform_catalogue  # noqa: E402
from relays.console import ConsoleRelay  # noqa: E402
from storage.database import open_database  # noqa: E402
from storage.models import Delivery  # noqa: E402

PRIORITIES = (0, 20, 50, 90)


async def fill(url: str, rows: int) -> None:
    database = await open_database(url)
    now = SystemClock().now()
    batch = []
    for number in range(rows):
        due = number % 10 == 0
        batch.append(
            {
                "platform": "console",
                "address": f"chat-{number % 1000}",
                "fact_type": "alert",
                "kind": "alert",
                "priority": PRIORITIES[number % len(PRIORITIES)],
                "payload": "{}",
                "status": "pending",
                "next_attempt_at": now - timedelta(seconds=60) if due else now + timedelta(hours=8),
                "txn_id": uuid.uuid4().hex,
                "created_at": now,
            }
        )
    async with database.transaction() as session:
        for start in range(0, rows, 5000):
            await session.execute(insert(Delivery), batch[start : start + 5000])
    await database.close()


async def measure(url: str, rows: int) -> None:
    await fill(url, rows)
    database = await open_database(url)
    metrics = PrometheusMetrics(platform_catalogue())
    checks = HealthChecks(database, {"console": ConsoleRelay()})
    endpoint = MetricsEndpoint(metrics, database, checks, SystemClock())
    reads: list[float] = []
    whole: list[float] = []
    for _ in range(20):
        started = time.perf_counter()
        state = await endpoint.state()
        reads.append(time.perf_counter() - started)
        metrics.exposition(state)
        whole.append(time.perf_counter() - started)
    await database.close()
    if state.depth_by_priority is None:
        raise RuntimeError("the scrape read no queue depth")
    print(f"database: {database.dialect}, pending rows: {sum(state.depth_by_priority.values())}")
    for name, figures in (("scrape-time reads", reads), ("whole exposition", whole)):
        print(
            f"{name}: median {statistics.median(figures) * 1000:.1f} ms, "
            f"worst {max(figures) * 1000:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", help="an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite+aiosqlite:///{Path(folder)}/bench.db"
        asyncio.run(measure(url, args.rows))


if __name__ == "__main__":
    main()
