"""Weekly digest benchmark: prints figures, asserts nothing.

    python bench/digest.py                  # SQLite in a temporary folder
    python bench/digest.py --postgres       # also PostgreSQL ($TOCSIN_TEST_DATABASE_URL)

In the period: 10,000 alerts (a tenth of them follow-ups), 500 mobilisations with needs
and answers, 2,000 announcements from 20 feeds; 200 channels in two languages with
varied borders and themes. One scheduled firing is timed: the period read, every
channel's digest rendered and enqueued in one transaction, the archive written (page,
index, Atom feed). The target is 2 s in all.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.clock import ManualClock
from bot.app import Wiring, build
from storage.models import (
    Alert,
    Delivery,
    Feed,
    FeedItem,
    Mobilisation,
    MobilisationAnswer,
    MobilisationNeed,
)
from tests.support.console import config_from
from tests.support.databases import private_postgres_url, reset_postgres

SCHEDULED = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 in Paris
BORDERS = ["franco-italienne", "franco-espagnole", "manche", "zones-attente"]
THEMES = ["refoulement", "mineurs", "violences", "asile", "enfermement", "deces", "juridique"]
NEEDS = ["observers", "interpreter", "lawyer", "medical", "transport"]


def channels(count: int, rng: random.Random) -> list[dict[str, Any]]:
    made = []
    for index in range(count):
        borders = ["*"] if index % 10 == 0 else rng.sample(BORDERS, rng.choice((1, 1, 2)))
        themes = ["*"] if index % 3 == 0 else rng.sample(THEMES, rng.choice((1, 2, 3)))
        made.append(
            {
                "id": f"ch{index:03d}",
                "platform": "console",
                "address": f"ch{index:03d}",
                "organisation": "reseau",
                "borders": borders,
                "themes": themes,
                "language": "fr" if index % 2 else "en",
            }
        )
    return made


def moment(rng: random.Random) -> datetime:
    return SCHEDULED - timedelta(seconds=rng.randrange(1, 7 * 86400))


def alert_rows(rng: random.Random, alerts: int) -> list[dict[str, Any]]:
    rows = []
    for index in range(alerts):
        at = moment(rng)
        rows.append(
            {
                "kind": "alert",
                "text": f"Alerte {index} : " + "personnes refoulées à la gare " * rng.randint(1, 8),
                "border": rng.choice(BORDERS),
                "themes": json.dumps(rng.sample(THEMES, rng.choice((1, 2)))),
                "urgency": rng.choice(("info", "normal", "normal", "urgent", "vital")),
                "place": "Menton",
                "status": rng.choice(("open", "closed")),
                "outcome": "Personnes relâchées après intervention",
                "parent_id": rng.randint(1, index) if index > 100 and index % 10 == 0 else None,
                "created_at": at,
                "updated_at": at,
            }
        )
    return rows


@dataclass
class CallRows:
    calls: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)
    needs: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


def call_rows(rng: random.Random, mobs: int, first: int) -> CallRows:
    """`mobs` closed calls whose alert ids start at `first`, two needs each, some answers."""
    rows = CallRows()
    for index in range(mobs):
        at = moment(rng)
        rows.calls.append(
            {
                "kind": "mobilisation",
                "text": f"Mobilisation {index} : observateurs demandés en gare",
                "border": rng.choice(BORDERS),
                "themes": json.dumps([rng.choice(THEMES)]),
                "urgency": rng.choice(("normal", "urgent")),
                "status": "closed",
                "outcome": "Présence assurée",
                "created_at": at,
                "updated_at": at,
            }
        )
        alert_id = first + index
        rows.deadlines.append({"alert_id": alert_id, "close_at": at + timedelta(hours=6)})
        for need in rng.sample(NEEDS, 2):
            rows.needs.append({"alert_id": alert_id, "need": need, "wanted": rng.randint(1, 4)})
            rows.answers.extend(
                {
                    "alert_id": alert_id,
                    "member_id": None,
                    "answer": "going",
                    "need": need,
                    "created_at": at,
                    "updated_at": at,
                }
                for _ in range(rng.randint(0, 3))
            )
    return rows


def feed_item_rows(rng: random.Random, items: int) -> list[dict[str, Any]]:
    return [
        {
            "feed_id": f"feed{i % 20}",
            "item_key": f"k{i}",
            "title": f"Décision n° {i}",
            "link": f"https://example.org/{i}",
            "borders": json.dumps([rng.choice(BORDERS)]),
            "themes": "[]",
            "published_at": moment(rng),
            "created_at": moment(rng),
            "announced": True,
        }
        for i in range(items)
    ]


async def fill(wiring: Wiring, rng: random.Random, alerts: int, mobs: int, items: int) -> None:
    async with wiring.database.transaction() as session:
        await session.execute(insert(Alert), alert_rows(rng, alerts))
        first = int(await session.scalar(select(func.max(Alert.id))) or 0) + 1
        calls = call_rows(rng, mobs, first)
        await session.execute(insert(Alert), calls.calls)
        await session.execute(insert(Mobilisation), calls.deadlines)
        await session.execute(insert(MobilisationNeed), calls.needs)
        await session.execute(insert(MobilisationAnswer), calls.answers)
        feeds = [
            {
                "id": f"feed{i}",
                "url": f"http://127.0.0.1:9/{i}",
                "name": f"Flux {i}",
                "every_seconds": 1800,
                "themes": json.dumps([THEMES[i % len(THEMES)]]),
            }
            for i in range(20)
        ]
        await session.execute(insert(Feed), feeds)
        await session.execute(insert(FeedItem), feed_item_rows(rng, items))


def folder_size(folder: Path) -> tuple[list[str], int]:
    files = sorted(p.name for p in folder.iterdir())
    return files, sum((folder / name).stat().st_size for name in files)


async def run(url: str, archive: Path, args: argparse.Namespace) -> None:
    rng = random.Random(16)
    raw: dict[str, Any] = {
        "organisations": [{"id": "reseau", "name": "Réseau"}],
        "channels": channels(args.channels, rng),
        "digest": {"archive_dir": str(archive)},
    }
    wiring = await build(
        config_from(raw, url), clock=ManualClock(SCHEDULED), console_output=io.StringIO()
    )
    try:
        await fill(wiring, rng, args.alerts, args.mobilisations, args.announcements)
        if wiring.digest is None:
            raise SystemExit("the digest is not wired")
        await wiring.directory.warm()  # as `tocsin run` does at start
        started = time.perf_counter()
        fired = await wiring.digest.service.fire(SCHEDULED, SCHEDULED)
        elapsed = time.perf_counter() - started
        async with wiring.database.sessions() as session:
            parts = await session.scalar(select(func.count()).where(Delivery.fact_type == "digest"))
        files, size = folder_size(archive)
        print(
            f"{wiring.database.dialect:10} {args.alerts} alerts, {args.mobilisations} "
            f"mobilisations, {args.announcements} announcements, {args.channels} channels: "
            f"{fired.channels} digests ({parts} outbox rows) rendered and enqueued, archive "
            f"({len(files)} files, {size // 1024} KiB) written in {elapsed:.2f} s "
            f"(target 2 s)"
        )
    finally:
        await wiring.directory.stop()
        await wiring.database.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--mobilisations", type=int, default=500)
    parser.add_argument("--announcements", type=int, default=2_000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await run(f"sqlite+aiosqlite:///{folder}/bench.db", Path(folder) / "a", args)
        shared = os.environ.get("TOCSIN_TEST_DATABASE_URL")
        if args.postgres and shared:
            url = await private_postgres_url(shared)
            await reset_postgres(url)
            await run(url, Path(folder) / "b", args)


if __name__ == "__main__":
    asyncio.run(main())
