"""Connect only to the addresses the SSRF guard checked (no DNS rebinding).

The guard resolves a feed's host and checks every address; if the HTTP client then
resolved the name again, a hostile DNS server could answer a public address to the check
and 127.0.0.1 or 169.254.169.254 to the connection. So the fetcher pins the checked
addresses for the request it is about to send (a context variable: httpcore opens the
connection in the sending task), and the feed client's network backend dials those
addresses and nothing else. The URL keeps the host name, so the Host header, TLS SNI and
certificate verification are those of the name, and pooled connections stay keyed by it.
A connection kept alive in the pool was opened to an address checked earlier.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from typing_extensions import override

SocketOptions = Iterable[Any]  # httpcore's SOCKET_OPTION tuples, passed through


@dataclass(frozen=True)
class Pin:
    host: str  # as the connection pool spells it: lower case, IDNA-encoded
    port: int
    addresses: tuple[str, ...]


_PIN: ContextVar[Pin | None] = ContextVar("tocsin_feed_pin", default=None)


def pin_for(url: str, addresses: Iterable[str]) -> Pin:
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Pin(parsed.raw_host.decode("ascii").lower(), port, tuple(addresses))


@contextlib.contextmanager
def pinned(pin: Pin) -> Iterator[None]:
    """Connections opened inside this block go to ``pin.addresses`` only."""
    token = _PIN.set(pin)
    try:
        yield
    finally:
        _PIN.reset(token)


class PinnedNetworkBackend(AsyncNetworkBackend):
    """Dials the pinned addresses of the current request, in order; refuses anything else."""

    def __init__(self, inner: AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    @override
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions | None = None,
    ) -> AsyncNetworkStream:
        pin = _PIN.get()
        if pin is None or (host.lower(), port) != (pin.host, pin.port):
            raise httpcore.ConnectError(
                f"refusing to connect to {host}:{port}: not an address the feed guard checked"
            )
        failure: Exception | None = None
        for address in pin.addresses:  # every one of them was checked
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        if failure is None:  # a pin always holds at least one address
            raise httpcore.ConnectError(f"no address pinned for {host}")
        raise failure

    @override
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: SocketOptions | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("feeds are never fetched over a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with a connection pool whose network backend is pinned."""

    def __init__(self, network: AsyncNetworkBackend | None = None) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        # httpx (pinned < 0.29 in pyproject.toml) takes no network backend: the pool it
        # built is replaced by the same pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend(network),
        )
