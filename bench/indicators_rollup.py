"""indicators_rollup: GET /analyses/rollup (region x indicator x year) through the service's
HTTP API over 1,000,000 approved reported values on PostgreSQL (target p50 <= 150 ms), and
optionally 10,000,000 (TEKE_BENCH_ROLLUP_SIZES=1000000,10000000; target <= 500 ms).

Real processes: nats-server and the indicators service (uvicorn) on a fresh PostgreSQL
database. Data: 2,000 projects in 19 regions (some in two), 10 funders, 8 half-years, 37
indicators; reports and values are loaded with COPY, and the pre-aggregated `rollup` table is
filled by the same GROUP BY the approve path applies per report (approve adds each report's
sums in its own transaction; loading 1 M values through approve is what indicators_ingest
measures). Same-run baseline: the bare GROUP BY over reported_value x report x project that
the rollup table replaces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
import uuid

from bench.common import (
    PgDatabases,
    internal_identity_header,
    percentile,
    pg_available,
    table,
    verdict,
    workdir,
)

SIZES = [int(x) for x in os.environ.get("TEKE_BENCH_ROLLUP_SIZES", "1000000").split(",")]
TARGETS = {1_000_000: 150.0, 10_000_000: 500.0}
NAMES = ["registry", "indicators", "comms", "gateway"]
PERIODS = [f"{y}H{h}" for y in (2022, 2023, 2024, 2025) for h in (1, 2)]
REQUESTS = 60


async def _load(dsn: str, n_values: int) -> None:
    import asyncpg

    from indicators.seed import _read

    codes = [d["code"] for d in _read("indicators.json")]
    conn = await asyncpg.connect(dsn)
    try:
        now = dt.datetime.now(dt.UTC)
        projects = []
        for i in range(2000):
            regions = [f"{i % 19 + 1:02d}"] + ([f"{(i + 7) % 19 + 1:02d}"] if i % 5 == 0 else [])
            projects.append((str(uuid.uuid4()), 1, f"B-{i}", '{"fi": "x"}', "active",
                             dt.date(2022, 1, 1), dt.date(2025, 12, 31), str(uuid.uuid4()),
                             f"funder-{i % 10}", str(regions).replace("'", '"'), 1, now))
        await conn.copy_records_to_table("project_projection", records=projects, columns=[
            "id", "version", "code", "name", "status", "start_date", "end_date",
            "organisation_id", "funder_id", "region_codes", "applied_count", "updated_at"])
        reports = []
        for p in projects:
            for per in PERIODS:
                y, h = int(per[:4]), per[-1]
                start, end = (dt.date(y, 1, 1), dt.date(y, 6, 30)) if h == "1" else \
                    (dt.date(y, 7, 1), dt.date(y, 12, 31))
                reports.append((str(uuid.uuid4()), p[0], per, start, end, 1, "approved", now, now))
        await conn.copy_records_to_table("report", records=reports, columns=[
            "id", "project_id", "period", "period_start", "period_end", "revision", "status",
            "created_at", "updated_at"])
        per_report = max(1, n_values // len(reports))
        batch: list[tuple] = []
        for r in reports:
            for j in range(per_report):
                batch.append((r[0], codes[j % len(codes)], float((j * 7 + len(batch)) % 50)))
            if len(batch) >= 200_000:
                await conn.copy_records_to_table("reported_value", records=batch,
                                                 columns=["report_id", "indicator_code", "value"])
                batch = []
        if batch:
            await conn.copy_records_to_table("reported_value", records=batch,
                                             columns=["report_id", "indicator_code", "value"])
        await conn.execute("""
            INSERT INTO rollup (indicator_code, period, year, region_code, funder_id, theme_id,
                                programme_id, total, n)
            SELECT v.indicator_code, r.period, extract(year FROM r.period_start)::int,
                   reg.code, coalesce(p.funder_id, ''), '', '', sum(v.value), count(*)
            FROM reported_value v JOIN report r ON r.id = v.report_id
            JOIN project_projection p ON p.id = r.project_id
            CROSS JOIN LATERAL json_array_elements_text(p.region_codes) AS reg(code)
            WHERE r.status IN ('approved', 'locked')
            GROUP BY 1, 2, 3, 4, 5""")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _baseline(dsn: str) -> float:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            await conn.fetch("""
                SELECT reg.code, v.indicator_code, extract(year FROM r.period_start) AS y,
                       sum(v.value), count(*)
                FROM reported_value v JOIN report r ON r.id = v.report_id
                JOIN project_projection p ON p.id = r.project_id
                CROSS JOIN LATERAL json_array_elements_text(p.region_codes) AS reg(code)
                WHERE r.status IN ('approved', 'locked') GROUP BY 1, 2, 3""")
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)
    finally:
        await conn.close()


async def _drive(url: str, header: str) -> list[float]:
    import httpx

    out = []
    async with httpx.AsyncClient(timeout=30, headers={"x-teke-identity": header}) as c:
        for i in range(REQUESTS + 5):
            t0 = time.perf_counter()
            r = await c.get(url, params={"group_by": "region,indicator,year"})
            ms = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200 and r.json()["total"] > 0, r.text[:300]
            if i >= 5:
                out.append(ms)
    return sorted(out)


def _one(n_values: int) -> list[str]:
    from deploy.embedded import NatsServer, Stack

    with workdir("rollup") as tmp:
        pg = PgDatabases(NAMES)
        nats_srv = NatsServer(tmp / "nats")
        stack = None
        try:
            nats_srv.start()
            stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=pg.urls,
                          extra_env={"INDICATORS_LOG_LEVEL": "WARNING"})
            stack.run_cli("indicators", "migrate")
            dsn = pg.urls["indicators"].replace("postgresql+asyncpg://", "postgresql://")
            t0 = time.monotonic()
            asyncio.run(_load(dsn, n_values))
            load_s = time.monotonic() - t0
            rows = asyncio.run(_count(dsn))
            stack.start("indicators")
            stack.wait_ready(["indicators"])
            header = internal_identity_header(stack.secrets["internal_private_key"])
            lat = asyncio.run(_drive(stack.url("indicators") + "/analyses/rollup", header))
            base = asyncio.run(_baseline(dsn))
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            target = TARGETS.get(n_values, 150.0)
            return [f"{rows[0]:,}", f"{rows[1]:,}", f"{load_s:.0f}", f"{p50:.1f}", f"{p95:.1f}",
                    f"<= {target:.0f}", verdict(p50 <= target), f"{base:.0f}", f"x{base / p50:.0f}"]
        finally:
            if stack:
                stack.stop_all()
            nats_srv.stop()
            pg.drop()


async def _count(dsn: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return (await conn.fetchval("SELECT count(*) FROM reported_value"),
                await conn.fetchval("SELECT count(*) FROM rollup"))
    finally:
        await conn.close()


def main(dbs: list[str] | None = None) -> None:
    if dbs and "postgres" not in dbs:
        print("indicators_rollup: PostgreSQL only; skipped")
        return
    if not pg_available():
        return
    print(f"indicators_rollup: GET /analyses/rollup?group_by=region,indicator,year, "
          f"{REQUESTS} sequential requests after 5 warm-up, PostgreSQL")
    rows = [_one(n) for n in SIZES]
    print(table(["values", "rollup rows", "load s", "p50 ms", "p95 ms", "target", "verdict",
                 "bare GROUP BY ms", "ratio"], rows))


if __name__ == "__main__":
    main()
