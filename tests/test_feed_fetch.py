"""FeedFetcher and the address guard, against a real local HTTP server.

The test server listens on 127.0.0.1, so most tests run with allow_private=True. The
"public only" rule is tested honestly with a public-looking name: a static resolver says
``feeds.test`` is 93.184.215.14 (what the guard checks), the fetcher's own pinned
transport dials that address, and the test network under it (``LoopbackNetwork``) carries
the connection to the local server, recording every address dialled. A redirect from
there to 127.0.0.1 must then be refused, and the server must never see the request; a
resolver that changes its answer after the check (DNS rebinding) must never be followed.
Link-local targets (169.254.169.254, the cloud metadata service) are refused even with
allow_private=True: that hardening is tested directly.
"""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
import pytest

from feeds.addresses import UnsafeFeedAddress, check_public_url
from feeds.fetch import (
    DEFAULT_MAX_BYTES,
    FeedFetcher,
    FeedFetchError,
    FetchSettings,
    HostLimiter,
    make_feed_http_client,
)
from tests.feed_server import (
    FeedServer,
    LoopbackNetwork,
    load_fixture,
    static_resolver,
)

PUBLIC_IP = "93.184.215.14"
OTHER_PUBLIC_IP = "93.184.215.15"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    yield feed_server
    await feed_server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_feed_http_client() as http_client:
        yield http_client


def local_fetcher(
    client: httpx.AsyncClient, *, max_bytes: int = DEFAULT_MAX_BYTES, total_timeout: float = 30.0
) -> FeedFetcher:
    settings = FetchSettings(max_bytes=max_bytes, total_timeout=total_timeout, allow_private=True)
    return FeedFetcher(client, settings)


async def fetch_error(fetcher: FeedFetcher, url: str) -> FeedFetchError:
    with pytest.raises(FeedFetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


# --- successful and conditional fetches -------------------------------------------------


async def test_fetch_returns_body_validators_and_content_type(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    url = server.url("/feeds/conseil_etat")
    result = await local_fetcher(client).fetch(url)

    assert result.status == "ok"
    assert result.body == load_fixture("conseil_etat.rss")
    assert result.final_url == url
    assert result.etag == '"ce-v1"'
    assert result.last_modified == "Tue, 14 Jan 2025 09:30:00 GMT"
    assert result.content_type == "application/rss+xml; charset=utf-8"
    sent = server.requests_headers[-1]
    assert sent["User-Agent"].startswith("Tocsin/")
    assert sent["User-Agent"].endswith("(+feed watcher)")


async def test_matching_etag_gives_not_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    fetcher = local_fetcher(client)
    url = server.url("/feeds/conseil_etat")
    first = await fetcher.fetch(url)

    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)

    assert second.status == "not_modified"
    assert second.body == b""
    assert second.etag == '"ce-v1"'
    assert second.last_modified == first.last_modified
    assert server.requests_headers[-1]["If-None-Match"] == '"ce-v1"'
    assert server.requests_headers[-1]["If-Modified-Since"] == first.last_modified


async def test_matching_last_modified_alone_gives_not_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    result = await local_fetcher(client).fetch(
        server.url("/feeds/echr"), last_modified="Tue, 14 Jan 2025 09:30:00 GMT"
    )
    assert result.status == "not_modified"


async def test_stale_etag_gets_the_full_feed(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await local_fetcher(client).fetch(server.url("/feeds/echr"), etag='"echr-v0"')
    assert result.status == "ok"
    assert result.body == load_fixture("echr.atom")
    assert result.etag == '"echr-v1"'


# --- HTTP errors -------------------------------------------------------------------------


async def test_server_error_is_an_http_status_error(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(local_fetcher(client), server.url("/status/500"))
    assert error.kind == "http_status"
    assert error.status_code == 500
    assert "answered HTTP 500 Internal Server Error" in str(error)


async def test_not_found_says_the_feed_may_have_moved(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(local_fetcher(client), server.url("/feeds/nope"))
    assert (error.kind, error.status_code) == ("http_status", 404)
    assert "may have moved or been removed" in str(error)


async def test_unavailable_carries_retry_after(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(local_fetcher(client), server.url("/status/503"))
    assert error.kind == "http_status"
    assert error.retry_after == 120


# --- time and size limits ----------------------------------------------------------------


async def test_server_that_never_answers_times_out(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    error = await fetch_error(local_fetcher(client, total_timeout=0.5), server.url("/hang"))

    assert error.kind == "timeout"
    assert "within 0.5 s" in str(error)
    assert time.monotonic() - started < 3


async def test_trickling_server_hits_the_total_deadline(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # A byte every 50 ms never trips httpx's 20 s read timeout; only the total deadline
    # stops it.
    error = await fetch_error(local_fetcher(client, total_timeout=0.5), server.url("/drip"))
    assert error.kind == "timeout"


async def test_endless_body_is_cut_at_the_cap(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(local_fetcher(client, max_bytes=64 * 1024), server.url("/endless"))

    assert error.kind == "too_large"
    assert "more than the 64 KiB limit" in str(error)
    # The connection was dropped: the server stops being able to send soon after.
    await asyncio.sleep(0.2)
    sent = server.endless_bytes_sent
    await asyncio.sleep(0.2)
    assert server.endless_bytes_sent == sent
    assert sent < 16 * 1024 * 1024


async def test_announced_size_over_the_cap_is_refused_without_reading(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(
        local_fetcher(client, max_bytes=1024), server.url("/feeds/conseil_etat")
    )
    assert error.kind == "too_large"
    assert "announces" in str(error)
    assert "1 KiB limit" in str(error)


async def test_gzip_body_is_capped_after_decompression(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(local_fetcher(client, max_bytes=64 * 1024), server.url("/gzip-bomb"))
    assert error.kind == "too_large"


async def test_a_gzip_of_gzip_bomb_is_refused_without_inflating_it(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # ~2.5 kB on the wire, 1 GiB once both gzip layers are undone.
    fetcher = local_fetcher(client)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        error = await fetch_error(fetcher, server.url("/gzip-gzip-bomb"))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()

    assert error.kind == "too_large"
    assert "inflates past the 5 MiB limit for a feed" in str(error)
    assert "compression bomb" in str(error)
    # The cap (5 MiB) plus a few 64 KiB steps; the server's own 1 MB inner layer is
    # counted too. Before, the whole gigabyte was inflated in one call.
    assert peak < DEFAULT_MAX_BYTES + 50 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "identity", "gzip, gzip"])
async def test_compressed_bodies_are_decoded(
    server: FeedServer, client: httpx.AsyncClient, coding: str
) -> None:
    result = await local_fetcher(client).fetch(server.url(f"/encoded?coding={coding}"))
    assert result.body == load_fixture("conseil_etat.rss")


@pytest.mark.parametrize(
    ("coding", "reason"),
    [
        ("br", "encoded with br, which Tocsin did not ask for and does not decode"),
        ("gzip, zstd", "encoded with zstd, which Tocsin did not ask for"),
        ("gzip, gzip, gzip", "compressed 3 times over (gzip, gzip, gzip); refused"),
    ],
)
async def test_unasked_or_stacked_codings_are_refused(
    server: FeedServer, client: httpx.AsyncClient, coding: str, reason: str
) -> None:
    error = await fetch_error(local_fetcher(client), server.url(f"/encoded?coding={coding}"))
    assert error.kind == "network"
    assert reason in str(error)


# --- redirects -------------------------------------------------------------------------


async def test_redirects_are_followed_and_each_hop_requested_once(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    result = await local_fetcher(client).fetch(server.url("/redirect/chain/3"))

    assert result.status == "ok"
    assert result.final_url == server.url("/feeds/conseil_etat")
    for path in (
        "/redirect/chain/3",
        "/redirect/chain/2",
        "/redirect/chain/1",
        "/redirect/chain/0",
        "/feeds/conseil_etat",
    ):
        assert server.hits[path] == 1


async def test_five_redirects_are_allowed_six_are_not(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    fetcher = local_fetcher(client)
    assert (await fetcher.fetch(server.url("/redirect/chain/4"))).status == "ok"  # 5 hops

    error = await fetch_error(fetcher, server.url("/redirect/chain/5"))  # 6 hops
    assert error.kind == "redirect"
    assert "more than 5 times" in str(error)


async def test_redirect_loop_is_detected(server: FeedServer, client: httpx.AsyncClient) -> None:
    error = await fetch_error(local_fetcher(client), server.url("/redirect/loop/a"))

    assert error.kind == "redirect"
    assert str(error).startswith("redirect loop: ")
    assert "/redirect/loop/a -> " in str(error)
    assert "/redirect/loop/b" in str(error)
    assert server.hits["/redirect/loop/a"] == 1


async def test_redirect_without_location(server: FeedServer, client: httpx.AsyncClient) -> None:
    error = await fetch_error(local_fetcher(client), server.url("/redirect/no-location"))
    assert error.kind == "redirect"
    assert "without a Location header" in str(error)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fe80::1]/",
    ],
)
async def test_redirect_to_metadata_service_is_refused_even_with_allow_private(
    server: FeedServer, client: httpx.AsyncClient, target: str
) -> None:
    started = time.monotonic()
    url = server.url("/redirect/to?" + str(httpx.QueryParams({"location": target})))
    error = await fetch_error(local_fetcher(client), url)

    assert error.kind == "unsafe_address"
    assert "link-local" in str(error)
    assert "never fetched, even with allow_private" in str(error)
    # Refused before any connection attempt (which would hang on an unroutable address).
    assert time.monotonic() - started < 1


async def test_redirect_to_another_scheme_is_refused(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    error = await fetch_error(
        local_fetcher(client), server.url("/redirect/to?location=file:///etc/passwd")
    )
    assert error.kind == "unsafe_address"
    assert "only http and https" in str(error)


@pytest.fixture
def network(server: FeedServer) -> LoopbackNetwork:
    """Public-looking addresses lead to the local server, as the Internet would."""
    local = ("127.0.0.1", server.port)
    return LoopbackNetwork({PUBLIC_IP: local, OTHER_PUBLIC_IP: local})


@pytest.fixture
async def public_looking_client(network: LoopbackNetwork) -> AsyncIterator[httpx.AsyncClient]:
    async with make_feed_http_client(network=network) as http_client:
        yield http_client


def public_fetcher(http_client: httpx.AsyncClient, table: dict[str, list[str]]) -> FeedFetcher:
    return FeedFetcher(
        http_client, FetchSettings(allow_private=False), resolver=static_resolver(table)
    )


async def test_public_host_is_fetched_when_private_addresses_are_forbidden(
    server: FeedServer, public_looking_client: httpx.AsyncClient
) -> None:
    fetcher = public_fetcher(public_looking_client, {"feeds.test": [PUBLIC_IP]})
    result = await fetcher.fetch("http://feeds.test/feeds/conseil_etat")
    assert result.status == "ok"
    assert server.requests_headers[-1]["Host"] == "feeds.test"


def rebinding_resolver(
    first: dict[str, list[str]], later: dict[str, list[str]]
) -> tuple[list[str], FeedFetcherResolver]:
    """A hostile DNS server: each host's first answer is ``first``, every later one
    ``later`` (what a rebinding attack serves once the check has passed)."""
    asked: list[str] = []

    async def resolve(host: str, _port: int) -> Sequence[str]:
        asked.append(host)
        return (later if asked.count(host) > 1 else first)[host]

    return asked, resolve


FeedFetcherResolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def test_the_connection_goes_to_the_checked_address_not_a_second_answer(
    server: FeedServer, network: LoopbackNetwork, public_looking_client: httpx.AsyncClient
) -> None:
    asked, resolver = rebinding_resolver({"feeds.test": [PUBLIC_IP]}, {"feeds.test": ["10.0.0.7"]})
    fetcher = FeedFetcher(public_looking_client, FetchSettings(allow_private=False), resolver)

    result = await fetcher.fetch("http://feeds.test/feeds/conseil_etat")

    assert result.status == "ok"
    assert asked == ["feeds.test"]  # resolved once, by the guard
    assert network.dialled == [(PUBLIC_IP, 80)]  # the checked address, by number
    assert server.requests_headers[-1]["Host"] == "feeds.test"


@pytest.mark.usefixtures("server")
async def test_every_redirect_hop_connects_to_its_own_checked_address(
    network: LoopbackNetwork, public_looking_client: httpx.AsyncClient
) -> None:
    asked, resolver = rebinding_resolver(
        {"feeds.test": [PUBLIC_IP], "mirror.test": [OTHER_PUBLIC_IP]},
        {"feeds.test": ["127.0.0.1"], "mirror.test": ["169.254.169.254"]},
    )
    fetcher = FeedFetcher(public_looking_client, FetchSettings(allow_private=False), resolver)

    result = await fetcher.fetch(
        "http://feeds.test/redirect/to?location=http://mirror.test/feeds/echr"
    )

    assert result.body == load_fixture("echr.atom")
    assert asked == ["feeds.test", "mirror.test"]
    assert network.dialled == [(PUBLIC_IP, 80), (OTHER_PUBLIC_IP, 80)]


async def test_a_rebinding_name_on_loopback_reaches_only_the_checked_server(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # The production sockets this time: a second server listens on 127.0.0.2, same port,
    # standing for the private service a rebinding attack aims at.
    decoy = FeedServer(host="127.0.0.2")
    await decoy.start(server.port)
    try:
        asked, resolver = rebinding_resolver(
            {"feeds.test": ["127.0.0.1"]}, {"feeds.test": ["127.0.0.2"]}
        )
        fetcher = FeedFetcher(client, FetchSettings(allow_private=True), resolver)
        for _ in range(3):  # new connections and a kept-alive one alike
            result = await fetcher.fetch(f"http://feeds.test:{server.port}/feeds/echr")
            assert result.body == load_fixture("echr.atom")
    finally:
        await decoy.stop()
    assert server.hits["/feeds/echr"] == 3
    assert decoy.hits["/feeds/echr"] == 0
    assert len(asked) == 3  # each fetch checked the name again...


async def test_only_checked_addresses_are_ever_dialled(client: httpx.AsyncClient) -> None:
    # A request sent without going through the guard finds no pinned address.
    with pytest.raises(httpx.ConnectError, match="not an address the feed guard checked"):
        await client.get("http://127.0.0.1:9/")


async def test_redirect_to_loopback_is_refused_and_never_requested(
    server: FeedServer, public_looking_client: httpx.AsyncClient
) -> None:
    fetcher = public_fetcher(
        public_looking_client, {"feeds.test": [PUBLIC_IP], "127.0.0.1": ["127.0.0.1"]}
    )
    target = f"http://127.0.0.1:{server.port}/feeds/conseil_etat"

    error = await fetch_error(fetcher, f"http://feeds.test/redirect/to?location={target}")

    assert error.kind == "unsafe_address"
    assert "127.0.0.1, a loopback address" in str(error)
    assert "unless allow_private is set" in str(error)
    assert server.hits["/redirect/to"] == 1
    assert server.hits["/feeds/conseil_etat"] == 0


@pytest.mark.usefixtures("server")
async def test_redirect_to_a_name_resolving_to_a_private_network_is_refused(
    public_looking_client: httpx.AsyncClient,
) -> None:
    fetcher = public_fetcher(
        public_looking_client,
        {"feeds.test": [PUBLIC_IP], "intranet.test": [PUBLIC_IP, "10.0.0.5"]},
    )
    error = await fetch_error(
        fetcher, "http://feeds.test/redirect/to?location=http://intranet.test/admin"
    )
    assert error.kind == "unsafe_address"
    assert "10.0.0.5, a private-network address" in str(error)


async def test_loopback_feed_is_refused_without_allow_private(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    fetcher = FeedFetcher(client, FetchSettings(allow_private=False))
    error = await fetch_error(fetcher, server.url("/feeds/conseil_etat"))
    assert error.kind == "unsafe_address"
    assert server.hits["/feeds/conseil_etat"] == 0


# --- network failures --------------------------------------------------------------------


async def test_closed_port_is_a_network_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = await fetch_error(local_fetcher(client), f"http://127.0.0.1:{port}/feed")
    assert error.kind == "network"
    assert f"could not fetch http://127.0.0.1:{port}/feed" in str(error)


async def test_unknown_host_is_a_network_error(client: httpx.AsyncClient) -> None:
    fetcher = FeedFetcher(client, FetchSettings(), resolver=static_resolver({}))
    error = await fetch_error(fetcher, "https://nowhere.test/rss")
    assert error.kind == "network"
    assert "could not resolve the host of https://nowhere.test/rss" in str(error)


# --- the address guard on its own ---------------------------------------------------------


async def resolves_to(address: str, allow_private: bool, url: str = "http://feed.test/") -> None:
    await check_public_url(url, allow_private, static_resolver({"feed.test": [address]}))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",  # loopback
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",  # RFC 1918
        "100.64.0.1",
        "100.127.255.254",  # carrier-grade NAT
        "fc00::1",
        "fd12:3456::1",  # IPv6 unique-local
        "240.0.0.1",  # reserved
        "192.0.2.1",
        "2001:db8::1",  # documentation ranges
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:100.64.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
async def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(UnsafeFeedAddress) as caught:
        await resolves_to(address, allow_private=False)
    assert "feeds are only fetched from public addresses" in str(caught.value)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "100.64.0.1", "fd12::1"])
async def test_allow_private_lets_private_addresses_through(address: str) -> None:
    await resolves_to(address, allow_private=True)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("100.100.100.200", "cloud metadata"),  # Alibaba Cloud
        ("fd00:ec2::254", "cloud metadata"),  # AWS over IPv6
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address the guard refuses, no bind)
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
    ],
)
async def test_some_addresses_are_refused_even_with_allow_private(
    address: str, reason: str
) -> None:
    for allow_private in (False, True):
        with pytest.raises(UnsafeFeedAddress) as caught:
            await resolves_to(address, allow_private)
        assert reason in str(caught.value)
        assert "never fetched, even with allow_private" in str(caught.value)


@pytest.mark.parametrize("address", [PUBLIC_IP, "2606:4700::1111", "64:ff9b::5db8:d70e"])
async def test_public_addresses_pass(address: str) -> None:
    await resolves_to(address, allow_private=False)


async def test_every_resolved_address_must_be_public() -> None:
    resolver = static_resolver({"mixed.test": [PUBLIC_IP, "2606:4700::1111", "192.168.0.10"]})
    with pytest.raises(UnsafeFeedAddress, match=r"192\.168\.0\.10"):
        await check_public_url("https://mixed.test/rss", False, resolver)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://feed.test/rss.xml", "only http and https feeds are fetched (scheme is ftp)"),
        ("file:///etc/passwd", "(scheme is file)"),
        ("javascript:alert(1)", "(scheme is javascript)"),
        ("feed.test/rss.xml", "(scheme is none)"),
        ("http:///rss.xml", "the URL has no host"),
        ("http://feed.test:99999/rss", "not a valid URL"),
    ],
)
async def test_bad_urls_are_refused_with_a_clear_reason(url: str, message: str) -> None:
    with pytest.raises(UnsafeFeedAddress) as caught:
        await check_public_url(url, True, static_resolver({"feed.test": [PUBLIC_IP]}))
    assert message in str(caught.value)


@pytest.mark.parametrize("url", ["http://localhost/", "http://2130706433/", "http://0x7f.1/"])
async def test_system_resolver_catches_loopback_spellings(url: str) -> None:
    # Odd spellings of 127.0.0.1 are normalised by getaddrinfo, so checking the resolved
    # addresses (not the text of the URL) catches them.
    with pytest.raises(UnsafeFeedAddress, match="loopback"):
        await check_public_url(url, allow_private=False)


# --- per-host concurrency -------------------------------------------------------------------


async def test_host_limiter_caps_each_host_and_the_total() -> None:
    limiter = HostLimiter(per_host=1, overall=2)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    total_peak = 0

    async def job(url: str) -> None:
        nonlocal total_peak
        async with limiter.slot(url):
            host = url.split("/")[2]
            running[host] = running.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), running[host])
            total_peak = max(total_peak, sum(running.values()))
            await asyncio.sleep(0.01)
            running[host] -= 1

    urls = [f"https://{host}/feed{i}" for host in ("a.test", "b.test", "c.test") for i in range(4)]
    await asyncio.gather(*(job(url) for url in urls))

    assert peak == {"a.test": 1, "b.test": 1, "c.test": 1}
    assert total_peak == 2


async def test_host_limiter_releases_slots_on_error() -> None:
    limiter = HostLimiter(per_host=1, overall=1)
    with pytest.raises(RuntimeError):
        async with limiter.slot("https://a.test/"):
            raise RuntimeError("fetch failed")
    async with asyncio.timeout(1), limiter.slot("https://a.test/"):
        pass
