"""Fetch one feed over HTTP with hard limits: size, time, redirects and destinations.

The HTTP client is created by the composition root (``make_feed_http_client``) and
injected, so the watcher shares one connection pool and tests can plug a transport in.
Redirects are followed here rather than by httpx so that every hop goes through
``check_public_url``: a public feed must not be able to bounce us to 127.0.0.1 or to the
cloud metadata service. Each hop connects to the addresses that check accepted, never to
a second DNS answer (feeds/pinning.py). The body is read raw and inflated here within the
size cap (feeds/decoding.py), and a URL's user name and password never appear in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal
from urllib.parse import urlsplit

import httpcore
import httpx

from feeds.addresses import Resolver, UnsafeFeedAddress, check_public_url, hide_userinfo
from feeds.decoding import BodyDecoder, DecodedTooLarge, UnsupportedCoding
from feeds.pinning import PinnedTransport, pin_for, pinned

FetchErrorKind = Literal[
    "timeout", "too_large", "http_status", "redirect", "unsafe_address", "network"
]
FetchStatus = Literal["ok", "not_modified"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class FeedFetchError(Exception):
    """A feed could not be fetched; ``kind`` says why, the message is fit for an admin."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        url: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        message = hide_userinfo(message)
        super().__init__(message)
        self.kind: FetchErrorKind = kind
        self.message = message
        self.url = hide_userinfo(url)
        self.status_code = status_code
        # Seconds the server asked us to wait (429/503 Retry-After), for the watcher.
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchSettings:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = 5
    total_timeout: float = 30.0  # seconds for the whole fetch, redirects included
    allow_private: bool = False

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.total_timeout <= 0:
            raise ValueError("total_timeout must be positive")


@dataclass(frozen=True)
class FetchResult:
    status: FetchStatus
    body: bytes  # empty when not_modified
    final_url: str
    etag: str | None
    last_modified: str | None
    content_type: str | None


def user_agent() -> str:
    try:
        tocsin_version = version("tocsin")
    except PackageNotFoundError:  # running from a source checkout
        tocsin_version = "dev"
    return f"Tocsin/{tocsin_version} (+feed watcher)"


def make_feed_http_client(
    transport: httpx.AsyncBaseTransport | None = None,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The client FeedFetcher expects: no automatic redirects, bounded timeouts, and
    connections only to the addresses FeedFetcher checked.

    ``network`` replaces the sockets under the pinned transport (tests map public-looking
    addresses to loopback there); ``transport`` replaces the whole transport.
    """
    return httpx.AsyncClient(
        transport=transport or PinnedTransport(network),
        # No proxy from the environment: a proxy resolves names itself, so the address
        # check would no longer say where the request goes.
        trust_env=False,
        # Per-operation limits; FeedFetcher adds the overall deadline on top, because a
        # server trickling one byte per second never trips a read timeout.
        timeout=httpx.Timeout(20.0, connect=10.0),
        follow_redirects=False,
        headers={
            "User-Agent": user_agent(),
            "Accept": (
                "application/rss+xml, application/atom+xml, application/rdf+xml, "
                "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
            ),
            # No brotli/zstd: fewer decoders exposed to hostile bodies; gzip is enough.
            "Accept-Encoding": "gzip, deflate",
        },
    )


def _format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MiB"
    if size >= 1024:
        return f"{size / 1024:g} KiB"
    return f"{size} bytes"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


class FeedFetcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: FetchSettings | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._client = client
        self._settings = settings or FetchSettings()
        self._resolver = resolver

    @property
    def settings(self) -> FetchSettings:
        return self._settings

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url`` (conditionally when etag/last_modified are given).

        Raises FeedFetchError, and only that, for every failure.
        """
        limit = self._settings.total_timeout
        try:
            async with asyncio.timeout(limit):
                return await self._follow(url, etag, last_modified)
        except TimeoutError:
            raise FeedFetchError(
                "timeout",
                f"no complete answer from {url} within {limit:g} s; the server is too slow "
                "or not answering",
                url=url,
            ) from None

    async def _follow(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        chain = [url]
        current = url
        while True:
            addresses = await self._check(current)
            with pinned(pin_for(current, addresses)):
                response = await self._send(current, headers)
            try:
                if response.status_code in REDIRECT_STATUSES:
                    current = self._next_hop(response, current, chain)
                    continue
                return await self._result(response, current, headers, etag, last_modified)
            finally:
                # Closing a half-read streamed response drops the connection: that is
                # how an endless body is cut off.
                await response.aclose()

    async def _check(self, url: str) -> tuple[str, ...]:
        try:
            return await check_public_url(url, self._settings.allow_private, self._resolver)
        except UnsafeFeedAddress as exc:
            raise FeedFetchError("unsafe_address", exc.reason, url=url) from None
        except OSError as exc:  # DNS failure
            raise FeedFetchError(
                "network", f"could not resolve the host of {url}: {exc}", url=url
            ) from None

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        with self._translate_errors(url):
            request = self._client.build_request("GET", url, headers=headers)
            return await self._client.send(request, stream=True)

    def _next_hop(self, response: httpx.Response, current: str, chain: list[str]) -> str:
        location = response.headers.get("location")
        if not location:
            raise FeedFetchError(
                "redirect",
                f"{current} answered HTTP {response.status_code} without a Location header",
                url=chain[0],
                status_code=response.status_code,
            )
        try:
            target = str(httpx.URL(current).join(location))
        except httpx.InvalidURL as exc:
            raise FeedFetchError(
                "redirect",
                f"{current} redirects to an invalid URL {location!r}: {exc}",
                url=chain[0],
            ) from None
        if target in chain:
            path = " -> ".join([*chain[chain.index(target) :], target])
            raise FeedFetchError("redirect", f"redirect loop: {path}", url=chain[0])
        if len(chain) > self._settings.max_redirects:
            raise FeedFetchError(
                "redirect",
                f"{chain[0]} redirects more than {self._settings.max_redirects} times "
                f"(last hop: {current} -> {target})",
                url=chain[0],
            )
        chain.append(target)
        return target

    async def _result(
        self,
        response: httpx.Response,
        url: str,
        sent: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        status = response.status_code
        new_etag = response.headers.get("etag")
        new_last_modified = response.headers.get("last-modified")
        content_type = response.headers.get("content-type")
        # A 304 is only meaningful as the answer to a conditional request.
        if status == 304 and sent:
            # A 304 has no body: reading its (empty) end lets the connection be reused,
            # where closing an unread response would drop it (most polls end here).
            await response.aread()
            return FetchResult(
                status="not_modified",
                body=b"",
                final_url=url,
                etag=new_etag or etag,
                last_modified=new_last_modified or last_modified,
                content_type=content_type,
            )
        if not 200 <= status < 300:
            hint = {
                404: "; the feed may have moved or been removed",
                410: "; the feed was removed",
            }.get(status, "")
            raise FeedFetchError(
                "http_status",
                f"{url} answered HTTP {status} {response.reason_phrase}{hint}".rstrip(),
                url=url,
                status_code=status,
                retry_after=_retry_after(response),
            )
        body = await self._read_capped(response, url)
        return FetchResult(
            status="ok",
            body=body,
            final_url=url,
            etag=new_etag,
            last_modified=new_last_modified,
            content_type=content_type,
        )

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        cap = self._settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FeedFetchError(
                "too_large",
                f"{url} announces {_format_size(int(declared))}, over the "
                f"{_format_size(cap)} limit for a feed; not downloaded",
                url=url,
            )
        try:
            decoder = BodyDecoder(response.headers.get("content-encoding", ""), cap)
        except UnsupportedCoding as exc:
            raise FeedFetchError("network", f"{url}: {exc}", url=url) from None
        chunks: list[bytes] = []
        received = 0
        with self._translate_errors(url):
            # Raw bytes, inflated here step by step: both what arrives and what it
            # decodes to are counted, so neither a long body nor a small compressed one
            # ever holds more than the cap in memory.
            async for raw in response.aiter_raw():
                received += len(raw)
                if received > cap:
                    raise FeedFetchError(
                        "too_large",
                        f"{url} sent more than the {_format_size(cap)} limit for a feed; "
                        "stopped reading",
                        url=url,
                    )
                try:
                    chunks.extend(decoder.decode(raw))
                except DecodedTooLarge:
                    raise FeedFetchError(
                        "too_large",
                        f"{url} sent a compressed body that inflates past the "
                        f"{_format_size(cap)} limit for a feed (a compression bomb?); stopped "
                        "decoding",
                        url=url,
                    ) from None
                except zlib.error as exc:
                    raise FeedFetchError(
                        "network",
                        f"{url} sent a body that could not be decompressed: {exc}",
                        url=url,
                    ) from None
        return b"".join(chunks)

    @contextlib.contextmanager
    def _translate_errors(self, url: str) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise FeedFetchError(
                "timeout", f"{url}: {_timeout_phase(exc)} timed out", url=url
            ) from None
        except httpx.DecodingError as exc:
            raise FeedFetchError(
                "network", f"{url} sent a body that could not be decompressed: {exc}", url=url
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise FeedFetchError("unsafe_address", f"{url}: {exc}", url=url) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            detail = str(exc) or type(exc).__name__
            raise FeedFetchError("network", f"could not fetch {url}: {detail}", url=url) from None


def _timeout_phase(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connecting"
    if isinstance(exc, httpx.ReadTimeout):
        return "waiting for data"
    if isinstance(exc, httpx.WriteTimeout):
        return "sending the request"
    return "waiting for a free connection"


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or url).lower()


class HostLimiter:
    """Caps concurrent fetches per host and overall, so one slow site cannot hog the watcher
    and Tocsin never hammers a small association's server.

    Use ``async with limiter.slot(url): await fetcher.fetch(url, ...)``.
    """

    def __init__(self, per_host: int = 2, overall: int = 8) -> None:
        if per_host < 1 or overall < 1:
            raise ValueError("per_host and overall limits must be at least 1")
        self._per_host = per_host
        self._overall = asyncio.Semaphore(overall)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = _host_of(url)
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self._per_host))
        self._users[host] = self._users.get(host, 0) + 1
        try:
            # Host first, then the overall slot: waiting for a busy host must not hold
            # one of the overall slots other hosts could use.
            async with semaphore, self._overall:
                yield
        finally:
            self._users[host] -= 1
            if self._users[host] == 0:  # forget idle hosts so the dict stays small
                del self._users[host]
                del self._hosts[host]
