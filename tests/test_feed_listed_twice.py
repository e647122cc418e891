"""A feed configured twice — a catalogue feed the file also lists, as the shipped example
does, or a feed added from chat that the file now lists — is polled, and each of its items
announced, once per channel. Served by the real feed server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from storage.database import Database
from storage.models import Feed
from tests.feed_server import FeedServer, static_resolver
from tests.support.feeds import Entry, publish, rss, watch_harness

CATALOGUE_URL = "https://www.conseil-etat.fr/rss/actualites-rss"  # conseil-etat-actualites
PUBLIC_IP = "93.184.215.14"
OLD = Entry("old", "Rapport d'activité 2024", published="Mon, 06 Jan 2025 08:00:00 +0000")
NEW = (
    Entry("a", "Refoulements à Menton : référé-liberté", published="Mon, 20 Jan 2025 10:00 +0000"),
    Entry("b", "Calais : décision sur les évacuations", published="Mon, 20 Jan 2025 11:00 +0000"),
)


class ToLoopback(httpx.AsyncBaseTransport):
    """The test's stand-in for the internet: one public address answered by the local
    feed server (plain HTTP on loopback)."""

    def __init__(self, routes: dict[str, str]) -> None:
        self._routes = routes
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self._routes.get(str(request.url))
        if target is None:
            raise httpx.ConnectError(f"no route to {request.url.host} in this test")
        request.url = httpx.URL(target)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()


def per_channel(relayed: dict[str, list[str]]) -> dict[str, list[str]]:
    """The titles each channel got, in order (the second line of a rendered announcement)."""
    return {address: [text.split(" | ")[1] for text in texts] for address, texts in relayed.items()}


async def poll_twice(database: Database, server: FeedServer, **config: Any) -> Any:
    publish(server, "ce", rss(OLD), version=1)
    transport = ToLoopback({CATALOGUE_URL: server.url("/feeds/ce")})
    resolver = static_resolver({"www.conseil-etat.fr": [PUBLIC_IP]})
    own = {"id": "conseil-etat", "url": CATALOGUE_URL, "every": "30m", "themes": ["juridique"]}
    async with watch_harness(
        database,
        server,
        [own],
        transport=transport,
        resolver=resolver,
        allow_private=False,
        **config,
    ) as h:
        first = await h.watcher.poll_due()
        publish(server, "ce", rss(*NEW, OLD), version=2)
        await h.later(timedelta(minutes=40))  # 30 min, jittered up to +10 %
        second = await h.watcher.poll_due()
        return h, first, second, per_channel(await h.relayed())


async def test_a_catalogue_feed_also_in_the_file_announces_each_item_once(
    database: Database, server: FeedServer
) -> None:
    _, first, second, relayed = await poll_twice(
        database, server, enable=["conseil-etat-actualites"]
    )
    assert [outcome.feed_id for outcome in first.outcomes] == ["conseil-etat"]
    assert [outcome.feed_id for outcome in second.outcomes] == ["conseil-etat"]
    assert server.hits["/feeds/ce"] == 2  # one feed, polled twice
    titles = [entry.title for entry in NEW]
    assert relayed["partout"] == titles  # once each, not twice
    assert relayed["juridique"] == titles
    assert relayed["italie"] == titles[:1]
    assert relayed["manche"] == titles[1:]


async def test_a_chat_feed_the_file_now_lists_is_taken_over_by_the_file(
    database: Database, server: FeedServer
) -> None:
    async with database.transaction() as session:
        session.add(  # as `/feed add` left it, polled before and due again
            Feed(
                id="conseil-etat-fr",
                url=CATALOGUE_URL + "/",
                source="chat",
                enabled=True,
                every_seconds=3600,
                initialised=True,
                next_poll_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    h, _, second, relayed = await poll_twice(database, server)
    assert [outcome.feed_id for outcome in second.outcomes] == ["conseil-etat"]
    assert server.hits["/feeds/ce"] == 2
    assert relayed["partout"] == [entry.title for entry in NEW]
    assert (await h.feed("conseil-etat-fr")).enabled is False  # kept, not deleted
