"""Several addresses per upstream service: which one a request goes to, and which are down.

`GATEWAY_REGISTRY_URL=http://a:8001,http://b:8001` names two replicas of the registry. Requests
go round-robin over the addresses that are not marked down. An address whose connection was
refused or dropped is marked down for `down_seconds`, then its /readyz is probed (again every
`down_seconds`) and it takes requests once that answers 200: a replica that died is skipped
at once instead of costing every request a failed connect, and one that comes back is used
again without a restart of the gateway.

One address (the embedded default, compose) is never marked down: there is nowhere else to
send the request, so the per-service circuit breaker alone decides (gateway.protection), and
`pick` costs one attribute read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from gateway.upstream import Pool
from shared.logging import get_logger

log = get_logger(__name__)


def parse_addresses(value: str) -> list[str]:
    """The base URLs in a comma-separated setting, without trailing slashes; at least one."""
    urls = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError(f"no upstream address in {value!r}")
    return urls


class Replica:
    """One address of a service: its keep-alive pool and whether it is marked down."""

    __slots__ = ("down", "pool", "url")

    def __init__(self, url: str, pool: Pool) -> None:
        self.url = url
        self.pool = pool
        self.down = False


class Balancer:
    """The replicas of one service, round-robin over those not marked down."""

    def __init__(self, name: str, replicas: list[Replica], down_seconds: float,
                 probe: Callable[[str], Awaitable[bool]]) -> None:
        self.name = name
        self.replicas = replicas
        self.single = replicas[0] if len(replicas) == 1 else None
        self.down_seconds = down_seconds
        self._probe = probe  # (url) -> is the address ready again
        self._next = 0
        self._probes: set[asyncio.Task] = set()

    def pick(self) -> Replica:
        """The next address not marked down; when all are, the next one anyway (a refused
        connect is quick, and it may be back before its probe says so)."""
        if self.single is not None:
            return self.single
        replicas = self.replicas
        count = len(replicas)
        for _ in range(count):
            replica = replicas[self._next % count]
            self._next += 1
            if not replica.down:
                return replica
        return replicas[self._next % count]

    def other_than(self, tried: list[Replica]) -> Replica | None:
        """An address not marked down and not yet tried for this request, or None."""
        if self.single is not None:
            return None
        for replica in self.replicas:
            if not replica.down and replica not in tried:
                return replica
        return None

    def any_up(self) -> bool:
        return any(not r.down for r in self.replicas)

    def mark_down(self, replica: Replica) -> bool:
        """Take `replica` out of rotation until its /readyz answers; False when it cannot be
        (the only address) or already is."""
        if self.single is not None or replica.down:
            return False
        replica.down = True
        log.warning("gateway.upstream_down", upstream=self.name, address=replica.url,
                    probe_every_s=self.down_seconds)
        task = asyncio.get_running_loop().create_task(self._probe_until_ready(replica))
        self._probes.add(task)
        task.add_done_callback(self._probes.discard)
        return True

    async def _probe_until_ready(self, replica: Replica) -> None:
        while True:
            await asyncio.sleep(self.down_seconds)
            try:
                ready = await self._probe(replica.url)
            except Exception:  # a probe that fails in any way means "not yet"
                ready = False
            if ready:
                replica.down = False
                log.info("gateway.upstream_up", upstream=self.name, address=replica.url)
                return

    async def close(self) -> None:
        for task in list(self._probes):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for replica in self.replicas:
            replica.pool.close()
