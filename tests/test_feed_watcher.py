"""The feed watcher against a real local HTTP server and both databases.

The clock is a ManualClock: a test moves it past a feed's next poll, then calls
``poll_due()``; nothing sleeps. Feeds are published on the server between polls with a new
ETag, as a real site does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from alerts.outbox import NOTICE
from feeds.parse import FeedParseError
from storage.database import Database
from storage.models import Delivery
from tests.feed_server import (
    FeedServer,
    HostMapTransport,
    ServedFeed,
    load_fixture,
    nested_tags,
    quadratic_blowup,
    static_resolver,
)
from tests.support.feeds import Entry, WatchHarness, feed_entry, labels, publish, rss, watch_harness

PUBLIC_IP = "93.184.215.14"

OLD = (
    Entry("old-1", "Rapport d'activité 2024", published="Mon, 06 Jan 2025 08:00:00 +0000"),
    Entry("old-2", "Vœux de la présidente", published="Tue, 07 Jan 2025 08:00:00 +0000"),
)
MENTON = Entry(
    "new-menton",
    "Refoulements à Menton : le tribunal administratif de Nice suspend les refus d'entrée",
    "Ordonnance du 20 janvier 2025.",
    link="https://www.example.test/menton",
    published="Mon, 20 Jan 2025 10:00:00 +0000",
)
CALAIS = Entry(
    "new-calais",
    "Calais : un campement détruit à l'aube",
    "Quarante personnes sans abri.",
    link="https://www.example.test/calais",
    published="Mon, 20 Jan 2025 11:00:00 +0000",
)
SANTE = Entry(
    "new-sante",
    "Accès aux soins des personnes exilées : rapport annuel",
    published="Mon, 20 Jan 2025 12:00:00 +0000",
)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()


async def next_poll(h: WatchHarness, feed_id: str) -> None:
    """Move the clock to the feed's next poll."""
    row = await h.feed(feed_id)
    assert row.next_poll_at is not None
    h.clock.set(max(row.next_poll_at, h.clock.now()))


async def count_notices(database: Database) -> int:
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.fact_type == NOTICE.fact_type)
        )
    return int(count or 0)


# --- first poll, classification, routing -------------------------------------------------


async def test_first_poll_is_silent_then_new_items_reach_the_right_channels_only(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss(*OLD), version=1)
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        first = await h.watcher.poll_due()
        assert first.of("ce").status == "new"
        assert (first.new_items, first.announced) == (2, 0)
        assert await h.deliveries() == []
        assert [item.announced for item in await h.items("ce")] == [False, False]

        publish(server, "ce", rss(SANTE, CALAIS, MENTON, *OLD), version=2)
        assert (await h.watcher.poll_due()).outcomes == ()  # not due yet: nothing fetched
        await h.later(timedelta(minutes=2))
        second = await h.watcher.poll_due()

        assert (second.new_items, second.announced) == (3, 3)
        relayed = await h.relayed()
        # Oldest first; an item with no border only reaches the "all borders" channels.
        assert {address: len(texts) for address, texts in relayed.items()} == {
            "italie": 1,
            "juridique": 1,
            "manche": 1,
            "partout": 3,
        }
        assert "Menton" in relayed["italie"][0]
        assert "Calais" in relayed["manche"][0]
        assert [text.split(" | ")[1][:12] for text in relayed["partout"]] == [
            "Refoulements",
            "Calais : un ",
            "Accès aux so",
        ]
        menton = relayed["italie"][0]
        assert menton.startswith("📰 Annonce · Flux de test | Refoulements à Menton")
        assert "(https://www.example.test/menton)" in menton  # the title is a link
        assert "Ordonnance du 20 janvier 2025." in menton
        assert "Frontières : Frontière franco-italienne" in menton
        assert "Publié le 20/01/2025" in menton
        # The "juridique" channel reads English.
        assert relayed["juridique"][0].startswith("📰 Announcement · Flux de test")
        assert "Published 2025-01-20" in relayed["juridique"][0]

        rows = await h.deliveries()
        assert {row.kind for row in rows} == {"announcement"}
        assert {row.priority for row in rows} == {0}  # behind every alert and reply
        items = {item.item_key: item for item in await h.items("ce")}
        assert labels(items["new-menton"]) == (["franco-italienne"], ["refoulement", "juridique"])
        assert labels(items["new-sante"]) == ([], ["sante"])


async def test_announce_first_relays_the_latest_items_of_a_new_feed(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss(SANTE, CALAIS, MENTON))
    async with watch_harness(
        database, server, [feed_entry("ce", server.url("/feeds/ce"))], announce_first=2
    ) as h:
        report = await h.watcher.poll_due()
        assert (report.new_items, report.announced) == (3, 2)
        announced = [item.item_key for item in await h.items("ce") if item.announced]
        assert announced == ["new-calais", "new-sante"]  # the two latest, oldest first


async def test_feed_keywords_keep_only_matching_items(
    database: Database, server: FeedServer
) -> None:
    publish(server, "senat", rss())
    feed = feed_entry("senat", server.url("/feeds/senat"), keywords=["menton", "frontière"])
    async with watch_harness(database, server, [feed]) as h:
        await h.watcher.poll_due()
        publish(server, "senat", rss(MENTON, CALAIS, SANTE), version=2)
        await h.later(timedelta(minutes=2))
        report = await h.watcher.poll_due()
        assert (report.new_items, report.announced) == (3, 1)
        assert set((await h.relayed()).keys()) == {"italie", "juridique", "partout"}
        # Filtered items are recorded too, so they are not looked at again.
        assert {item.item_key: item.announced for item in await h.items("senat")} == {
            "new-menton": True,
            "new-calais": False,
            "new-sante": False,
        }


async def test_fixed_labels_of_the_feed_are_added(database: Database, server: FeedServer) -> None:
    publish(server, "cimade", rss())
    feed = feed_entry(
        "cimade", server.url("/feeds/cimade"), borders=["manche"], themes=["criminalisation"]
    )
    async with watch_harness(database, server, [feed]) as h:
        await h.watcher.poll_due()
        publish(server, "cimade", rss(SANTE), version=2)
        await h.later(timedelta(minutes=2))
        await h.watcher.poll_due()
        (item,) = await h.items("cimade")
        assert labels(item) == (["manche"], ["criminalisation", "sante"])
        assert set((await h.relayed()).keys()) == {"manche", "partout"}


# --- conditional GET and dedup -----------------------------------------------------------


async def test_an_unchanged_feed_answers_304_and_nothing_is_announced(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss(MENTON))
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        await h.watcher.poll_due()
        await h.later(timedelta(minutes=2))
        report = await h.watcher.poll_due()

        assert report.of("ce").status == "not_modified"
        sent = server.requests_headers[-1]
        assert sent["If-None-Match"] == '"ce-v1"'
        assert sent["If-Modified-Since"] == "Tue, 14 Jan 2025 09:30:00 GMT"
        row = await h.feed("ce")
        assert row.last_success_at == h.clock.now()
        assert row.next_poll_at is not None
        assert row.next_poll_at >= h.clock.now() + timedelta(minutes=1)
        assert len(await h.items("ce")) == 1
        assert await h.deliveries() == []


async def test_an_item_is_announced_once_whatever_the_feed_repeats(
    database: Database, server: FeedServer
) -> None:
    no_guid = Entry(None, "Sans identifiant", link="https://www.example.test/sans-guid")
    no_guid_no_link = Entry(None, "Ni guid ni lien", published="Mon, 20 Jan 2025 09:00:00 +0000")
    publish(server, "ce", rss())
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        await h.watcher.poll_due()
        publish(server, "ce", rss(MENTON, MENTON, no_guid, no_guid_no_link), version=2)
        await h.later(timedelta(minutes=2))
        assert (await h.watcher.poll_due()).announced == 3
        # The same items again under a new ETag (a CMS rebuilt the file): nothing new.
        publish(server, "ce", rss(no_guid_no_link, no_guid, MENTON), version=3)
        await next_poll(h, "ce")
        again = await h.watcher.poll_due()

        assert again.of("ce").status == "new"
        assert again.new_items == 0
        assert len(await h.items("ce")) == 3
        assert len((await h.relayed())["partout"]) == 3


async def test_oversized_or_odd_guids_are_stored_hashed_and_still_deduplicated(
    database: Database, server: FeedServer
) -> None:
    long_guid = Entry("https://www.example.test/?" + "utm=x&" * 400, "Identifiant très long")
    publish(server, "ce", rss())
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        await h.watcher.poll_due()
        publish(server, "ce", rss(long_guid), version=2)
        await h.later(timedelta(minutes=2))
        assert (await h.watcher.poll_due()).announced == 1
        publish(server, "ce", rss(long_guid), version=3)
        await next_poll(h, "ce")
        assert (await h.watcher.poll_due()).new_items == 0
        (item,) = await h.items("ce")
        assert item.item_key.startswith("sha256:")
        assert len(item.item_key) <= 512


# --- health: backoff, pause, one notice ---------------------------------------------------


async def test_a_feed_that_disappears_is_paused_and_the_admins_are_told_once(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss(MENTON))
    feeds = [
        feed_entry("gone", server.url("/feeds/gone")),
        feed_entry("ce", server.url("/feeds/ce")),
    ]
    async with watch_harness(database, server, feeds, pause_after=3) as h:
        statuses = []
        for _ in range(3):
            await next_poll(h, "gone")
            statuses.append((await h.watcher.poll_due()).of("gone").status)
        assert statuses == ["failed", "failed", "paused"]

        row = await h.feed("gone")
        assert row.paused
        assert row.pause_notified
        assert row.consecutive_failures == 3
        assert "HTTP 404" in (row.last_error or "")
        notices = await h.deliveries(NOTICE.fact_type)
        assert [notice.address for notice in notices] == ["admin"]  # the network admin
        text = json.loads(notices[0].payload)["paragraphs"][0]["spans"][0]["text"]
        assert text.startswith("⚠️ Le flux gone (http://127.0.0.1:")
        assert "en pause après 3 échecs consécutifs" in text
        assert "HTTP 404" in text

        hits = server.hits["/feeds/gone"]
        for _ in range(3):  # a paused feed is left alone, and nobody is told twice
            h.clock.advance(timedelta(days=1))
            report = await h.watcher.poll_due()
            assert "gone" not in {outcome.feed_id for outcome in report.outcomes}
        assert server.hits["/feeds/gone"] == hits
        assert await count_notices(database) == 1
        # The other feed kept its schedule and its items.
        assert (await h.feed("ce")).consecutive_failures == 0
        assert len(await h.items("ce")) == 1


async def test_server_errors_back_off_exponentially(database: Database, server: FeedServer) -> None:
    async with watch_harness(database, server, [feed_entry("ko", server.url("/status/500"))]) as h:
        delays = []
        for _ in range(4):
            await next_poll(h, "ko")
            report = await h.watcher.poll_due()
            assert report.of("ko").status == "failed"
            row = await h.feed("ko")
            assert row.next_poll_at is not None
            delays.append((row.next_poll_at - h.clock.now()) / timedelta(minutes=1))

        assert row.consecutive_failures == 4
        assert not row.paused
        assert "HTTP 500" in (row.last_error or "")
        for failure, delay in enumerate(delays):
            assert 2**failure <= delay <= 2**failure * 1.25


async def test_retry_after_is_honoured(database: Database, server: FeedServer) -> None:
    feed = feed_entry("busy", server.url("/status/503"), every="30s")
    async with watch_harness(database, server, [feed]) as h:
        await h.watcher.poll_due()
        row = await h.feed("busy")
        assert row.next_poll_at is not None
        assert row.next_poll_at - h.clock.now() >= timedelta(seconds=120)


async def test_a_success_after_failures_resets_the_count(
    database: Database, server: FeedServer
) -> None:
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        await h.watcher.poll_due()
        assert (await h.feed("ce")).consecutive_failures == 1
        publish(server, "ce", rss(MENTON))
        await next_poll(h, "ce")
        assert (await h.watcher.poll_due()).of("ce").status == "new"
        row = await h.feed("ce")
        assert row.consecutive_failures == 0
        assert row.last_success_at == h.clock.now()
        assert "HTTP 404" in (row.last_error or "")  # the last error stays visible


# --- bad input: each is recorded on its feed, the others go on -------------------------


BAD_FEEDS: dict[str, tuple[str, str]] = {
    # name: (path on the test server, what the recorded error says)
    "malformed-bomb": ("/feeds/bomb", "declares XML entities"),
    "quadratic": ("/feeds/quadratic", "declares XML entities"),
    "endless": ("/endless", "limit for a feed; stopped reading"),
    "gzip-bomb": ("/gzip-bomb", "limit for a feed"),
    "gzip-gzip-bomb": (
        "/gzip-gzip-bomb",
        "inflates past the 256 KiB limit for a feed (a compression bomb?)",
    ),
    "hangs": ("/hang", "no complete answer"),
    "drips": ("/drip", "no complete answer"),
    "redirect-loop": ("/redirect/loop/a", "redirect loop"),
    "redirect-chain": ("/redirect/chain/9", "redirects more than 5 times"),
    "no-location": ("/redirect/no-location", "without a Location header"),
    "not-a-feed": ("/feeds/html", "is not an RSS or Atom feed"),
    "empty": ("/feeds/empty", "is empty"),
}


@pytest.mark.parametrize("name", sorted(BAD_FEEDS))
async def test_bad_input_is_a_failure_of_that_feed_only(
    database: Database, server: FeedServer, name: str
) -> None:
    path, expected = BAD_FEEDS[name]
    server.feeds["quadratic"] = ServedFeed(quadratic_blowup(), "application/rss+xml", '"q"', "x")
    server.feeds["html"] = ServedFeed(load_fixture("not_a_feed.html"), "text/html", '"h"', "x")
    server.feeds["empty"] = ServedFeed(b"", "application/rss+xml", '"e"', "x")
    publish(server, "ce", rss())
    feeds = [feed_entry("bad", server.url(path)), feed_entry("ce", server.url("/feeds/ce"))]
    async with watch_harness(database, server, feeds, total_timeout=1.5, max_bytes=256 * 1024) as h:
        await h.watcher.poll_due()
        publish(server, "ce", rss(MENTON), version=2)
        h.clock.advance(timedelta(minutes=2))
        report = await h.watcher.poll_due()

        bad = report.of("bad")
        assert bad.status == "failed"
        assert expected in (bad.error or "")
        row = await h.feed("bad")
        assert row.consecutive_failures == 2
        assert expected in (row.last_error or "")
        assert await h.items("bad") == []
        # The good feed went on: its new item was stored and relayed.
        assert report.of("ce").announced == 1
        assert "Menton" in (await h.relayed())["italie"][0]


async def test_a_malformed_feed_keeps_its_complete_items(
    database: Database, server: FeedServer
) -> None:
    publish(server, "gisti", rss())
    async with watch_harness(
        database, server, [feed_entry("gisti", server.url("/feeds/gisti"))]
    ) as h:
        await h.watcher.poll_due()
        server.feeds["gisti"] = ServedFeed(
            load_fixture("malformed.rss"), "application/rss+xml", '"gisti-v2"', "x"
        )
        await h.later(timedelta(minutes=2))
        report = await h.watcher.poll_due()

        assert report.of("gisti").status == "new"
        assert report.announced == 2
        titles = [item.title for item in await h.items("gisti")]
        assert len(titles) == 2
        assert not any("tronq" in title for title in titles)
        row = await h.feed("gisti")
        assert row.consecutive_failures == 0
        assert "not well-formed" in (row.last_error or "")


async def test_a_latin1_feed_served_as_bare_xml_is_relayed_with_its_accents(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ddd", rss())
    async with watch_harness(database, server, [feed_entry("ddd", server.url("/feeds/ddd"))]) as h:
        await h.watcher.poll_due()
        server.feeds["ddd"] = ServedFeed(
            load_fixture("defenseur_latin1.rss"), "text/xml", '"ddd-v2"', "x"
        )
        await h.later(timedelta(minutes=2))
        assert (await h.watcher.poll_due()).announced == 2

        italie = (await h.relayed())["italie"]
        assert "| Mineurs isolés étrangers à Menton : la Défenseure des droits" in italie[0]
        assert "Hébergement d'urgence à Briançon" in italie[1]


async def test_a_hanging_feed_does_not_hold_up_the_others(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    feeds = [feed_entry("slow", server.url("/hang")), feed_entry("ce", server.url("/feeds/ce"))]
    async with watch_harness(database, server, feeds, total_timeout=2) as h:
        first = asyncio.create_task(h.watcher.poll_due())

        async def good_feed_polled() -> bool:
            return (await h.feed("ce")).last_success_at is not None

        await eventually(good_feed_polled)
        publish(server, "ce", rss(MENTON), version=2)
        await h.later(timedelta(minutes=2))

        second = await h.watcher.poll_due()

        # The good feed is polled on its schedule while the slow one still hangs, and the
        # slow one is not started a second time.
        assert not first.done()
        assert [outcome.feed_id for outcome in second.outcomes] == ["ce"]
        assert second.announced == 1
        assert server.hits["/hang"] == 1
        slow = (await first).of("slow")
        assert slow.status == "failed"
        assert "no complete answer" in (slow.error or "")


async def test_a_feed_too_slow_to_parse_is_refused_and_the_others_are_announced(
    database: Database, server: FeedServer
) -> None:
    # 300,000 nested tags: seconds of feedparser CPU, well past a 1 s deadline.
    server.feeds["nested"] = ServedFeed(nested_tags(), "application/rss+xml", '"n"', "x")
    publish(server, "ce", rss(MENTON))
    feeds = [
        feed_entry("nested", server.url("/feeds/nested")),
        feed_entry("ce", server.url("/feeds/ce")),
    ]
    async with watch_harness(database, server, feeds, announce_first=1, parse_timeout="1s") as h:
        report = await h.watcher.poll_due()

        nested = report.of("nested")
        assert nested.status == "failed"
        assert "took longer than 1 s to parse; refused" in (nested.error or "")
        row = await h.feed("nested")
        assert row.consecutive_failures == 1
        assert row.next_poll_at is not None
        assert row.next_poll_at > h.clock.now()  # backed off like any failure
        assert "took longer than 1 s to parse" in (row.last_error or "")
        # The other feed polled at the same time was parsed and announced.
        assert report.of("ce").announced == 1
        assert "Menton" in (await h.relayed())["italie"][0]


async def test_the_parsing_process_is_replaced_after_an_overrun(
    database: Database, server: FeedServer
) -> None:
    server.feeds["nested"] = ServedFeed(nested_tags(), "application/rss+xml", '"n"', "x")
    publish(server, "ce", rss())
    feeds = [feed_entry("ce", server.url("/feeds/ce"))]
    async with watch_harness(database, server, feeds, parse_timeout="1s") as h:
        parser = h.parser
        await h.watcher.poll_due()
        first = parser.pid
        assert first is not None
        with pytest.raises(FeedParseError, match="took longer than 1 s"):
            await parser.parse(server.feeds["nested"].body, None, "http://feeds.test/nested")
        assert parser.pid is None  # killed, not left running
        publish(server, "ce", rss(MENTON), version=2)
        await h.later(timedelta(minutes=2))
        assert (await h.watcher.poll_due()).announced == 1
        assert parser.pid not in (None, first)


async def test_a_redirect_to_a_private_or_metadata_address_is_refused(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    transport = HostMapTransport({"feeds.test": ("127.0.0.1", server.port)})
    resolver = static_resolver(
        {
            "feeds.test": [PUBLIC_IP],
            "127.0.0.1": ["127.0.0.1"],
            "169.254.169.254": ["169.254.169.254"],
        }
    )
    to_loopback = f"http://feeds.test/redirect/to?location=http://127.0.0.1:{server.port}/feeds/ce"
    to_metadata = "http://feeds.test/redirect/to?location=http://169.254.169.254/latest/meta-data/"
    feeds = [
        feed_entry("loopback", to_loopback),
        feed_entry("metadata", to_metadata),
        feed_entry("direct", f"http://127.0.0.1:{server.port}/feeds/ce"),
        feed_entry("public", "http://feeds.test/feeds/ce"),
    ]
    async with watch_harness(
        database, server, feeds, transport=transport, resolver=resolver, allow_private=False
    ) as h:
        report = await h.watcher.poll_due()

        assert "a loopback address" in (report.of("loopback").error or "")
        assert "a link-local address" in (report.of("metadata").error or "")
        assert "a loopback address" in (report.of("direct").error or "")
        assert report.of("public").status == "new"
        assert server.hits["/feeds/ce"] == 1  # only the public feed reached the server
        # Public hosts are polled at most every 5 minutes, whatever `every` says.
        row = await h.feed("public")
        assert row.next_poll_at is not None
        assert row.next_poll_at - h.clock.now() >= timedelta(minutes=5)


async def test_allow_private_lets_loopback_through_but_never_the_metadata_service(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    to_metadata = server.url("/redirect/to?location=http://169.254.169.254/latest/meta-data/")
    feeds = [feed_entry("metadata", to_metadata), feed_entry("ce", server.url("/feeds/ce"))]
    async with watch_harness(database, server, feeds, allow_private=True) as h:
        report = await h.watcher.poll_due()
        assert report.of("ce").status == "new"
        assert "never fetched, even with allow_private" in (report.of("metadata").error or "")


class ExplodingTransport(httpx.AsyncBaseTransport):
    """A transport with a bug for one host: the watcher must survive what it cannot name."""

    def __init__(self, host: str) -> None:
        self._host = host
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self._host:
            raise RuntimeError("kaboom")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_an_unexpected_error_counts_as_a_failure_and_the_watcher_goes_on(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    resolver = static_resolver({"boom.test": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"]})
    feeds = [feed_entry("boom", "http://boom.test/feed"), feed_entry("ce", server.url("/feeds/ce"))]
    async with watch_harness(
        database, server, feeds, transport=ExplodingTransport("boom.test"), resolver=resolver
    ) as h:
        report = await h.watcher.poll_due()
        assert report.of("ce").status == "new"
        assert report.of("boom").status == "failed"
        row = await h.feed("boom")
        assert row.consecutive_failures == 1
        assert row.last_error == "unexpected error (RuntimeError); see the logs"


# --- the run loop -------------------------------------------------------------------------


async def eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (at most 10 s) until ``condition`` holds: the run loop works on its own."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_the_run_loop_polls_due_feeds_and_stops(
    database: Database, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    async with watch_harness(database, server, [feed_entry("ce", server.url("/feeds/ce"))]) as h:
        running = asyncio.create_task(h.watcher.run())

        async def first_poll_recorded() -> bool:
            return (await h.feed("ce")).initialised

        await eventually(first_poll_recorded)
        publish(server, "ce", rss(MENTON), version=2)
        await h.later(timedelta(minutes=2))
        h.watcher.wake()  # as the clock jumped; real time would have woken it anyway

        async def announced() -> bool:
            return len(await h.deliveries()) > 0

        await eventually(announced)
        h.watcher.stop()
        await asyncio.wait_for(running, 5)
        assert server.hits["/feeds/ce"] == 2
