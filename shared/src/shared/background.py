"""A periodic loop for the work a service does on its own, beside its requests.

Used for work whose due items live in the database (survey rounds closing, content
publishing): every tick re-reads what is due, so a missed tick or a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.logging import get_logger

log = get_logger(__name__)

Tick = Callable[[], Awaitable[float | None]]


class PeriodicTask:
    """Runs `tick` every `interval` seconds from `start()` until `stop()`.

    `tick` may return the seconds to wait before the next one (0 when more is due at once,
    less than `interval` when it knows the next due time); None means `interval`.
    """

    def __init__(self, name: str, tick: Tick, interval: float, stop_timeout: float = 10.0) -> None:
        self.name = name
        self.tick = tick
        self.interval = interval
        self.stop_timeout = stop_timeout
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def __aenter__(self) -> PeriodicTask:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def wake(self) -> None:
        """Run the next tick now instead of at the end of the wait."""
        self._wake.set()

    async def stop(self) -> None:
        """End the loop and wait for it; a tick in hand is let finish (up to `stop_timeout`)."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            # Finishing the tick lets its transaction commit or roll back whole; one that
            # hangs (a stuck database) is cancelled, so shutdown is bounded.
            await asyncio.wait_for(task, self.stop_timeout)
        except TimeoutError:
            log.warning("background.stop_timeout", task=self.name, seconds=self.stop_timeout)

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the tick, so a wake() that arrives during it is not lost.
            self._wake.clear()
            wait = self.interval
            try:
                ask = await self.tick()
                if ask is not None:
                    wait = ask
            except Exception as exc:  # the database may be away; the next tick tries again
                log.warning("background.tick_error", task=self.name, error=repr(exc))
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
