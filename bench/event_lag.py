"""event_lag: from a producer's commit to the indicators projection, at a steady 200 events/s.

Real processes: nats-server (JetStream, file store) and the indicators service (uvicorn, as the
embedded runner starts them; its consumer upserts project_projection and sets `updated_at`
just before its commit), on SQLite files and on fresh PostgreSQL databases. Two producers,
each open loop, paced at RATE/s:
  http     POST /projects straight to the registry process (signed x-teke-identity of an
           admin); the registry writes the project and a `project.created` outbox row and its
           relay publishes it. Reference time t_ref: the 201 arriving (the session commits
           before the response since SessionDep has scope="function"; commit_visibility
           checks that).
  outbox   this process commits one `project.created` outbox row per tick (Outbox.record) into
           the migrated registry database and runs the real Relay class, woken by the same
           after_commit hook: the event path without the registry's HTTP/ORM cost.
           t_ref: commit() returned.
A diagnostic configuration repeats the outbox producer with INDICATORS_CONSUMER_BATCH_SIZE=1
(configuration only) to show how much of the consumer's lag is its batch fetch.

Read back after each run, all on one clock (one machine):
  t_env    envelope "time", set in Outbox.record inside the transaction (before commit)
  t_js     the JetStream stored-timestamp of the event (from the message metadata)
  t_proj   project_projection.updated_at in the indicators database
Lag = t_proj - t_ref (the target figure: p99 <= 50 ms); also t_proj - t_env, split into
relay (t_js - t_env) and consumer (t_proj - t_js).
"""

from __future__ import annotations

import asyncio
import os
import time

import orjson

from bench.common import (
    FOREIGN_LIMIT,
    LoadMeter,
    PgDatabases,
    internal_identity_header,
    percentile,
    pg_available,
    proc_cpu_seconds,
    run,
    save,
    table,
    verdict,
    wait_for_quiet,
    workdir,
)
from bench.event_lag_producers import drive_http, drive_outbox

RATE = 200.0
DURATION = float(os.environ.get("TEKE_BENCH_LAG_SECONDS", "20"))
WARMUP = 2.0
TARGET_P99_MS = 50.0
NAMES = ["registry", "indicators", "comms", "gateway"]


async def _wait_ready_consumer(base: str, timeout: float = 30.0) -> None:
    """Wait until the indicators consumer has subscribed (it reports a lag figure)."""
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            async with s.get(base + "/readyz") as r:
                body = await r.json(content_type=None)
            consumers = (body.get("checks") or {}).get("consumers") or {}
            if consumers and all(c.get("lag") is not None for c in consumers.values()):
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("indicators consumer did not subscribe")


async def _collect(db_urls: dict[str, str], nats_url: str, ids: set[str],
                   timeout: float = 60.0) -> tuple[dict, dict, dict, float]:
    """Wait until every project is projected, then read t_env, t_js and t_proj per project."""
    import datetime as dt

    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from indicators.models import project_projection
    from registry.models import outbox_table

    ind = create_async_engine(db_urls["indicators"])
    reg = create_async_engine(db_urls["registry"])
    try:
        deadline = time.monotonic() + timeout
        t_wait = time.monotonic()
        while True:
            async with ind.connect() as c:
                count = await c.scalar(select(func.count()).select_from(project_projection))
            if count >= len(ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        drained_after = time.monotonic() - t_wait
        async with ind.connect() as c:
            proj = {r.id: r.updated_at.timestamp() for r in
                    (await c.execute(select(project_projection.c.id,
                                            project_projection.c.updated_at))).all()}
        async with reg.connect() as c:
            env_rows = (await c.execute(select(outbox_table.c.entity_id, outbox_table.c.envelope,
                                               outbox_table.c.id))).all()
    finally:
        await ind.dispose()
        await reg.dispose()
    env_time = {}
    event_ids = {}
    for entity_id, envelope, event_id in env_rows:
        t = orjson.loads(envelope)["time"].replace("Z", "+00:00")
        env_time[entity_id] = dt.datetime.fromisoformat(t).timestamp()
        event_ids[event_id] = entity_id

    js_time: dict[str, float] = {}
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            "teke.registry.>", stream="TEKE_REGISTRY",
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                                  inactive_threshold=30.0))
        while len(js_time) < len(env_rows):
            try:
                msgs = await sub.fetch(1000, timeout=2.0)
            except Exception:  # noqa: BLE001  (no more messages)
                break
            for m in msgs:
                eid = m.headers.get("Nats-Msg-Id") if m.headers else None
                entity = event_ids.get(eid) if eid else None
                if entity is None:
                    entity = orjson.loads(m.data)["subject"]
                js_time[entity] = m.metadata.timestamp.timestamp()
    finally:
        await nc.close()
    return env_time, js_time, proj, drained_after


def _stats(values: list[float]) -> dict[str, float]:
    v = sorted(x * 1000.0 for x in values)
    return {"n": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95),
            "p99": percentile(v, 99), "max": v[-1] if v else float("nan")}


METHODS = {
    "http": "POST /projects to the registry (HTTP, ORM, outbox, relay in the registry process)",
    "outbox": "outbox row committed by a producer in the bench process, real Relay class there",
}


def one_run(db: str, method: str, variant: str, extra_env: dict[str, str],
            seconds: float) -> dict:
    from deploy.embedded import NatsServer, Stack

    procs = ("registry", "indicators") if method == "http" else ("indicators",)
    print(f"  [{db} / {method} / {variant}] starting nats-server, {', '.join(procs)} ...",
          flush=True)
    pg = None
    with workdir(f"lag-{db}") as tmp:
        nats_srv = NatsServer(tmp / "nats")
        stack = None
        try:
            if db == "postgres":
                pg = PgDatabases(NAMES)
                urls = pg.urls
            else:
                urls = {n: f"sqlite+aiosqlite:///{tmp / n}.db" for n in NAMES}
            nats_srv.start()
            stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=urls,
                          extra_env={"REGISTRY_LOG_LEVEL": "WARNING",
                                     "INDICATORS_LOG_LEVEL": "WARNING", **extra_env})
            stack.migrate()
            for name in procs:
                stack.start(name)
            stack.wait_ready(procs)
            run(_wait_ready_consumer(stack.url("indicators")))
            tag = f"{db[:2]}{method[:2]}{variant[-2:]}".upper()
            cpu0 = {n: proc_cpu_seconds([stack.procs[n].pid]) for n in procs}
            self0 = os.times()
            meter = LoadMeter()
            t0 = time.monotonic()
            if method == "http":
                header = internal_identity_header(stack.secrets["internal_private_key"])
                driven = run(drive_http(stack.url("registry") + "/projects", header, RATE,
                                    seconds + WARMUP, tag))
            else:
                driven = run(drive_outbox(urls["registry"], nats_srv.url, RATE,
                                           seconds + WARMUP, tag))
            wall = time.monotonic() - t0
            load = meter.read()
            self1 = os.times()
            cpu = {n: 100.0 * (proc_cpu_seconds([stack.procs[n].pid]) - cpu0[n]) / wall
                   for n in procs}
            cpu["bench (driver)"] = 100.0 * ((self1.user - self0.user)
                                             + (self1.system - self0.system)) / wall
            rows = driven["rows"]
            ok = [r for r in rows if r[3] == 201]
            ids = {r[4] for r in ok}
            env_time, js_time, proj, drained = run(_collect(urls, nats_srv.url, ids))
        finally:
            if stack is not None:
                stack.stop_all()
            nats_srv.stop()
            if pg is not None:
                pg.drop()

    skip = int(RATE * WARMUP)
    measured = [r for r in ok if r[0] >= skip]
    lag_ref, lag_env, relay, consumer, producer = [], [], [], [], []
    missing = 0
    for _i, t_start, t_ref, _status, pid in measured:
        if pid not in proj:
            missing += 1
            continue
        t_proj = proj[pid]
        lag_ref.append(t_proj - t_ref)
        producer.append(t_ref - t_start)
        if pid in env_time:
            lag_env.append(t_proj - env_time[pid])
            if pid in js_time:
                relay.append(js_time[pid] - env_time[pid])
                consumer.append(t_proj - js_time[pid])
    result = {
        "db": db, "method": method, "variant": variant, "extra_env": extra_env, "rate": RATE,
        "seconds": seconds, "warmup_seconds": WARMUP, "sent": len(rows), "ok": len(ok),
        "errors": len(rows) - len(ok), "measured": len(measured), "missing": missing,
        "late_starts": driven["late_starts"], "max_in_flight": driven["max_in_flight"],
        "offered_rate": driven["offered_rate"], "wall_seconds": wall,
        "drain_after_last_response_s": drained, "steal_pct": load["steal"], "busy_pct": load["busy"],
        "foreign_pct": load["foreign"], "cpu_pct": cpu,
        "completed_per_s": len(ok) / (max(r[2] for r in ok) - min(r[1] for r in ok))
        if ok else float("nan"),
        "lag_ref_ms": _stats(lag_ref), "lag_env_ms": _stats(lag_env),
        "relay_ms": _stats(relay), "consumer_ms": _stats(consumer),
        "producer_ms": _stats(producer),
    }
    lr = result["lag_ref_ms"]
    print(f"    sent {len(rows)} ok {len(ok)} at {driven['offered_rate']:.0f}/s offered, "
          f"steal {load['steal']:.1f}%, other load {load['foreign']:.1f}%, missing {missing}; "
          f"lag p50 {lr['p50']:.1f} "
          f"p95 {lr['p95']:.1f} p99 {lr['p99']:.1f} ms; CPU % "
          + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()), flush=True)
    return result


def main(dbs: list[str]) -> dict:
    print(f"event_lag: {RATE:.0f} events/s for {DURATION:.0f} s (+{WARMUP:.0f} s warm-up), "
          f"commit -> NATS -> indicators projection", flush=True)
    for m, text in METHODS.items():
        print(f"  method {m}: {text}")
    runs = []
    plan = [("http", "default", {}, DURATION),
            ("outbox", "default", {}, DURATION),
            ("outbox", "consumer_batch_1", {"INDICATORS_CONSUMER_BATCH_SIZE": "1"}, DURATION / 2)]
    # TEKE_BENCH_LAG_ONLY=outbox:default,outbox:consumer_batch_1 runs just those (repeat a pair).
    only = [x for x in os.environ.get("TEKE_BENCH_LAG_ONLY", "").split(",") if x]
    if only:
        plan = [p for p in plan if f"{p[0]}:{p[1]}" in only]
    for db in dbs:
        if db == "postgres" and not pg_available():
            continue
        for method, variant, env, seconds in plan:
            for attempt in range(3):
                if attempt:
                    print(wait_for_quiet(max_wait=120), flush=True)
                try:
                    r = one_run(db, method, variant, env, seconds)
                except Exception as exc:  # noqa: BLE001  (report it, go on with the others)
                    print(f"    FAILED: {exc!r}"[:2000], flush=True)
                    r = None
                    break
                r["attempt"] = attempt + 1
                if r["foreign_pct"] <= FOREIGN_LIMIT:
                    break
                print(f"    other processes used {r['foreign_pct']:.0f} % of the machine during "
                      f"this run (limit {FOREIGN_LIMIT:g} %): repeating it", flush=True)
            if r is not None:
                runs.append(r)
                save("event_lag-partial", {"benchmark": "event_lag", "runs": runs})
    rows = []
    for r in runs:
        ref = "201 received" if r["method"] == "http" else "commit returned"
        for label, key in ((f"{ref} -> projection", "lag_ref_ms"),
                           ("envelope time -> projection", "lag_env_ms"),
                           ("  relay: envelope time -> JetStream stored", "relay_ms"),
                           ("  consumer: JetStream stored -> projection", "consumer_ms"),
                           ("producer: POST latency" if r["method"] == "http"
                            else "producer: record + commit", "producer_ms")):
            s = r[key]
            target = ""
            if key == "lag_ref_ms":
                target = f"p99 <= {TARGET_P99_MS:.0f} ms: {verdict(s['p99'] <= TARGET_P99_MS)}"
            rows.append([r["db"], r["method"], r["variant"], label, f"{s['p50']:.1f}",
                         f"{s['p95']:.1f}", f"{s['p99']:.1f}", f"{s['max']:.1f}", s["n"],
                         target])
    print()
    print(table(["db", "method", "config", "figure", "p50 ms", "p95 ms", "p99 ms", "max ms",
                 "n", "target"], rows))
    print()
    print(table(["db", "method", "config", "sent", "errors", "offered/s", "completed/s",
                 "max in flight", "late starts", "steal %", "machine busy %", "other load %",
                 "CPU % of one vCPU"],
                [[r["db"], r["method"], r["variant"], r["sent"], r["errors"],
                  f"{r['offered_rate']:.1f}", f"{r['completed_per_s']:.1f}", r["max_in_flight"],
                  r["late_starts"], f"{r['steal_pct']:.1f}", f"{r['busy_pct']:.0f}",
                  f"{r['foreign_pct']:.1f}",
                  ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_pct"].items())] for r in runs]))
    data = {"benchmark": "event_lag", "runs": runs}
    print(f"  raw: {save('event_lag', data)}")
    return data


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or ["sqlite", "postgres"])
