"""A feed watcher wired to a real database and the local feed server, for the tests.

Feeds are written on the fly (`rss`) and swapped on the server between polls with a new
ETag, the way a real site publishes; the clock is a ManualClock moved by the test.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape

import httpx
from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.messages import OutboundMessage
from alerts.metrics import Metrics
from alerts.outbox import OutboxSignal
from bot.config_sync import sync_config
from bot.wiring.feeds import build_feeds
from bot.wiring.shared import shared_parts
from config.loader import build_settings
from config.schema import Settings
from feeds.addresses import Resolver
from feeds.parse_worker import ParseWorker
from feeds.watcher import FeedWatcher
from relays.markup import to_one_line
from storage.database import Database
from storage.models import Delivery, Feed, FeedItem
from tests.feed_server import FeedServer, ServedFeed

LAST_MODIFIED = "Tue, 14 Jan 2025 09:30:00 GMT"


@dataclass(frozen=True)
class Entry:
    guid: str | None
    title: str
    description: str = ""
    link: str | None = None
    published: str | None = None  # RFC 822, e.g. "Mon, 20 Jan 2025 07:00:00 +0000"


def rss(*entries: Entry, title: str = "Flux de test") -> bytes:
    items = []
    for entry in entries:
        parts = [f"<title>{escape(entry.title)}</title>"]
        if entry.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(entry.guid)}</guid>')
        if entry.link is not None:
            parts.append(f"<link>{escape(entry.link)}</link>")
        if entry.description:
            parts.append(f"<description>{escape(entry.description)}</description>")
        if entry.published:
            parts.append(f"<pubDate>{entry.published}</pubDate>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.test/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8")


def publish(server: FeedServer, name: str, body: bytes, version: int = 1) -> None:
    """Serve ``body`` at /feeds/{name} with a version-specific ETag."""
    server.feeds[name] = ServedFeed(
        body=body,
        content_type="application/rss+xml; charset=utf-8",
        etag=f'"{name}-v{version}"',
        last_modified=LAST_MODIFIED,
    )


def channel(
    channel_id: str, borders: Sequence[str], themes: Sequence[str] = ("*",), **extra: Any
) -> dict[str, Any]:
    return {
        "id": channel_id,
        "platform": "console",
        "address": channel_id,
        "organisation": "reseau",
        "kinds": ["announcement"],
        "borders": list(borders),
        "themes": list(themes),
        **extra,
    }


def watch_raw(feeds: Sequence[dict[str, Any]], **feed_watch: Any) -> dict[str, Any]:
    """A deployment with announcement channels per border/theme, and people per role."""
    return {
        "console": {"interactive": True, "user": "coord"},
        "organisations": [{"id": "reseau", "name": "Réseau"}],
        "members": [
            {"platform": "console", "user": "admin", "organisation": "reseau", "role": "admin"},
            {
                "platform": "console",
                "user": "coord",
                "organisation": "reseau",
                "role": "coordinator",
            },
            {"platform": "console", "user": "obs", "organisation": "reseau", "role": "observer"},
            {
                "platform": "console",
                "user": "anglo",
                "organisation": "reseau",
                "role": "coordinator",
                "language": "en",
            },
        ],
        "channels": [
            channel("italie", ["franco-italienne"]),
            channel("manche", ["manche"]),
            channel("juridique", ["*"], ["juridique"], language="en"),
            channel("partout", ["*"]),
            {**channel("alertes", ["*"]), "kinds": ["alert"]},
        ],
        "feed_watch": {"allow_private": True, **feed_watch},
        "feeds": list(feeds),
    }


@dataclass
class WatchHarness:
    database: Database
    clock: ManualClock
    server: FeedServer
    settings: Settings
    watcher: FeedWatcher
    signal: OutboxSignal
    parser: ParseWorker

    async def feed(self, feed_id: str) -> Feed:
        async with self.database.sessions() as session:
            row = await session.get(Feed, feed_id)
        assert row is not None
        return row

    async def items(self, feed_id: str) -> list[FeedItem]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(FeedItem).where(FeedItem.feed_id == feed_id).order_by(FeedItem.id)
            )
            return list(rows)

    async def deliveries(self, fact_type: str = "feed_item") -> list[Delivery]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(Delivery).where(Delivery.fact_type == fact_type).order_by(Delivery.id)
            )
            return list(rows)

    async def relayed(self) -> dict[str, list[str]]:
        """Announcement texts per channel, as the console would print them."""
        found: dict[str, list[str]] = {}
        for row in await self.deliveries():
            message = OutboundMessage.from_json(row.payload)
            found.setdefault(row.address, []).append(to_one_line(message))
        return found

    async def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)


def feed_entry(feed_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": feed_id, "url": url, "every": "1m", **extra}


@asynccontextmanager
async def watch_harness(
    database: Database,
    server: FeedServer,
    feeds: Sequence[dict[str, Any]],
    *,
    total_timeout: float = 30.0,
    max_bytes: int = 5_000_000,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    metrics: Metrics | None = None,
    **feed_watch: Any,
) -> AsyncIterator[WatchHarness]:
    raw = watch_raw(feeds, **feed_watch)
    raw["feed_watch"]["max_bytes"] = max_bytes
    settings = build_settings(raw, "test.toml")
    clock = ManualClock()
    async with database.transaction() as session:
        await sync_config(session, settings, clock.now())
    shared = shared_parts(settings, database)
    parts = build_feeds(
        settings,
        shared,
        database=database,
        clock=clock,
        transport=transport,
        resolver=resolver,
        rng=random.Random(6),
        fetch_timeout=total_timeout,
        metrics=metrics,
    )
    try:
        await parts.watcher.sync()
        yield WatchHarness(
            database, clock, server, settings, parts.watcher, shared.outbox.signal, parts.parser
        )
    finally:
        await parts.close()
        await shared.directory.stop()


def labels(row: FeedItem) -> tuple[list[str], list[str]]:
    return json.loads(row.borders), json.loads(row.themes)
