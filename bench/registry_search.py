"""Filtered full-text search with facets over N projects (default 100,000): p50/p95 per database.

`python -m bench.registry_search [--projects 100000] [--db sqlite,postgres] [--queries 300]
 [--rounds 3] [--keep] [--db-name NAME]`

Loads the deterministic demo generator's projects (with 2,000 organisations as leads, partners
and 10 funders, one theme) into a fresh database through the registry's own bulk-import code
(in-process; COPY on PostgreSQL), then times the list query path the endpoint uses
(registry.projects.query.run: filters + full-text search + total + facets, limit 20, anonymous
caller) in-process, so the figure is the database and query cost without HTTP or the gateway.
Each round is `--queries` queries in a random mix, each run on both paths back to back: the
in-memory project index (the service's default) and the SQL-only path as the baseline. The table
gives each round's p50/p95 per path and the other load of its window. `--keep` keeps the
databases (named by size) for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import time
from pathlib import Path

from bench.common import (
    OUT,
    PG_BASE,
    LoadMeter,
    _pg_exec,
    machine_info,
    median,
    percentile,
    pg_available,
    save,
    table,
)

QUERIES = [
    ({"q": "työhyvinvointi"}, "fts fi"),
    ({"q": "ikäjohtaminen", "region": ["17"]}, "fts fi + region"),
    ({"q": "digital work", "lang": "en", "status": ["active"]}, "fts en + status"),
    ({"q": "välbefinnande"}, "fts sv"),
    ({"region": ["06"], "status": ["active"]}, "filters only"),
    ({"q": "tuottavuus", "budget_min": 300000, "active_from": "2024-01-01"}, "fts + budget + term"),
    ({"q": "tampere", "target_group": ["companies"]}, "fts place + target group"),
]
ORGS, FUNDERS = 2000, 10


async def _count(url: str) -> int:
    from sqlalchemy import text

    from shared.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM project")))
    finally:
        await engine.dispose()


async def _load(url: str, n: int) -> float:
    from sqlalchemy import insert, text

    from registry.demo import SEED_ACTOR, demo_organisations, demo_projects
    from registry.main import spec
    from registry.models import Organisation, Theme
    from registry.projects.imports.service import run_import
    from shared.db import create_engine, make_sessionmaker
    from shared.uow import UnitOfWork

    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    outbox = spec.outbox()
    orgs = demo_organisations(ORGS, seed=7)
    for o in orgs[:FUNDERS]:
        o.update(kind="funding_authority", size_class=None, sector="public")
    async with maker() as s:
        await s.execute(insert(Organisation), [{**o, "version": 1} for o in orgs])
        await s.execute(insert(Theme), [{"id": "theme-bench", "code": "BENCH", "version": 1,
                                         "name": {"fi": "Teema"}, "specific_objective": "ESO4.7"}])
        await s.commit()
    ids = [o["id"] for o in orgs]
    rows = demo_projects(n, seed=7, org_ids=ids[FUNDERS:], funder_ids=ids[:FUNDERS],
                         theme_id="theme-bench")
    t0 = time.perf_counter()
    for c in range(0, n, 10_000):
        async with maker() as s:
            status, res = await run_import(UnitOfWork(s, outbox), SEED_ACTOR, rows[c:c + 10_000],
                                           "best_effort")
            assert res["summary"]["rejected"] == 0, res["summary"]
            await s.execute(text("DELETE FROM outbox"))  # not measured here; keeps the DB small
            await s.commit()
    elapsed = time.perf_counter() - t0
    async with engine.connect() as conn:
        # What autovacuum would soon do: the search table's trigger rewrote each new row once.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE" if "postgresql" in url else "ANALYZE"))
    await engine.dispose()
    return elapsed


def _query(params: dict):
    from registry.projects import query as pquery

    pq = pquery.ProjectQuery(**{k: v for k, v in params.items() if k != "active_from"},
                             sort="-rank" if "q" in params else "code")
    if "active_from" in params:
        pq.active_from = dt.date.fromisoformat(params["active_from"])
    return pq


async def _measure(url: str, queries: int, seed: int, paths: list[str]
                   ) -> dict[str, dict[str, list[float]]]:
    """Each query through every path, back to back in alternating order (paired under the
    same load); the first 20 warm up (the index is built by the first)."""
    from registry.projects import query as pquery
    from shared.db import create_engine, make_sessionmaker
    from shared.identity import Identity

    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    public = Identity(sub="anonymous")
    rnd = random.Random(seed)
    times = {path: {label: [] for _, label in QUERIES} for path in paths}
    cpu = {path: [] for path in paths}
    rss0 = _rss_mb()
    index_mb = None
    for i in range(queries + 20):
        params, label = QUERIES[rnd.randrange(len(QUERIES))]
        for path in (paths if i % 2 else paths[::-1]):
            async with maker() as s:
                t0, c0 = time.perf_counter(), time.process_time()
                await pquery.run(s, public, _query(params), limit=20, cursor=None,
                                 with_facets=True, lang="fi", use_index=path == "index")
                dt_ms = (time.perf_counter() - t0) * 1000
                cpu_ms = (time.process_time() - c0) * 1000
            if path == "index" and index_mb is None:  # the first index query builds it
                gc.collect()
                index_mb = _rss_mb() - rss0
            if i >= 20:
                times[path][label].append(dt_ms)
                cpu[path].append(cpu_ms)
        if i == 19:  # as the service does once its index is built (registry/main.py)
            gc.collect()
            gc.freeze()
    await engine.dispose()
    return times, cpu, index_mb


def _rss_mb() -> float:
    """This process's resident memory (MB), for the index's size (built in this process)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry_search")
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--paths", default="index,sql",
                        help="index: the in-memory project index (the service's default); "
                        "sql: the SQL-only path, the baseline")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the loaded databases")
    parser.add_argument("--db-name", help="database name (default teke_bench_regsearch_N); "
                        "e.g. a copy kept at an older schema, for a paired run of older code")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    from registry.cli import MIGRATIONS
    from shared.logging import configure_logging
    from shared.migrate import upgrade

    configure_logging("bench", "ERROR", json=False)
    info = machine_info()
    print(f"registry_search: {args.projects} projects, {args.rounds} x {args.queries} queries; "
          f"{info['nproc']} vCPU {info['cpu_model']}, Python {info['python']}, {info['started']}")
    rows, summary, saved = [], [], []
    out = OUT
    out.mkdir(exist_ok=True)
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        name = args.db_name or f"teke_bench_regsearch_{args.projects}"
        if db == "postgres":
            if not pg_available():
                continue
            asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"')) if not _pg_has(name) else None
            url = PG_BASE.replace("postgresql://", "postgresql+asyncpg://") + "/" + name
        else:
            path = out / f"{name}.db"
            if not args.keep:
                path.unlink(missing_ok=True)
            url = f"sqlite+aiosqlite:///{path}"
        try:
            upgrade(MIGRATIONS, url)
            have = asyncio.run(_count(url))
            if have == 0:
                load_s = asyncio.run(_load(url, args.projects))
                print(f"  {db}: loaded in {load_s:.1f} s "
                      f"({args.projects / load_s:.0f} projects/s in-process)")
            elif have != args.projects:
                raise SystemExit(f"{url} holds {have} projects, not {args.projects}")
            p50s = {p: [] for p in paths}
            p95s = {p: [] for p in paths}
            loads, cpus, index_mbs = [], {p: [] for p in paths}, []
            for r in range(args.rounds):
                meter = LoadMeter()
                times, cpu, index_mb = asyncio.run(_measure(url, args.queries, seed=r + 1,
                                                            paths=paths))
                loads.append(meter.read()["foreign"])
                for way in paths:
                    cpus[way].append(median(cpu[way]))
                if index_mb is not None:
                    index_mbs.append(index_mb)
                for way in paths:
                    every = sorted(t for ts in times[way].values() for t in ts)
                    p50s[way].append(percentile(every, 50))
                    p95s[way].append(percentile(every, 95))
                    for label, ts in times[way].items():
                        ts.sort()
                        rows.append([db, way, str(r + 1), label, str(len(ts)),
                                     f"{percentile(ts, 50):.1f}", f"{percentile(ts, 95):.1f}"])
                    rows.append([db, way, str(r + 1), "**all**", str(len(every)),
                                 f"{p50s[way][-1]:.1f}", f"**{p95s[way][-1]:.1f}**"])
            for way in paths:
                ratio = ""
                if way != "sql" and "sql" in paths:
                    ratio = f"{median(p95s['sql']) / median(p95s[way]):.1f}× faster"
                summary.append([db, way, str(args.projects),
                                f"{median(p50s[way]):.1f} [{min(p50s[way]):.1f}–{max(p50s[way]):.1f}]",
                                f"{median(p95s[way]):.1f} [{min(p95s[way]):.1f}–{max(p95s[way]):.1f}]",
                                ratio, " / ".join(f"{x:.0f}" for x in loads)])
            saved.append({"db": db, "projects": args.projects, "queries": args.queries,
                          "rounds": args.rounds, "other_load_pct": loads,
                          "index_rss_mb": index_mbs,
                          "index_bytes_per_project": (index_mbs[0] * 2**20 / args.projects
                                                      if index_mbs else None),
                          **{f"{way}_p50_ms": p50s[way] for way in paths},
                          **{f"{way}_p95_ms": p95s[way] for way in paths},
                          **{f"{way}_cpu_ms_per_query": cpus[way] for way in paths}})
        finally:
            if not args.keep:
                if db == "postgres":
                    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                else:
                    Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    print(table(["db", "path", "round", "query (limit 20, total + facets)", "n", "p50 ms",
                 "p95 ms"], rows))
    print()
    print(table(["db", "path", "projects", f"p50 ms, median [min–max] of {args.rounds} rounds",
                 "p95 ms, median [min–max]", "p95 vs sql", "other load % per round"], summary))
    for d in saved:
        if d["index_bytes_per_project"] is not None:
            print(f"  {d['db']}: index ~{d['index_rss_mb'][0]:.0f} MB RSS, "
                  f"~{d['index_bytes_per_project']:.0f} B per project (process RSS growth "
                  f"across its build in round 1)")
    print(f"  raw: {save('registry_search', {'benchmark': 'registry_search', 'runs': saved})}")


def _pg_has(name: str) -> bool:
    import asyncpg

    async def check() -> bool:
        conn = await asyncpg.connect(PG_BASE + "/postgres", timeout=10)
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
        finally:
            await conn.close()

    return asyncio.run(check())


if __name__ == "__main__":
    main()
