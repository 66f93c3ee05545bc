"""shared.background.PeriodicTask: the loop under the survey round closer and the comms scheduler."""

from __future__ import annotations

import asyncio
import time

from structlog.testing import capture_logs

from shared.background import PeriodicTask
from tests.conftest import eventually

LONG = 60.0  # an interval no test waits out: anything sooner is a wake, a stop or a tick's ask


def _tasks_named(name: str) -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name]


async def test_ticks_run_every_interval_until_stopped():
    calls: list[float] = []

    async def tick() -> None:
        calls.append(time.monotonic())

    loop = PeriodicTask("test.every", tick, 0.05)
    loop.start()
    await eventually(lambda: _reached(lambda: len(calls), 4), timeout=5)
    await loop.stop()
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert min(gaps) >= 0.04, gaps  # it waited the interval between ticks
    after = len(calls)
    await asyncio.sleep(0.2)
    assert len(calls) == after  # nothing runs after stop()
    assert _tasks_named("test.every") == []


async def test_a_failing_tick_is_logged_and_the_loop_goes_on():
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("database away")

    loop = PeriodicTask("test.failing", tick, 0.01)
    with capture_logs() as logs:
        loop.start()
        await eventually(lambda: _reached(lambda: calls, 5), timeout=5)
        await loop.stop()
    errors = [e for e in logs if e["event"] == "background.tick_error"]
    assert len(errors) == 1, logs
    assert errors[0]["task"] == "test.failing" and "database away" in errors[0]["error"]


async def test_stop_ends_the_wait_at_once_and_awaits_the_tick_in_hand():
    started, finished = asyncio.Event(), []

    async def tick() -> None:
        started.set()
        await asyncio.sleep(0.2)  # a transaction in flight when shutdown comes
        finished.append(True)

    loop = PeriodicTask("test.stop", tick, LONG)
    loop.start()
    await asyncio.wait_for(started.wait(), 5)
    t0 = time.monotonic()
    await loop.stop()
    assert finished == [True]  # the tick was let finish, and stop() waited for it
    assert time.monotonic() - t0 < 1.0  # and did not sit out the 60 s interval
    assert _tasks_named("test.stop") == []
    await loop.stop()  # a second stop is harmless


async def test_stop_during_the_wait_returns_at_once():
    ticked = asyncio.Event()

    async def tick() -> None:
        ticked.set()

    loop = PeriodicTask("test.idle", tick, LONG)
    loop.start()
    await asyncio.wait_for(ticked.wait(), 5)
    await asyncio.sleep(0.05)  # now in the 60 s wait
    t0 = time.monotonic()
    await loop.stop()
    assert time.monotonic() - t0 < 1.0
    assert _tasks_named("test.idle") == []


async def test_stop_cancels_a_tick_that_hangs_past_the_timeout():
    cancelled = asyncio.Event()

    async def tick() -> None:
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = PeriodicTask("test.hang", tick, LONG, stop_timeout=0.2)
    loop.start()
    await asyncio.sleep(0.05)
    t0 = time.monotonic()
    with capture_logs() as logs:
        await loop.stop()
    assert 0.15 < time.monotonic() - t0 < 2.0
    assert cancelled.is_set()
    assert [e["event"] for e in logs] == ["background.stop_timeout"]
    assert _tasks_named("test.hang") == []


async def test_wake_runs_the_next_tick_now():
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1

    loop = PeriodicTask("test.wake", tick, LONG)
    loop.start()
    try:
        await eventually(lambda: _reached(lambda: calls, 1), timeout=5)
        await asyncio.sleep(0.1)
        assert calls == 1  # asleep for the interval
        loop.wake()
        await eventually(lambda: _reached(lambda: calls, 2), timeout=1)
    finally:
        await loop.stop()


async def test_a_wake_during_a_tick_is_not_lost():
    calls, release = 0, asyncio.Event()

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()

    loop = PeriodicTask("test.wake_in_tick", tick, LONG)
    loop.start()
    try:
        await asyncio.sleep(0.05)
        loop.wake()  # new work arrived while the first tick was still busy
        release.set()
        await eventually(lambda: _reached(lambda: calls, 2), timeout=1)
    finally:
        await loop.stop()


async def test_the_tick_may_ask_for_its_next_wait():
    calls = 0

    async def tick() -> float | None:
        nonlocal calls
        calls += 1
        return 0.0 if calls < 3 else None  # more due at once twice, then the interval

    loop = PeriodicTask("test.ask", tick, LONG)
    loop.start()
    try:
        await eventually(lambda: _reached(lambda: calls, 3), timeout=1)
        await asyncio.sleep(0.2)
        assert calls == 3
    finally:
        await loop.stop()


async def _reached(get, n: int) -> bool:
    return get() >= n
