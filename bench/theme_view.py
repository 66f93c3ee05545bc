"""The theme view: GET /api/v1/views/themes/{id} through the gateway, on the demo data.

`python -m bench.theme_view [--requests 200] [--db sqlite,postgres]`

Real processes: nats-server and the whole stack (registry, indicators, comms, gateway) as the
embedded runner starts them, migrated and loaded with the registry's demo data (`registry.cli
seed`). The view gathers a dozen upstream reads in parallel (goals, funding, projects with
facets, steering, service needs, overlaps, evaluations, practices, spread, continuation).
Sequential requests with a development admin token; recorded: wall p50/p95 per view and the
CPU time of all four service processes per view (utime + stime from /proc). Same-run baseline:
GET /api/v1/themes/{id} through the gateway (one upstream read), measured the same way.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.common import (
    LoadMeter,
    PgDatabases,
    median,
    percentile,
    pg_available,
    proc_cpu_seconds,
    save,
    table,
    workdir,
)


def _measure(client: httpx.Client, path: str, n: int, pids: list[int]) -> dict:
    for _ in range(max(3, n // 10)):  # warm-up
        assert client.get(path).status_code == 200
    walls = []
    cpu0 = proc_cpu_seconds(pids)
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        walls.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:500]
    cpu = proc_cpu_seconds(pids) - cpu0
    walls.sort()
    return {"n": n, "p50_ms": percentile(walls, 50), "p95_ms": percentile(walls, 95),
            "cpu_ms_per_request": 1000 * cpu / n, "bytes": len(r.content)}


def one_db(db: str, n: int) -> dict:
    from deploy.embedded import SERVICES, NatsServer, Stack

    pg = None
    with workdir("theme") as tmp:
        nats_srv = NatsServer(tmp / "nats")
        stack = None
        try:
            nats_srv.start()
            urls = {}
            if db == "postgres":
                pg = PgDatabases([*SERVICES, "gateway"])
                urls = pg.urls
            env = {f"{s}_LOG_LEVEL": "WARNING" for s in ("REGISTRY", "INDICATORS", "COMMS", "GATEWAY")}
            # one client, one identity: the gateway's rate limits would answer 429
            env.update({"GATEWAY_RATE_LIMIT_PER_IDENTITY": "1000000",
                        "GATEWAY_RATE_LIMIT_IDENTITY_BURST": "1000000"})
            stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=urls, extra_env=env)
            stack.migrate()
            stack.run_cli("registry", "seed")
            stack.start_all()
            stack.wait_ready()
            pids = [p.pid for p in stack.procs.values()]
            with httpx.Client(base_url=stack.gateway_url + "/api/v1", timeout=60,
                              headers={"Authorization": f"Bearer {stack.dev_token('admin')}"}
                              ) as client:
                themes = client.get("/themes", params={"limit": 200}).json()["items"]
                if not themes:
                    raise RuntimeError("no theme in the demo data")
                tid = themes[0]["id"]
                view = client.get(f"/views/themes/{tid}").json()
                meter = LoadMeter()
                res = {"view": _measure(client, f"/views/themes/{tid}", n, pids),
                       "baseline": _measure(client, f"/themes/{tid}", n, pids)}
                res["other_load_pct"] = meter.read()["foreign"]
                res["unavailable"] = view.get("unavailable", [])
                res["withheld"] = view.get("withheld", [])
        finally:
            if stack is not None:
                stack.stop_all()
            nats_srv.stop()
            if pg is not None:
                pg.drop()
    return {"db": db, **res}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.theme_view")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args(argv)
    from shared.logging import configure_logging

    configure_logging("bench", "ERROR", json=False)
    runs = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        if db == "postgres" and not pg_available():
            continue
        runs.append(one_db(db, args.requests))
    print(table(["db", "request", "n", "wall p50 ms", "wall p95 ms", "services CPU ms/request",
                 "other load %"],
                [[r["db"], what, r[key]["n"], f"{r[key]['p50_ms']:.1f}", f"{r[key]['p95_ms']:.1f}",
                  f"{r[key]['cpu_ms_per_request']:.1f}", f"{r['other_load_pct']:.0f}"]
                 for r in runs for what, key in (("theme view", "view"),
                                                 ("GET /themes/{id} (baseline)", "baseline"))]))
    for r in runs:
        if r["unavailable"]:
            print(f"  {r['db']}: parts unavailable: {r['unavailable']}")
    data = {"benchmark": "theme_view", "runs": runs,
            "view_over_baseline_cpu": median([r["view"]["cpu_ms_per_request"]
                                              / r["baseline"]["cpu_ms_per_request"]
                                              for r in runs if r["baseline"]["cpu_ms_per_request"]])}
    print(f"  raw: {save('theme_view', data)}")
    return data


if __name__ == "__main__":
    main()
