"""Filtered full-text search with facets over N projects (default 100,000): p50/p95 per database.

`python -m bench.registry_search [--projects 100000] [--db sqlite,postgres] [--queries 200]`

Loads the deterministic demo generator's projects into a fresh database through the registry's
own bulk-import code (in-process), then times the list query path the endpoint uses
(registry.projects.query.run: filters + full-text search + total + facets) in-process, so the
figure is the database and query cost without HTTP or the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from bench.common import PgDatabases, machine_info, percentile, pg_available, table, workdir

QUERIES = [
    ({"q": "työhyvinvointi"}, "fts fi"),
    ({"q": "ikäjohtaminen", "region": ["17"]}, "fts fi + region"),
    ({"q": "digital work", "lang": "en", "status": ["active"]}, "fts en + status"),
    ({"q": "välbefinnande"}, "fts sv"),
    ({"region": ["06"], "status": ["active"]}, "filters only"),
    ({"q": "tuottavuus", "budget_min": 300000, "active_from": "2024-01-01"}, "fts + budget + term"),
]


async def _load(url: str, n: int) -> float:
    from registry.demo import SEED_ACTOR, demo_projects
    from registry.main import spec
    from registry.projects.importer import run_import
    from shared.db import create_engine, make_sessionmaker

    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    outbox = spec.outbox()
    rows = demo_projects(n, seed=7)
    t0 = time.perf_counter()
    for c in range(0, n, 10_000):
        async with maker() as s:
            await run_import(s, outbox, SEED_ACTOR, rows[c:c + 10_000], "best_effort")
            await s.commit()
    elapsed = time.perf_counter() - t0
    async with engine.connect() as conn:
        if url.startswith("postgresql"):
            from sqlalchemy import text

            await conn.execute(text("ANALYZE"))
            await conn.commit()
    await engine.dispose()
    return elapsed


async def _measure(url: str, queries: int) -> dict[str, list[float]]:
    from registry.projects import query as pquery
    from shared.db import create_engine, make_sessionmaker
    from shared.identity import Identity

    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    public = Identity(sub="anonymous")
    rnd = random.Random(1)
    times: dict[str, list[float]] = {label: [] for _, label in QUERIES}
    for i in range(queries + 20):
        params, label = QUERIES[rnd.randrange(len(QUERIES))]
        pq = pquery.ProjectQuery(**{k: v for k, v in params.items() if k != "active_from"},
                                 sort="-rank" if "q" in params else "code")
        if "active_from" in params:
            import datetime as dt

            pq.active_from = dt.date.fromisoformat(params["active_from"])
        async with maker() as s:
            t0 = time.perf_counter()
            await pquery.run(s, public, pq, limit=20, cursor=None, with_facets=True, lang="fi")
            dt_ms = (time.perf_counter() - t0) * 1000
        if i >= 20:  # warm-up
            times[label].append(dt_ms)
    await engine.dispose()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry_search")
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args(argv)
    from registry.cli import MIGRATIONS
    from shared.logging import configure_logging
    from shared.migrate import upgrade

    configure_logging("bench", "ERROR", json=False)
    info = machine_info()
    print(f"registry_search: {args.projects} projects, {args.queries} queries; "
          f"{info['nproc']} vCPU {info['cpu_model']}, Python {info['python']}, {info['started']}")
    rows = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        pg = None
        with workdir("regsearch") as tmp:
            if db == "postgres":
                if not pg_available():
                    continue
                pg = PgDatabases(["registry"])
                url = pg.urls["registry"]
            else:
                url = f"sqlite+aiosqlite:///{tmp / 'registry.db'}"
            try:
                upgrade(MIGRATIONS, url)
                load_s = asyncio.run(_load(url, args.projects))
                times = asyncio.run(_measure(url, args.queries))
            finally:
                if pg:
                    pg.drop()
        every = sorted(t for ts in times.values() for t in ts)
        print(f"  {db}: loaded in {load_s:.1f} s ({args.projects / load_s:.0f} projects/s in-process)")
        for label, ts in times.items():
            ts.sort()
            rows.append([db, label, str(len(ts)), f"{percentile(ts, 50):.1f}",
                         f"{percentile(ts, 95):.1f}"])
        rows.append([db, "**all**", str(len(every)), f"{percentile(every, 50):.1f}",
                     f"**{percentile(every, 95):.1f}**"])
    print(table(["db", "query (limit 20, total + facets)", "n", "p50 ms", "p95 ms"], rows))


if __name__ == "__main__":
    main()
