"""Refuse feed URLs that would make Tocsin fetch from its own network (SSRF guard).

Feed URLs come from coordinators and from redirects chosen by remote servers, so every
hop is checked: the scheme must be http(s) and every address the host resolves to must be
public. ``allow_private`` lifts the "public only" rule for deployments that watch an
intranet feed (and for tests), but some targets stay refused whatever the setting:
link-local addresses (the 169.254.0.0/16 range holds the cloud metadata service, which
hands out credentials), known metadata addresses outside it, unspecified, multicast and
broadcast addresses. No legitimate feed lives there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (host, port) -> the IP addresses (as text) the host resolves to.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Metadata services that are not link-local: Alibaba Cloud (in the CGNAT range) and the
# AWS IPv6 endpoint (in the ULA range). Refused even with allow_private.
_METADATA_NETWORKS = (
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV6_ULA = ipaddress.ip_network("fc00::/7")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.ip_address("255.255.255.255")


# "scheme://user:password@" in any text: the userinfo part of a URL.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def hide_userinfo(text: str) -> str:
    """``text`` with the user name and password of every URL in it removed.

    A feed may be ``https://user:password@host/feed``: the credentials are used to fetch
    it and never shown in a chat, a notice, an error or a log line.
    """
    return _USERINFO.sub(r"\1", text)


class UnsafeFeedAddress(Exception):
    """The URL must not be fetched: wrong scheme or a non-public destination."""

    def __init__(self, reason: str) -> None:
        reason = hide_userinfo(reason)
        super().__init__(reason)
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's getaddrinfo (the same resolver httpx will use)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels or translates to, if any.

    ``is_global`` judges these forms by their IPv6 prefix only (``::ffff:127.0.0.1`` is
    non-global but ``2002:7f00:1::`` and ``64:ff9b::7f00:1`` count as global), so the
    embedded IPv4 address is checked on its own.
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal_reason(address: IPAddress, allow_private: bool) -> str | None:
    """Why ``address`` must not be contacted, or None when it may be."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded, allow_private)
            if inner is not None:
                return f"{inner} (IPv4 {embedded} embedded in an IPv6 address)"
    always = _always_refused(address)
    if always is not None:
        return always
    if allow_private or address.is_global:
        return None
    return _why_not_public(address)


def _always_refused(address: IPAddress) -> str | None:
    """The ranges refused whatever `allow_private` says."""
    if address.is_link_local:
        return "a link-local address (the cloud metadata service lives in this range)"
    if any(address in network for network in _METADATA_NETWORKS):
        return "a cloud metadata service address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:  # is_global is True for some multicast ranges
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    return None


def _why_not_public(address: IPAddress) -> str:
    """Names the kind of a non-global address, for the refusal message."""
    if address.is_loopback:
        return "a loopback address"
    if address in _CGNAT:
        return "a carrier-grade NAT (shared) address"
    if address in _IPV6_ULA:
        return "an IPv6 unique-local (private) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    return "a non-public special-purpose address"


async def check_public_url(
    url: str, allow_private: bool, resolver: Resolver | None = None
) -> tuple[str, ...]:
    """Raise UnsafeFeedAddress unless ``url`` is http(s) and all its addresses are allowed;
    return the checked addresses, the only ones the fetcher then connects to.

    Every resolved address is checked, not just the first: the HTTP client may connect to
    any of them. A host that cannot be resolved raises OSError (a network failure, not an
    unsafe address).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeFeedAddress(f"{url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "none"
        raise UnsafeFeedAddress(
            f"refusing {url!r}: only http and https feeds are fetched (scheme is {shown})"
        )
    host = parts.hostname
    if not host:
        raise UnsafeFeedAddress(f"refusing {url!r}: the URL has no host")
    if port is None:
        port = 443 if scheme == "https" else 80

    # Literal addresses are resolved too: getaddrinfo also normalises odd spellings such
    # as "2130706433" or "0x7f.1", which inet_aton reads as 127.0.0.1.
    resolve = resolver or system_resolver
    addresses = await resolve(host, port)
    if not addresses:
        raise OSError(f"host {host!r} resolved to no address")
    checked: list[str] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise UnsafeFeedAddress(
                f"refusing {url!r}: host {host!r} resolved to {text!r}, which is not an IP address"
            ) from None
        reason = refusal_reason(address, allow_private)
        if reason is None:
            checked.append(str(address))
            continue
        if refusal_reason(address, allow_private=True) is not None:
            rule = "such addresses are never fetched, even with allow_private"
        else:
            rule = "feeds are only fetched from public addresses unless allow_private is set"
        raise UnsafeFeedAddress(
            f"refusing {url!r}: host {host!r} resolves to {address}, {reason}; {rule}"
        )
    return tuple(dict.fromkeys(checked))
