"""indicators_ingest: bulk ingest of reported values through the API on PostgreSQL
(target >= 50,000 values/s).

Real processes: nats-server and the indicators service (uvicorn) on a fresh PostgreSQL
database, 400 projects in its projection. The driver POSTs /reports/import straight to the
service (signed admin identity header), each request 100 reports x 500 values (50,000 values,
every one checked: known indicator, bounds, gender breakdown adding up), then submits none
(drafts). Values/s = values stored / wall time of the requests, sequential and with 2
concurrent clients, over ROUNDS rounds (median [min-max]); also the service's own CPU per value
(utime+stime of the uvicorn process, steadier than wall time on this shared machine) and the
other load in each window. Same-run baseline: the same rows inserted with SQLAlchemy
executemany (insertmanyvalues) instead of COPY, measured in this process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

from bench.common import (
    LoadMeter,
    PgDatabases,
    child_pids,
    internal_identity_header,
    median,
    pg_available,
    proc_cpu_seconds,
    spread,
    table,
    verdict,
    workdir,
)

NAMES = ["registry", "indicators", "comms", "gateway"]
REPORTS_PER_REQUEST = 100
VALUES_PER_REPORT = 500
REQUESTS = 5
ROUNDS = 3
TARGET = 50_000
PERIODS = [f"{y}{q}" for y in (2022, 2023, 2024, 2025) for q in ("Q1", "Q2", "Q3", "Q4")]


async def _projects(dsn: str, n: int) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    now = dt.datetime.now(dt.UTC)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    try:
        await conn.copy_records_to_table("project_projection", records=[
            (pid, 1, f"I-{i}", '{"fi": "x"}', "active", dt.date(2022, 1, 1), dt.date(2025, 12, 31),
             "org", "funder", '["06"]', 1, now) for i, pid in enumerate(ids)], columns=[
            "id", "version", "code", "name", "status", "start_date", "end_date", "organisation_id",
            "funder_id", "region_codes", "applied_count", "updated_at"])
    finally:
        await conn.close()
    return ids


def _body(projects: list[str], period: str) -> bytes:
    import orjson

    codes = ["EECO01", "EECO05", "EECO07", "EECO08", "EECO12"]
    reports = []
    for pid in projects:
        values = [{"indicator_code": codes[0], "value": 10,
                   "disaggregations": {"gender": {"women": 6, "men": 4, "non_binary": 0}}}]
        # Custom indicators would be the usual bulk case; here: many programme-specific codes.
        values += [{"indicator_code": f"BULK{j:03d}", "value": j % 40} for j in range(VALUES_PER_REPORT - 1)]
        reports.append({"project_id": pid, "period": period, "values": values})
    return orjson.dumps({"reports": reports})


async def _define(url: str, header: str) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60, headers={"x-teke-identity": header}) as c:
        for j in range(VALUES_PER_REPORT - 1):
            r = await c.post(url + "/indicators/definitions", json={
                "code": f"BULK{j:03d}", "name": {"fi": f"Bulk {j}"}, "family": "custom",
                "min_value": 0, "max_value": 100})
            assert r.status_code == 201, r.text


async def _drive(url: str, header: str, bodies: list[bytes], concurrency: int) -> float:
    import httpx

    queue = list(bodies)

    async def worker(c):
        while queue:
            body = queue.pop()
            r = await c.post(url + "/reports/import", content=body,
                             headers={"content-type": "application/json"})
            assert r.status_code == 201, r.text[:500]

    async with httpx.AsyncClient(timeout=300, headers={"x-teke-identity": header}) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(concurrency)))
        return time.perf_counter() - t0


async def _baseline(url: str, n: int) -> float:
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from indicators.models import reported_value

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rid = await conn.scalar(__import__("sqlalchemy").text("SELECT id FROM report LIMIT 1"))
            rows = [{"report_id": rid, "indicator_code": "EECO01", "value": float(i),
                     "disaggregations": None, "counted_ids": None} for i in range(n)]
            t0 = time.perf_counter()
            await conn.execute(insert(reported_value), rows)
            return n / (time.perf_counter() - t0)
    finally:
        await engine.dispose()


def main(dbs: list[str] | None = None) -> None:
    from deploy.embedded import NatsServer, Stack

    if dbs and "postgres" not in dbs:
        print("indicators_ingest: PostgreSQL only; skipped")
        return
    if not pg_available():
        return
    per_req = REPORTS_PER_REQUEST * VALUES_PER_REPORT
    print(f"indicators_ingest: POST /reports/import, {REPORTS_PER_REQUEST} reports x "
          f"{VALUES_PER_REPORT} values per request, PostgreSQL")
    with workdir("ingest") as tmp:
        pg = PgDatabases(NAMES)
        nats_srv = NatsServer(tmp / "nats")
        stack = None
        try:
            nats_srv.start()
            stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=pg.urls,
                          extra_env={"INDICATORS_LOG_LEVEL": "WARNING"})
            stack.run_cli("indicators", "migrate")
            dsn = pg.urls["indicators"].replace("postgresql+asyncpg://", "postgresql://")
            projects = asyncio.run(_projects(dsn, REPORTS_PER_REQUEST * 2))
            stack.start("indicators")
            stack.wait_ready(["indicators"])
            url = stack.url("indicators")
            header = internal_identity_header(stack.secrets["internal_private_key"])
            asyncio.run(_define(url, header))
            pid = stack.procs["indicators"].pid
            pids = [pid, *child_pids(pid)]
            results: dict[int, list[tuple[float, float, dict]]] = {1: [], 2: []}
            used = 0
            for _ in range(ROUNDS):
                for conc in (1, 2):
                    bodies = []
                    for _ in range(REQUESTS):
                        half = (used // len(PERIODS)) % 2
                        group = projects[half * REPORTS_PER_REQUEST:(half + 1) * REPORTS_PER_REQUEST]
                        bodies.append(_body(group, PERIODS[used % len(PERIODS)]))
                        used += 1
                    meter, cpu0 = LoadMeter(), proc_cpu_seconds(pids)
                    wall = asyncio.run(_drive(url, header, bodies, conc))
                    cpu = proc_cpu_seconds(pids) - cpu0
                    n = REQUESTS * per_req
                    results[conc].append((n / wall, cpu / n * 1e6, meter.read()))
            rows = []
            for conc, rs in results.items():
                rates = [r for r, _, _ in rs]
                rows.append([str(conc), f"{REQUESTS * per_req:,} x {ROUNDS}", spread(rates, "{:,.0f}"),
                             spread([c for _, c, _ in rs], "{:.1f}"),
                             spread([m["foreign"] for _, _, m in rs], "{:.0f}"),
                             spread([m["steal"] for _, _, m in rs], "{:.0f}"),
                             f">= {TARGET:,}", verdict(median(rates) >= TARGET)])
            base = asyncio.run(_baseline(pg.urls["indicators"], per_req))
            print(table(["clients", "values", "values/s", "service CPU us/value",
                         "other load %",
                         "steal %", "target", "verdict"], rows))
            print(f"baseline (same run): SQLAlchemy executemany of {per_req:,} value rows in one "
                  f"transaction, no HTTP, no checks: {base:,.0f} rows/s")
        finally:
            if stack:
                stack.stop_all()
            nats_srv.stop()
            pg.drop()


if __name__ == "__main__":
    main()
