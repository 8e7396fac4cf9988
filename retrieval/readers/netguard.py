"""A guard against fetching internal addresses (SSRF): loopback, private, link-local, multicast,
reserved and unspecified addresses are refused.

Two checks, both with the same rule (`blocked_reason`):
- `check_url` resolves a URL's host before each request (the first one and every redirect hop) and
  refuses it when any of its addresses is internal: a clear per-URL error, even behind a proxy;
- `GuardedTransport` (every direct connection, NO_PROXY hosts too when proxies are set) resolves
  the host again when it connects and connects only to an address it has just checked, so a name
  that resolves to a public address for the first check and to 127.0.0.1 for the connection (DNS
  rebinding) is refused too. TLS still verifies the
  certificate against the host name (httpcore passes it as SNI).
For a URL the environment sends to an HTTP(S) proxy the proxy resolves the name, so only the first
check applies there, and a name that does not resolve here is left to the proxy.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SETTING_HINT = "set NEWSBOT_FETCH_ALLOW_PRIVATE=true to fetch from your own network"


class BlockedAddress(Exception):
    """A host that resolves to an internal address, or does not resolve."""


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses (IPv4 and IPv6) as the system resolves them; [] when it does not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def blocked_reason(address: str) -> str:
    """Why an IP address is internal ('' when it is a public one)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):  # judged by the IPv4 address it carries, if any
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:  # 6to4, 2002::/16
            ip = ip.sixtofour
        elif ip in _NAT64:  # DNS64/NAT64 well-known prefix (RFC 6052)
            ip = ipaddress.IPv4Address(ip.packed[-4:])
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return "" if ip.is_global else "not public"


def check_host(host: str, port: int, resolve: Resolver = system_resolver) -> list[str]:
    """The host's addresses when all are public; BlockedAddress naming the first internal one."""
    host = host.strip("[]")
    addresses = resolve(host, port)
    if not addresses:
        raise BlockedAddress(f"{host} does not resolve")
    for address in addresses:
        reason = blocked_reason(address)
        if reason:
            shown = host if host == address else f"{host} ({address})"
            raise BlockedAddress(f"{shown} is a {reason} address; refused ({SETTING_HINT})")
    return addresses


def check_url(url: str, resolve: Resolver = system_resolver, *, proxied: bool = False) -> None:
    """BlockedAddress when the URL's host is (or resolves to) an internal address; `proxied`: a
    name that does not resolve here passes (the proxy resolves it)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise BlockedAddress("no host in the URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 80
    if proxied and not resolve(parts.hostname.strip("[]"), port):
        return
    check_host(parts.hostname, port, resolve)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to checked public addresses."""

    def __init__(self, resolve: Resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in check_host(host, port, self._resolve):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - newsbot never fetches over a unix socket
        raise BlockedAddress("unix sockets are not fetched from")

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose connections go only to public addresses, checked at connect time."""

    def __init__(self, resolve: Resolver = system_resolver) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_GuardedBackend(resolve),
            max_connections=100,  # httpx's default limits
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )
