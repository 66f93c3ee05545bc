"""One NATS connection per process that keeps trying until the server is there."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError

from shared.logging import get_logger

log = get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0


def server_list(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` -> one entry per server. nats-py takes a list; a
    comma-separated string it would read as one (unreachable) address."""
    return [part.strip() for part in url.split(",") if part.strip()]


class NatsConnection:
    """Connects in the background (the service starts even when NATS is down) and reconnects."""

    def __init__(self, url: str, name: str, *, max_pending: int = 4000) -> None:
        self.url = url
        self.servers = server_list(url)
        self.name = name
        self.max_pending = max_pending
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._on_connect: list[Callable[[], Awaitable[None]]] = []
        self._task: asyncio.Task | None = None

    def on_connect(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._on_connect.append(fn)

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_loop(), name=f"nats-connect-{self.name}")

    async def _connect_loop(self) -> None:
        delay = 0.2
        while True:
            try:
                nc = await nats.connect(
                    self.servers, name=self.name, allow_reconnect=True, max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5, connect_timeout=2, ping_interval=5,
                    max_outstanding_pings=2, error_cb=self._error, pending_size=64 * 1024 * 1024,
                    disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
                )
            except Exception as exc:  # server not there yet: keep trying, quietly
                log.info("nats.connect_retry", url=self.url, error=str(exc) or type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.nc = nc
            self.js = nc.jetstream(timeout=5, publish_async_max_pending=self.max_pending)
            for fn in self._on_connect:
                await self._run_hook(fn)
            self.ready.set()
            log.info("nats.connected", url=nc.connected_url.netloc if nc.connected_url else None)
            return

    async def _run_hook(self, fn: Callable[[], Awaitable[None]]) -> None:
        for attempt in range(50):
            try:
                await fn()
                return
            except Exception as exc:
                log.warning("nats.on_connect_failed", error=repr(exc), attempt=attempt)
                await asyncio.sleep(0.2)

    async def _error(self, exc: Exception) -> None:
        log.debug("nats.error", error=repr(exc))

    async def _disconnected(self) -> None:
        log.warning("nats.disconnected")

    async def _reconnected(self) -> None:
        log.info("nats.reconnected")
        for fn in self._on_connect:
            await self._run_hook(fn)

    async def close(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), 5)
            with contextlib.suppress(Exception):
                await self.nc.close()


async def ensure_stream(js: JetStreamContext, name: str, subjects: list[str],
                        replicas: int = 1) -> None:
    """Declare a file-stored stream; a no-op when it already exists with this config.

    `replicas` comes from settings (3 on a NATS cluster), so a restart never scales a
    replicated stream back down to one.
    """
    config = StreamConfig(
        name=name, subjects=subjects, storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS, num_replicas=replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)
