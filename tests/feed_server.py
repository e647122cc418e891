"""A real HTTP server on 127.0.0.1 that misbehaves on demand, for the feed fetcher tests.

Routes:
  /feeds/{name}            a fixture with ETag and Last-Modified; 304 on a matching
                           If-None-Match / If-Modified-Since
  /status/{code}           that HTTP status (503 carries Retry-After: 120)
  /hang                    accepts the request and never answers
  /drip                    answers, then sends one byte every 50 ms forever
  /endless                 a 200 whose body never ends (16 KiB chunks)
  /gzip-bomb               a small gzip body that inflates to 20 MiB
  /gzip-gzip-bomb          ~2 kB sent as "Content-Encoding: gzip, gzip" inflating to 1 GiB
  /encoded?coding=C        the conseil_etat fixture with Content-Encoding C (gzip and
                           deflate layers applied for real, other codings only declared)
  /redirect/loop/a         -> /redirect/loop/b -> /redirect/loop/a ...
  /redirect/chain/{n}      n redirects, then /feeds/conseil_etat
  /redirect/to?location=X  one redirect to X (e.g. http://169.254.169.254/)
  /redirect/no-location    a 302 without Location
``hits`` counts requests per path, so a test can prove a URL was never contacted.
``LoopbackNetwork`` is the stand-in for the Internet under the fetcher's own transport.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import struct
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpcore
import httpx
from aiohttp import web
from typing_extensions import override

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass(frozen=True)
class ServedFeed:
    body: bytes
    content_type: str
    etag: str
    last_modified: str


def default_feeds() -> dict[str, ServedFeed]:
    def served(file: str, content_type: str, tag: str) -> ServedFeed:
        return ServedFeed(
            body=load_fixture(file),
            content_type=content_type,
            etag=f'"{tag}-v1"',
            last_modified="Tue, 14 Jan 2025 09:30:00 GMT",
        )

    return {
        "conseil_etat": served("conseil_etat.rss", "application/rss+xml; charset=utf-8", "ce"),
        "echr": served("echr.atom", "application/atom+xml", "echr"),
        # Served as bare text/xml, as many old servers do: the encoding comes from the
        # XML declaration only.
        "defenseur": served("defenseur_latin1.rss", "text/xml", "ddd"),
        "cimade": served("duplicates_html.rss", "application/rss+xml", "cimade"),
        "gisti": served("malformed.rss", "application/rss+xml", "gisti"),
        "bomb": ServedFeed(billion_laughs(), "application/rss+xml", '"bomb"', "x"),
    }


def billion_laughs(levels: int = 10, fanout: int = 10) -> bytes:
    """The classic nested-entity bomb: under 1 kB that expands to fanout**levels words."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE rss [", ' <!ENTITY lol0 "lol">']
    for level in range(1, levels):
        lines.append(f' <!ENTITY lol{level} "' + f"&lol{level - 1};" * fanout + '">')
    lines.append("]>")
    lines.append(
        '<rss version="2.0"><channel><title>Bombe</title><item>'
        f"<title>&lol{levels - 1};</title><guid>bomb-1</guid></item></channel></rss>"
    )
    return "\n".join(lines).encode("utf-8")


def quadratic_blowup(entity_size: int = 100_000, references: int = 20_000) -> bytes:
    """One large flat entity referenced many times; expat's amplification limit stops it,
    but feedparser's lenient fallback parser expands it (to 2 GB with these numbers)."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY a "'
        + "A" * entity_size
        + '">\n]>\n<rss version="2.0"><channel><title>t</title><item><title>'
        + "&a;" * references
        + "</title></item></channel></rss>"
    ).encode("utf-8")


def compression_bomb(size: int = 1 << 30, layers: int = 2) -> bytes:
    """``size`` zero bytes gzipped ``layers`` times, built without ever holding them.

    After a full flush deflate forgets its history, so each 1 MiB block of zeros
    compresses to the same bytes: the inner stream is one block repeated, with the gzip
    header and trailer written by hand. Each further layer gzips the previous one.
    """
    block = 1 << 20
    assert size % block == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(block)
    deflate.compress(zeros)
    deflate.flush(zlib.Z_FULL_FLUSH)  # the first block's output differs (no history yet)
    repeated = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    ending = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    body = header + repeated * (size // block) + ending + struct.pack("<II", crc, size % (1 << 32))
    for _ in range(layers - 1):
        body = gzip.compress(body, compresslevel=9)
    return body


def nested_tags(depth: int = 300_000) -> bytes:
    """An RSS item holding ``depth`` nested unknown elements: seconds of feedparser CPU."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Imbriqué</title><item>'
        "<title>profond</title><guid>nested-1</guid>"
        + "<a>" * depth
        + "x"
        + "</a>" * depth
        + "</item></channel></rss>"
    ).encode("utf-8")


class FeedServer:
    def __init__(
        self, feeds: Mapping[str, ServedFeed] | None = None, *, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.feeds: dict[str, ServedFeed] = dict(feeds if feeds is not None else default_feeds())
        self.hits: Counter[str] = Counter()
        self.endless_bytes_sent = 0
        self.requests_headers: list[Mapping[str, str]] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/feeds/{name}", self._feed)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/hang", self._hang)
        app.router.add_get("/drip", self._drip)
        app.router.add_get("/endless", self._endless)
        app.router.add_get("/gzip-bomb", self._gzip_bomb)
        app.router.add_get("/gzip-gzip-bomb", self._gzip_gzip_bomb)
        app.router.add_get("/encoded", self._encoded)
        app.router.add_get("/redirect/loop/{step}", self._loop)
        app.router.add_get("/redirect/chain/{n}", self._chain)
        app.router.add_get("/redirect/to", self._redirect_to)
        app.router.add_get("/redirect/no-location", self._no_location)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._release.set()  # let hanging and endless handlers finish
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.requests_headers.append(dict(request.headers))
        return await handler(request)

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds.get(request.match_info["name"])
        if feed is None:
            return web.Response(status=404, text="no such feed")
        validators = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
        if_none_match = request.headers.get("If-None-Match")
        if_modified_since = request.headers.get("If-Modified-Since")
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
        if (if_none_match is not None and feed.etag in if_none_match) or (
            if_none_match is None and if_modified_since == feed.last_modified
        ):
            return web.Response(status=304, headers=validators)
        return web.Response(
            body=feed.body, headers={**validators, "Content-Type": feed.content_type}
        )

    async def _status(self, request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        headers = {"Retry-After": "120"} if code == 503 else {}
        return web.Response(status=code, text=f"status {code}", headers=headers)

    async def _hang(self, _request: web.Request) -> web.StreamResponse:
        await self._release.wait()
        return web.Response(text="too late")

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            while not self._release.is_set():
                await response.write(b" ")
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        return response

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        chunk = b"<item><title>encore</title></item>" * 470  # ~16 KiB
        try:
            await response.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
            while not self._release.is_set():
                await response.write(chunk)
                self.endless_bytes_sent += len(chunk)
        except ConnectionError:  # the client hung up, as it should
            pass
        return response

    async def _gzip_bomb(self, _request: web.Request) -> web.StreamResponse:
        body = gzip.compress(b" " * (20 * 1024 * 1024))
        return web.Response(
            body=body,
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
        )

    async def _gzip_gzip_bomb(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=compression_bomb(),
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip, gzip"},
        )

    async def _encoded(self, request: web.Request) -> web.StreamResponse:
        coding = request.query["coding"]
        body = load_fixture("conseil_etat.rss")
        for layer in (part.strip() for part in coding.split(",")):
            if layer == "gzip":
                body = gzip.compress(body)
            elif layer == "deflate":
                body = zlib.compress(body)
            elif layer == "raw-deflate":  # deflate without its zlib header, as IIS sends it
                packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
                body = packer.compress(body) + packer.flush()
        coding = coding.replace("raw-deflate", "deflate")
        return web.Response(
            body=body,
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": coding},
        )

    async def _loop(self, request: web.Request) -> web.StreamResponse:
        other = "b" if request.match_info["step"] == "a" else "a"
        raise web.HTTPFound(f"/redirect/loop/{other}")

    async def _chain(self, request: web.Request) -> web.StreamResponse:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect/chain/{n - 1}" if n > 0 else "/feeds/conseil_etat")

    async def _redirect_to(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["location"])

    async def _no_location(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, text="moved, somewhere")


class HostMapTransport(httpx.AsyncBaseTransport):
    """Sends requests for mapped host names to local ports: the test's stand-in for DNS.

    The Host header keeps the public-looking name, so the server sees what it would in
    production, while the connection goes to the local test server.
    """

    def __init__(
        self, hosts: Mapping[str, tuple[str, int]], inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._hosts = dict(hosts)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self._hosts.get(request.url.host)
        if target is not None:
            request.url = request.url.copy_with(host=target[0], port=target[1])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def static_resolver(
    table: Mapping[str, Sequence[str]],
) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    """A resolver answering from a fixed table, like a DNS server under test control."""

    async def resolve(host: str, _port: int) -> Sequence[str]:
        try:
            return table[host]
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown test host {host!r}") from None

    return resolve


class LoopbackNetwork(httpcore.AsyncNetworkBackend):
    """The sockets under the fetcher's pinned transport, for tests: dials loopback
    addresses as they are and public-looking ones where ``routes`` sends them (address ->
    loopback address and port), records every (address, port) dialled, and refuses
    anything else, so no test ever leaves the machine.
    """

    def __init__(self, routes: Mapping[str, tuple[str, int]] | None = None) -> None:
        self._routes = dict(routes or {})
        self._inner = httpcore.AnyIOBackend()
        self.dialled: list[tuple[str, int]] = []

    @override
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append((host, port))
        target, target_port = self._routes.get(host, (host, port))
        try:
            reachable = ipaddress.ip_address(target).is_loopback
        except ValueError:  # a name: someone resolved it again behind the guard's back
            reachable = False
        if not reachable:
            raise httpcore.ConnectError(f"test network: {host} is not reachable from tests")
        return await self._inner.connect_tcp(
            target, target_port, timeout, local_address, socket_options
        )

    @override
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("test network: no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
