"""A periodic loop for the work a service does on its own, beside its requests.

Used for work whose due items live in the database (survey rounds closing, content
publishing): every tick re-reads what is due, so a missed tick or a restart loses nothing.
Each due item is claimed by a compare-and-set UPDATE, so replicas running the same loop do each
item once. Work that must run in one place at a time (the outbox relay, which publishes in
commit order) takes a `Lease` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import dialect_insert, utcnow
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


def _host() -> str:
    return socket.gethostname()[:40]


_OURS: set[str] = set()  # the holder names of this process's leases (they are alive)


def holder_name() -> str:
    """This process, as a lease holder: host and pid (ops can tell who holds what) and a nonce."""
    name = f"{_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _OURS.add(name)
    return name


def _known_dead(holder: str) -> bool:
    """A holder on this host whose process is gone (or whose pid is now ours: an earlier life
    of it, as after a container restart), so its lease need not be waited out."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != _host() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return holder not in _OURS
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False


class Lease:
    """One holder at a time, across replicas, for the work named `name`.

    Taken and renewed by one conditional UPDATE (`holder` is us, or the lease has expired), so
    of replicas racing for it exactly one wins, on PostgreSQL (row lock, then the WHERE is
    re-checked) and on SQLite (one writer at a time) alike. A holder that dies (SIGKILL) stops
    renewing and the lease is free `seconds` later, at once to a process on its host (which can
    see it is gone: a restart after a crash); a graceful stop frees it at once.

    The holder acts only within a third of `seconds` of its last renewal, so it has stopped
    acting well before anyone else can take over. Expiry is compared on the clocks of the
    replicas' hosts, which must agree to well within `seconds` (NTP does), and replicas on
    different hosts must have different host names (containers and pods do).
    """

    def __init__(self, maker: async_sessionmaker[AsyncSession], table: Table, name: str,
                 seconds: float = 10.0) -> None:
        self.maker = maker
        self.table = table
        self.name = name
        self.seconds = seconds
        self.holder = holder_name()
        self._renewed = -1e9  # time.monotonic() of the last renewal that won
        self._tried = -1e9

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._renewed < self.seconds / 3

    async def hold(self) -> bool:
        """True while this process holds the lease (renewing it when due); a replica that does
        not hold it asks again every quarter of `seconds`, not on every call."""
        if self.fresh:
            return True
        now = time.monotonic()
        if now - self._renewed > self.seconds and now - self._tried < self.seconds / 4:
            return False
        self._tried = now
        try:
            won = await self._take()
        except Exception as exc:  # the database may be away: not held until it answers
            log.warning("lease.take_failed", lease=self.name, error=repr(exc))
            won = False
        if won:
            if self._renewed < 0:
                log.info("lease.taken", lease=self.name, holder=self.holder)
            self._renewed = now
        else:
            self._renewed = -1e9
        return won

    async def _take(self) -> bool:
        t = self.table
        now = utcnow()
        until = now + dt.timedelta(seconds=self.seconds)
        async with self.maker() as session:
            free = (t.c.holder == self.holder) | (t.c.expires_at < now)
            holder = await session.scalar(select(t.c.holder).where(t.c.name == self.name))
            if holder is not None and holder != self.holder and _known_dead(holder):
                free = free | (t.c.holder == holder)
            won = (await session.execute(
                update(t).where(t.c.name == self.name, free)
                .values(holder=self.holder, expires_at=until))).rowcount == 1
            if not won:  # the first ever: the row may not exist yet
                won = (await session.execute(
                    dialect_insert(session, t).on_conflict_do_nothing(index_elements=[t.c.name]),
                    {"name": self.name, "holder": self.holder, "expires_at": until})).rowcount == 1
            await session.commit()
        return won

    async def release(self) -> None:
        """Free the lease now (a graceful stop), so a replica takes over without waiting."""
        if self._renewed < 0:
            return
        self._renewed = -1e9
        t = self.table
        with contextlib.suppress(Exception):
            async with self.maker() as session:
                await session.execute(
                    update(t).where(t.c.name == self.name, t.c.holder == self.holder)
                    .values(expires_at=utcnow() - dt.timedelta(seconds=self.seconds)))
                await session.commit()
