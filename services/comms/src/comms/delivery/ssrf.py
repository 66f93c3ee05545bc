"""Refuse webhook targets on internal networks (server-side request forgery), unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeTarget(ValueError):
    """The URL is malformed or points at a network we must not call."""


def _allowed(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, allow: list[str]) -> bool:
    return any(addr in ipaddress.ip_network(net, strict=False) for net in allow)


def _internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved
            or addr.is_multicast or addr.is_unspecified)


async def check_target(url: str, allow_networks: list[str]) -> list[str]:
    """Resolve the host and check every address it has; return them, or raise UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number in 0-65535 raises ValueError
    except ValueError as exc:
        raise UnsafeTarget(f"the URL is malformed: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("the URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise UnsafeTarget("credentials in the URL are not accepted")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise UnsafeTarget("the URL has spaces or control characters")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM)
    except UnicodeError:  # a host name that IDNA cannot encode (found by schemathesis: a 500)
        raise UnsafeTarget(f"{parts.hostname!r} is not a valid host name") from None
    except OSError as exc:
        raise UnsafeTarget(f"cannot resolve {parts.hostname}: {exc}") from None
    addrs = sorted({info[4][0] for info in infos})
    if not addrs:
        raise UnsafeTarget(f"{parts.hostname} has no address")
    for a in addrs:
        addr = ipaddress.ip_address(a.split("%")[0])
        if _internal(addr) and not _allowed(addr, allow_networks):
            raise UnsafeTarget(f"{parts.hostname} resolves to {addr}, an internal address; "
                               "an admin must allow that network")
    return addrs
