"""event_lag's two producers, paced open loop: POST /projects to the registry process (http),
and outbox rows committed in this process with the real Relay publishing them (outbox)."""

from __future__ import annotations

import asyncio
import time

import orjson


async def drive_http(url: str, header: str, rate: float, seconds: float, tag: str) -> dict:
    import aiohttp

    n = int(rate * seconds)
    sent: list[tuple[int, float, float, int, str | None]] = [None] * n  # type: ignore[list-item]
    late = 0
    max_in_flight = 0
    in_flight = 0

    async def post(session, i: int) -> None:
        nonlocal in_flight, max_in_flight
        body = orjson.dumps({
            "code": f"LAG-{tag}-{i:06d}",
            "name": {"fi": f"Vertailuhanke {i}", "en": f"Benchmark project {i}"},
            "status": "planned", "start_date": "2026-01-01", "end_date": "2027-12-31",
            "region_codes": ["01", "02", "06"],
        })
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        t_send = time.time()
        pid = None
        try:
            async with session.post(url, data=body,
                                    headers={"content-type": "application/json"}) as r:
                raw = await r.read()
                status = r.status
            if status == 201:
                pid = orjson.loads(raw)["id"]
        except Exception as exc:  # noqa: BLE001
            status = -1
            print(f"    request {i} failed: {exc!r}")
        t_resp = time.time()
        in_flight -= 1
        sent[i] = (i, t_send, t_resp, status, pid)

    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector,
                                     headers={"x-teke-identity": header}) as session:
        tasks = []
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                late += 1
            tasks.append(asyncio.create_task(post(session, i)))
        t_last = time.perf_counter()
        await asyncio.gather(*tasks)
    return {"rows": sent, "late_starts": late, "max_in_flight": max_in_flight,
            "offered_rate": n / (t_last - t0) if t_last > t0 else float("nan")}


async def drive_outbox(db_url: str, nats_url: str, rate: float, seconds: float,
                        tag: str) -> dict:
    """Producer in this process: commit one project.created outbox row per tick, and run the
    real Relay (woken by the same after_commit hook as in the registry) on a NatsConnection."""
    import uuid

    from registry.models import outbox_table
    from shared.contracts.registry import PROJECT_CREATED, STREAM
    from shared.db import create_engine, make_sessionmaker
    from shared.events.nats_conn import NatsConnection, ensure_stream
    from shared.events.outbox import Outbox, make_relay

    engine = create_engine(db_url)
    maker = make_sessionmaker(engine)
    outbox = Outbox(outbox_table, "/teke/registry")
    nats_conn = NatsConnection(nats_url, "bench-producer", max_pending=2000)
    nats_conn.on_connect(lambda: ensure_stream(nats_conn.js, STREAM.name, list(STREAM.subjects)))
    # Wired as in a service (shared.service.Runtime).
    relay, relay_engine = make_relay(db_url, maker, outbox_table, nats_conn)
    n = int(rate * seconds)
    rows: list = [None] * n
    late = 0
    in_flight = max_in_flight = 0

    async def produce(i: int) -> None:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        pid = str(uuid.uuid4())
        data = {"id": pid, "version": 1, "code": f"LAG-{tag}-{i:06d}",
                "name": {"fi": f"Vertailuhanke {i}", "en": f"Benchmark project {i}"},
                "status": "planned", "start_date": "2026-01-01", "end_date": "2027-12-31",
                "organisation_id": None, "funder_id": None, "region_codes": ["01", "02", "06"]}
        t_start = time.time()
        status = 201
        try:
            async with maker() as session:
                await outbox.record(session, PROJECT_CREATED, pid, data)
                await session.commit()
        except Exception as exc:  # noqa: BLE001
            status = -1
            print(f"    commit {i} failed: {exc!r}")
        t_commit = time.time()
        in_flight -= 1
        rows[i] = (i, t_start, t_commit, status, pid)

    try:
        await nats_conn.start()
        await asyncio.wait_for(nats_conn.ready.wait(), 15)
        await relay.start()
        tasks = []
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                late += 1
            tasks.append(asyncio.create_task(produce(i)))
        t_last = time.perf_counter()
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 30
        while relay.published_total < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
        await nats_conn.close()
        await engine.dispose()
        await relay_engine.dispose()
    return {"rows": rows, "late_starts": late, "max_in_flight": max_in_flight,
            "offered_rate": n / (t_last - t0) if t_last > t0 else float("nan")}
