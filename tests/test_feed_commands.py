"""Feed commands and announcements through the whole bot, driven on the console relay.

Feeds are served by the local test server; "public" hosts are mapped to it by a static
resolver and a host-mapping transport, as DNS would in production.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typing_extensions import override

from alerts.clock import ManualClock
from bot.app import Application, Wiring, build
from feeds.addresses import Resolver
from feeds.pinning import PinnedTransport
from storage.database import open_database
from storage.models import Feed
from tests.feed_server import FeedServer, HostMapTransport, LoopbackNetwork, static_resolver
from tests.support.console import config_from, printed_messages
from tests.support.feeds import Entry, feed_entry, publish, rss, watch_raw

PUBLIC_IP = "93.184.215.14"
RESOLVER = static_resolver(
    {
        "127.0.0.1": ["127.0.0.1"],
        "169.254.169.254": ["169.254.169.254"],
        "intranet.test": ["10.1.2.3"],
        "www.lacimade.org": [PUBLIC_IP],
        "www.senat.fr": [PUBLIC_IP],
    }
)

Prepare = Callable[[Wiring], Awaitable[None]]


class NeverAnswers(httpx.AsyncBaseTransport):
    """For feeds on public names: a poll stays in flight, nothing resolves a name or
    leaves the machine, and no poll outcome races the commands under test."""

    @override
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()


async def chat(
    database_url: str,
    lines: Sequence[str],
    *,
    raw: dict[str, Any],
    clock: ManualClock | None = None,
    prepare: Prepare | None = None,
    resolver: Resolver = RESOLVER,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """Run the bot on the console with ``lines`` typed in; return the printed messages."""
    pending = [line + "\n" for line in lines]
    # Public names never leave the machine: only loopback is dialled.
    transport = transport or PinnedTransport(LoopbackNetwork())
    output = io.StringIO()
    wiring = await build(
        config_from(raw, database_url),
        clock=clock or ManualClock(),
        console_output=output,
        console_input=lambda: pending.pop(0) if pending else "",
        database=await open_database(database_url),
        feed_resolver=resolver,
        feed_transport=transport,
    )
    if prepare is not None:
        await prepare(wiring)
    await Application(wiring).run()
    return printed_messages(output.getvalue())


async def stored_feeds(database_url: str) -> list[Feed]:
    database = await open_database(database_url)
    try:
        async with database.sessions() as session:
            return list(await session.scalars(select(Feed).order_by(Feed.id)))
    finally:
        await database.close()


def replies(lines: list[str], user: str = "coord") -> list[str]:
    return [line.removeprefix(f"[{user}] ") for line in lines if line.startswith(f"[{user}]")]


# --- /feed add: the address check --------------------------------------------------------


async def test_feed_add_refuses_private_and_metadata_addresses(database_url: str) -> None:
    lines = await chat(
        database_url,
        [
            "/feed add http://127.0.0.1:8080/rss.xml",
            "/feed add http://169.254.169.254/latest/meta-data/",
            "/feed add http://intranet.test/flux.xml asile",
            "/feed add ftp://www.lacimade.org/feed/",
            "/feed add https://unknown-host.test/feed",
            "/feeds",
        ],
        raw=watch_raw([], allow_private=False),
    )
    answers = replies(lines)
    assert answers[0].startswith("Flux refusé : cette adresse mène à un réseau privé ou réservé")
    assert "127.0.0.1, a loopback address" in answers[0]
    assert "169.254.169.254, a link-local address" in answers[1]
    assert "10.1.2.3, a private-network address" in answers[2]
    assert answers[3].startswith("Adresse invalide : ftp://www.lacimade.org/feed/.")
    assert answers[4].startswith("Flux refusé : impossible de trouver le serveur")
    assert answers[5].startswith("Aucun flux n'est surveillé.")
    assert await stored_feeds(database_url) == []  # nothing was stored


async def test_allow_private_accepts_loopback_but_never_the_metadata_service(
    database_url: str,
) -> None:
    lines = await chat(
        database_url,
        [
            "/feed add http://127.0.0.1:8080/rss.xml",
            "/feed add http://169.254.169.254/latest/meta-data/",
        ],
        raw=watch_raw([], allow_private=True),
    )
    answers = replies(lines)
    assert answers[0].startswith("✅ Flux 127-0-0-1 ajouté (toutes les 30m).")
    assert "never fetched, even with allow_private" in answers[1]
    assert [feed.url for feed in await stored_feeds(database_url)] == [
        "http://127.0.0.1:8080/rss.xml"
    ]


# --- /feed add, /feeds, /feed remove ------------------------------------------------------


async def test_a_coordinator_adds_lists_and_removes_a_feed(database_url: str) -> None:
    lines = await chat(
        database_url,
        [
            "/feed add https://www.lacimade.org/feed/ criminalisation #manche 2h",
            "/feed add https://www.lacimade.org/feed/",
            "/feed add https://www.senat.fr/rss/presse.rss nimportequoi",
            "/feed",
            "/feeds",
        ],
        raw=watch_raw([], allow_private=False),
        transport=NeverAnswers(),
    )
    answers = replies(lines)
    assert answers[0].startswith("✅ Flux lacimade-org ajouté (toutes les 2h).")
    assert answers[1] == "Ce flux est déjà surveillé sous l'identifiant lacimade-org."
    assert answers[2].startswith("Thème ou frontière inconnu : nimportequoi. Thèmes : refoulement")
    assert answers[3].startswith("Usage : /feed add <url>")
    listing = answers[4]
    assert listing.startswith("📰 Flux surveillés (1) :")
    assert "• lacimade-org — https://www.lacimade.org/feed/ (ajouté depuis le chat" in listing
    assert "frontières et thèmes : manche, criminalisation" in listing
    assert "dernier succès : jamais · prochaine relève : 24/11 10:00" in listing

    (feed,) = await stored_feeds(database_url)
    assert (feed.source, feed.added_by, feed.every_seconds) == ("chat", "console:coord", 7200)
    assert not feed.initialised  # its first poll will be silent

    lines = await chat(
        database_url,
        ["/feed remove lacimade-org", "/feed remove lacimade-org", "/feeds"],
        raw=watch_raw([], allow_private=False),
    )
    assert replies(lines) == [
        "🗑 Flux lacimade-org retiré.",
        "Flux inconnu : lacimade-org. /feeds donne la liste.",
        "Aucun flux n'est surveillé. Ajoutez-en un : /feed add <url> [thèmes…]",
    ]
    assert await stored_feeds(database_url) == []


async def test_an_observer_cannot_manage_feeds_but_can_list_them(database_url: str) -> None:
    raw = watch_raw([], allow_private=False)
    raw["console"] = {"interactive": True, "user": "obs"}
    typed = ["/feed add https://www.lacimade.org/feed/", "/feeds"]
    lines = await chat(database_url, typed, raw=raw)
    assert replies(lines, "obs") == [
        "Cette commande demande le rôle coordinator (vous êtes observer).",
        "Aucun flux n'est surveillé. Ajoutez-en un : /feed add <url> [thèmes…]",
    ]
    assert await stored_feeds(database_url) == []


async def test_feed_commands_answer_in_english_for_an_english_member(database_url: str) -> None:
    raw = watch_raw([], allow_private=False)
    raw["console"] = {"interactive": True, "user": "anglo"}
    lines = await chat(
        database_url, ["/feeds", "/feed add http://127.0.0.1/feed", "/feed remove x"], raw=raw
    )
    answers = replies(lines, "anglo")
    assert answers[0] == "No feed is watched. Add one: /feed add <url> [themes…]"
    assert answers[1].startswith("Feed refused: this address leads to a private or reserved")
    assert answers[2] == "Unknown feed: x. /feeds lists them."


# --- configured feeds: state, pause, resume ---------------------------------------------


async def test_feeds_shows_last_success_last_error_and_next_poll(
    database_url: str, server: FeedServer
) -> None:
    publish(server, "ce", rss())
    feeds = [
        feed_entry("ce", server.url("/feeds/ce"), name="Conseil d'État", themes=["juridique"]),
        feed_entry("gone", server.url("/feeds/gone")),
    ]

    async def poll(wiring: Wiring) -> None:
        assert wiring.feeds is not None
        await wiring.feeds.watcher.sync()
        await wiring.feeds.watcher.poll_due()

    lines = await chat(
        database_url, ["/feeds", "/feed remove ce"], raw=watch_raw(feeds), prepare=poll
    )
    listing, removal = replies(lines)
    assert listing.startswith("📰 Flux surveillés (2) :")
    # ManualClock: 24/11 09:00 UTC is 10:00 in Paris; polls every minute, jittered +10 %.
    assert "• ce — Conseil d'État (configuration, toutes les 1m)" in listing
    assert "frontières et thèmes : juridique" in listing
    assert "dernier succès : 24/11 10:00 · prochaine relève : 24/11 10:01" in listing
    assert "• gone — " in listing
    assert "dernier succès : jamais" in listing
    assert "dernière erreur (24/11 10:00) : " in listing
    assert "HTTP 404 Not Found" in listing
    assert removal == (
        "Le flux ce est défini dans le fichier de configuration : retirez-le de ce fichier."
    )


async def test_a_paused_feed_is_told_once_and_resumed_from_chat(
    database_url: str, server: FeedServer
) -> None:
    feeds = [feed_entry("gone", server.url("/feeds/gone"))]
    clock = ManualClock()

    async def fail_twice(wiring: Wiring) -> None:
        assert wiring.feeds is not None
        await wiring.feeds.watcher.sync()
        await wiring.feeds.watcher.poll_due()
        clock.advance(timedelta(hours=1))
        await wiring.feeds.watcher.poll_due()

    raw = watch_raw(feeds, pause_after=2)
    lines = await chat(
        database_url,
        ["/feeds", "/feed resume gone", "/feed resume gone"],
        raw=raw,
        clock=clock,
        prepare=fail_twice,
    )
    notices = [line for line in lines if line.startswith("[admin] ⚠️ Le flux gone")]
    assert len(notices) == 1
    assert "en pause après 2 échecs consécutifs" in notices[0]
    listing, resumed, again = replies(lines)
    assert "⏸ en pause après 2 échecs — /feed resume gone" in listing
    assert resumed == "▶️ Flux gone relancé : prochaine relève d'ici une minute."
    assert again == "Le flux gone n'est pas en pause."
    (feed,) = await stored_feeds(database_url)
    assert not feed.paused
    assert not feed.pause_notified
    assert feed.consecutive_failures == 0


async def test_a_feed_password_is_never_shown_in_chat(
    database_url: str, server: FeedServer
) -> None:
    secret_url = f"http://veille:s3cret-Pa55@127.0.0.1:{server.port}/feeds/gone"
    clock = ManualClock()

    async def fail_once(wiring: Wiring) -> None:
        assert wiring.feeds is not None
        await wiring.feeds.watcher.sync()
        await wiring.feeds.watcher.poll_due()

    raw = watch_raw([feed_entry("gone", secret_url)], pause_after=1)
    raw["console"] = {"interactive": True, "user": "obs"}
    lines = await chat(database_url, ["/feeds"], raw=raw, clock=clock, prepare=fail_once)
    raw["console"] = {"interactive": True, "user": "coord"}
    lines += await chat(
        database_url,
        [
            "/feed add https://veille:s3cret-Pa55@unknown-host.test/feed",
            "/feed add https://veille:s3cret-Pa55@intranet.test/feed",
            "/feed add https://veille:s3cret-Pa55@/feed",
        ],
        raw=raw,
        clock=clock,
    )

    assert server.requests_headers[-1]["Authorization"].startswith("Basic ")  # still used
    text = "\n".join(lines)
    notice = next(line for line in lines if line.startswith("[admin] ⚠️ Le flux gone"))
    assert f"(http://127.0.0.1:{server.port}/feeds/gone)" in notice
    assert f"  http://127.0.0.1:{server.port}/feeds/gone" in text  # /feeds, for observers
    assert "impossible de trouver le serveur de https://unknown-host.test/feed" in text
    assert "✅ Flux intranet-test ajouté" in text  # allow_private: stored with its password
    assert "https://veille:s3cret-Pa55@intranet.test/feed" in [
        feed.url for feed in await stored_feeds(database_url)
    ]
    assert "Adresse invalide : https:///feed." in text
    assert "s3cret-Pa55" not in text
    assert "veille" not in text


# --- announcements reach the console channels -------------------------------------------


async def test_new_items_are_relayed_to_the_subscribed_console_channels_only(
    database_url: str, server: FeedServer
) -> None:
    publish(server, "ddd", rss(Entry("old", "Ancien communiqué")))
    clock = ManualClock()
    transport = HostMapTransport({"www.defenseurdesdroits.fr": ("127.0.0.1", server.port)})
    resolver = static_resolver({"www.defenseurdesdroits.fr": [PUBLIC_IP]})
    feeds = [feed_entry("ddd", "http://www.defenseurdesdroits.fr/feeds/ddd", name="Défenseur")]

    async def publish_and_poll(wiring: Wiring) -> None:
        assert wiring.feeds is not None
        watcher = wiring.feeds.watcher
        await watcher.sync()
        await watcher.poll_due()  # the first poll records "old" silently
        publish(
            server,
            "ddd",
            rss(
                Entry("za", "Mineurs enfermés en zone d'attente à Roissy : <b>rapport</b>"),
                Entry("v", "Vintimille & Menton : refoulement de mineurs", link="https://d.test/v"),
                Entry("old", "Ancien communiqué"),
            ),
            version=2,
        )
        clock.advance(timedelta(minutes=10))
        await watcher.poll_due()

    lines = await chat(
        database_url,
        [],
        raw=watch_raw(feeds, allow_private=False),
        clock=clock,
        prepare=publish_and_poll,
        resolver=resolver,
        transport=transport,
    )
    by_channel: dict[str, list[str]] = {}
    for line in lines:
        address, _, text = line.partition("] ")
        by_channel.setdefault(address.lstrip("["), []).append(text)
    assert set(by_channel) == {"italie", "partout"}  # no channel for the waiting zones
    assert by_channel["italie"] == [
        "📰 Annonce · Défenseur\n\nVintimille & Menton : refoulement de mineurs (https://d.test/v)"
        "\n\nFrontières : Frontière franco-italienne · Thèmes : Refoulements, Mineurs"
    ]
    # Oldest first; the feed's HTML arrives reduced to its text.
    assert by_channel["partout"][0].startswith("📰 Annonce · Défenseur\n\nVintimille & Menton")
    assert "Mineurs enfermés en zone d'attente à Roissy : rapport" in by_channel["partout"][1]
    assert not any("Ancien communiqué" in line for line in lines)
