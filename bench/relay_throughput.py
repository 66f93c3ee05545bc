"""relay_throughput: events/s the outbox Relay publishes and gets acknowledged, vs a bare loop.

For each database (a migrated registry database: SQLite file, or a fresh PostgreSQL database):
  relay   N outbox rows are pre-filled with Outbox.record_many (project.created envelopes of a
          realistic size), then shared.events.outbox.Relay is started on a NatsConnection with
          the service defaults (batch 500, 2000 in flight) and timed until all N are published,
          acknowledged and marked (backlog 0, checked).
  bare    in the same run, on the same nats-server: a bare nats-py loop of N `js.publish_async`
          with the same payload size, the same Nats-Msg-Id header and the same in-flight bound,
          to a stream of the same configuration, then `publish_async_completed()`. This is the
          baseline (the reference figure on this machine is about 37,000 msg/s without headers;
          the header-less loop is run too).
Rounds alternate bare / relay; each figure is median [min-max] over the rounds.
Target: relay >= 0.25x the bare loop on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import orjson

from bench.common import (
    FOREIGN_LIMIT,
    LoadMeter,
    PgDatabases,
    median,
    pg_available,
    run,
    save,
    spread,
    table,
    verdict,
    wait_for_quiet,
    workdir,
)

N = int(os.environ.get("TEKE_BENCH_RELAY_N", "50000"))
ROUNDS = int(os.environ.get("TEKE_BENCH_RELAY_ROUNDS", "3"))
MAX_IN_FLIGHT = 2000  # ServiceSettings.outbox_max_in_flight
TARGET_RATIO = 0.25


def _event_data(i: int) -> dict:
    return {"id": str(uuid.uuid4()), "version": 1, "code": f"ESR-{i:07d}",
            "name": {"fi": f"Työelämän kehittämishanke {i}", "sv": f"Arbetslivsprojekt {i}",
                     "en": f"Working life development project {i}"},
            "status": "active", "start_date": "2026-01-01", "end_date": "2027-12-31",
            "organisation_id": str(uuid.uuid4()), "funder_id": str(uuid.uuid4()),
            "region_codes": ["01", "02", "06", "11"]}


async def _fill(maker, outbox, n: int, chunk: int = 5000) -> float:
    from shared.contracts.registry import PROJECT_CREATED

    t0 = time.perf_counter()
    for start in range(0, n, chunk):
        events = []
        for i in range(start, min(n, start + chunk)):
            data = _event_data(i)
            events.append((PROJECT_CREATED, data["id"], data))
        async with maker() as session:
            await outbox.record_many(session, events)
            await session.commit()
    return time.perf_counter() - t0


async def _clear(engine, table) -> None:
    from sqlalchemy import delete, text

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {table.name}"))
        else:
            await conn.execute(delete(table))
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"VACUUM ANALYZE {table.name}"))


async def _stream_count(js, name: str) -> int:
    info = await js.stream_info(name)
    return int(info.state.messages)


async def relay_round(db_url: str, nats_url: str, n: int) -> dict:
    from registry.models import outbox_table
    from shared.contracts.registry import STREAM
    from shared.db import create_engine, make_sessionmaker
    from shared.events.nats_conn import NatsConnection, ensure_stream
    from shared.events.outbox import Outbox, Relay

    engine = create_engine(db_url)
    maker = make_sessionmaker(engine)
    conn = NatsConnection(nats_url, "bench-relay", max_pending=MAX_IN_FLIGHT)
    conn.on_connect(lambda: ensure_stream(conn.js, STREAM.name, list(STREAM.subjects)))
    relay = Relay(maker, outbox_table, conn)  # service defaults: batch 500, poll 1 s
    try:
        await _clear(engine, outbox_table)
        fill_s = await _fill(maker, Outbox(outbox_table, "/teke/registry"), n)
        async with maker() as s:
            from sqlalchemy import func, select

            size = await s.scalar(select(func.avg(func.length(outbox_table.c.envelope))))
        await conn.start()
        await asyncio.wait_for(conn.ready.wait(), 15)
        await conn.js.purge_stream(STREAM.name)
        meter = LoadMeter()
        t0 = time.perf_counter()
        await relay.start()
        while relay.published_total < n:
            await asyncio.sleep(0.002)
            if time.perf_counter() - t0 > 300:
                raise RuntimeError(f"relay stuck at {relay.published_total}/{n}")
        elapsed = time.perf_counter() - t0
        load = meter.read()
        await relay.stop()
        backlog = await relay.backlog()
        stored = await _stream_count(conn.js, STREAM.name)
    finally:
        await relay.stop()
        await conn.close()
        await engine.dispose()
    if backlog != 0 or stored != n:
        raise RuntimeError(f"relay finished with backlog {backlog}, {stored} stored of {n}")
    return {"rate": n / elapsed, "seconds": elapsed, "fill_rows_per_s": n / fill_s,
            "payload_bytes": float(size or 0), "steal_pct": load["steal"], "busy_pct": load["busy"],
            "foreign_pct": load["foreign"]}


async def bare_round(nats_url: str, n: int, payload_bytes: int, headers: bool) -> dict:
    import nats
    from nats.js.api import StorageType, StreamConfig

    from shared.events.nats_conn import DUPLICATE_WINDOW_SECONDS

    payload = orjson.dumps({"pad": "x" * max(0, payload_bytes - 10)})[:payload_bytes]
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    try:
        js = nc.jetstream(timeout=5, publish_async_max_pending=MAX_IN_FLIGHT)
        config = StreamConfig(name="BENCH", subjects=["bench.>"], storage=StorageType.FILE,
                              duplicate_window=DUPLICATE_WINDOW_SECONDS)
        try:
            await js.delete_stream("BENCH")
        except Exception:  # noqa: BLE001  (not there yet)
            pass
        await js.add_stream(config)
        ids = [str(uuid.uuid4()) for _ in range(n)] if headers else None
        meter = LoadMeter()
        t0 = time.perf_counter()
        futures = []
        for i in range(n):
            hdr = {"Nats-Msg-Id": ids[i]} if ids else None
            futures.append(await js.publish_async("bench.project.created", payload, headers=hdr,
                                                  wait_stall=5.0))
        await js.publish_async_completed()
        elapsed = time.perf_counter() - t0
        load = meter.read()
        errors = sum(1 for f in futures if f.cancelled() or f.exception() is not None)
        stored = await _stream_count(js, "BENCH")
        await js.delete_stream("BENCH")
    finally:
        await nc.close()
    return {"rate": n / elapsed, "seconds": elapsed, "errors": errors, "stored": stored,
            "steal_pct": load["steal"], "busy_pct": load["busy"], "foreign_pct": load["foreign"]}


def one_db(db: str) -> dict:
    from deploy.embedded import NatsServer, Stack

    print(f"  [{db}] N = {N}, {ROUNDS} rounds (bare with headers, bare without, relay)",
          flush=True)
    pg = None
    rounds = []
    with workdir(f"relay-{db}") as tmp:
        nats_srv = NatsServer(tmp / "nats")
        try:
            if db == "postgres":
                pg = PgDatabases(["registry"])
                url = pg.urls["registry"]
            else:
                url = f"sqlite+aiosqlite:///{tmp / 'registry'}.db"
            nats_srv.start()
            Stack(tmp / "stack", nats_url=nats_srv.url, db_urls={"registry": url}) \
                .run_cli("registry", "migrate")
            payload = 0
            for r in range(ROUNDS):
                other = 0.0
                for attempt in range(2):
                    if attempt:
                        print(f"    other processes loaded the machine ({other:.0f} %): "
                              f"repeating round {r + 1}", flush=True)
                        print(wait_for_quiet(max_wait=60), flush=True)
                    rel = run(relay_round(url, nats_srv.url, N))
                    payload = int(rel["payload_bytes"])
                    bare_h = run(bare_round(nats_srv.url, N, payload, headers=True))
                    bare = run(bare_round(nats_srv.url, N, payload, headers=False))
                    other = max(rel["foreign_pct"], bare_h["foreign_pct"], bare["foreign_pct"])
                    if other <= FOREIGN_LIMIT:
                        break
                rounds.append({"relay": rel, "bare_headers": bare_h, "bare": bare,
                               "attempts": attempt + 1})
                print(f"    round {r + 1}: relay {rel['rate']:,.0f}/s, bare+msgid "
                      f"{bare_h['rate']:,.0f}/s, bare {bare['rate']:,.0f}/s "
                      f"(payload {payload} B; fill {rel['fill_rows_per_s']:,.0f} rows/s; "
                      f"steal {rel['steal_pct']:.1f}/{bare_h['steal_pct']:.1f}%, other load "
                      f"{other:.1f}%)", flush=True)
        finally:
            nats_srv.stop()
            if pg is not None:
                pg.drop()
    relay = [r["relay"]["rate"] for r in rounds]
    bare_h = [r["bare_headers"]["rate"] for r in rounds]
    bare = [r["bare"]["rate"] for r in rounds]
    paired = [r["relay"]["rate"] / r["bare_headers"]["rate"] for r in rounds]
    return {"db": db, "n": N, "rounds": rounds, "relay": relay, "bare_headers": bare_h,
            "bare": bare, "paired_ratio": paired, "ratio_of_medians": median(relay) / median(bare_h),
            "ratio_vs_no_header_loop": median(relay) / median(bare),
            "errors": sum(r["bare_headers"]["errors"] + r["bare"]["errors"] for r in rounds),
            "steal": [r["relay"]["steal_pct"] for r in rounds],
            "foreign": [max(r[k]["foreign_pct"] for k in ("relay", "bare_headers", "bare"))
                        for r in rounds],
            "busy": [r["relay"]["busy_pct"] for r in rounds]}


def main(dbs: list[str]) -> dict:
    print("relay_throughput: outbox Relay vs a bare js.publish_async loop, same run", flush=True)
    results = []
    for db in dbs:
        if db == "postgres" and not pg_available():
            continue
        try:
            results.append(one_db(db))
        except Exception as exc:  # noqa: BLE001
            print(f"    FAILED on {db}: {exc!r}"[:2000], flush=True)
    rows = []
    for r in results:
        ratio = median(r["paired_ratio"])
        target = (f">= {TARGET_RATIO}x: {verdict(ratio >= TARGET_RATIO)}"
                  if r["db"] == "postgres" else f"(target is for PostgreSQL; >= {TARGET_RATIO}x "
                  f"would be {verdict(ratio >= TARGET_RATIO)})")
        rows.append([r["db"], spread(r["relay"], "{:,.0f}"), spread(r["bare_headers"], "{:,.0f}"),
                      spread(r["bare"], "{:,.0f}"), spread(r["paired_ratio"], "{:.3f}"),
                      f"{r['ratio_vs_no_header_loop']:.3f}",
                      spread(r["steal"], "{:.1f}"), spread(r["foreign"], "{:.1f}"), target])
    print()
    print(table(["db", "relay msg/s", "bare loop + Nats-Msg-Id msg/s (baseline)",
                 "bare loop, no headers msg/s", "relay / baseline (paired)",
                 "relay / no-header loop (medians)", "steal % (relay)", "other load %", "target"],
                rows))
    data = {"benchmark": "relay_throughput", "results": results}
    print(f"  raw: {save('relay_throughput', data)}")
    return data


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or ["sqlite", "postgres"])
