"""Root stage: the feed watcher and its chat commands, from the settings. The composition
root, the feed benchmark and the feed tests all build them here.

One shared HTTP client for every feed and one parsing process; the transport (or only
the sockets under it) and the resolver can be injected so tests send "public" hosts to
the local test server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpcore
import httpx

from alerts.clock import Clock
from alerts.feed_announcements import AnnouncementRenderer, AnnouncementService
from alerts.metrics import Metrics
from bot.feed_commands import FeedCommands
from bot.wiring.shared import SharedParts
from config.schema import Settings
from feeds.addresses import Resolver
from feeds.fetch import FeedFetcher, FetchSettings, HostLimiter, make_feed_http_client
from feeds.parse_worker import ParseWorker
from feeds.watcher import FeedWatcher, WatcherSettings
from storage.database import Database


@dataclass(frozen=True)
class FeedParts:
    watcher: FeedWatcher
    commands: FeedCommands
    client: httpx.AsyncClient
    parser: ParseWorker

    async def close(self) -> None:
        await self.client.aclose()
        await self.parser.close()


def build_feeds(
    settings: Settings,
    shared: SharedParts,
    *,
    database: Database,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    network: httpcore.AsyncNetworkBackend | None = None,
    rng: random.Random | None = None,
    fetch_timeout: float = 30.0,
    metrics: Metrics | None = None,
) -> FeedParts:
    watch = settings.feed_watch
    client = make_feed_http_client(transport, network)
    fetch_settings = FetchSettings(
        max_bytes=watch.max_bytes, total_timeout=fetch_timeout, allow_private=watch.allow_private
    )
    fetcher = FeedFetcher(client, fetch_settings, resolver)
    parser = ParseWorker(watch.parse_timeout.total_seconds())
    watcher = FeedWatcher(
        database=database,
        fetcher=fetcher,
        parser=parser,
        limiter=HostLimiter(per_host=watch.per_host, overall=watch.concurrency),
        vocabulary=shared.vocabulary,
        clock=clock,
        rng=rng or random.SystemRandom(),
        settings=WatcherSettings.from_settings(settings),
        announcements=AnnouncementService(
            renderer=AnnouncementRenderer(shared.vocabulary, shared.translate),
            outbox=shared.outbox,
            directory=shared.directory,
        ),
        outbox=shared.outbox,
        translate=shared.translate,
        resolver=resolver,
        metrics=metrics,
    )
    commands = FeedCommands(
        vocabulary=shared.vocabulary,
        allow_private=watch.allow_private,
        resolver=resolver,
        timezone=settings.digest.timezone,
    )
    return FeedParts(watcher=watcher, commands=commands, client=client, parser=parser)
