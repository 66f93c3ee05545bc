"""What running a long import or export as a job costs, against the same request synchronously.

`python -m bench.job_overhead [--import-rows 5000] [--export-rows 20000] [--rounds 2]
[--db sqlite,postgres]`

Starts the registry as its own uvicorn process on a fresh database (no NATS: events stay in the
outbox), with thresholds so high that nothing becomes a job unless asked (`Prefer:
respond-async`). Loads `--export-rows` projects, then per round:

- import `--import-rows` new projects synchronously, and another `--import-rows` as a job
  (202, then polling `GET /jobs/{id}` every 50 ms until it ends);
- export every project as CSV synchronously, and as a job (202, poll, `GET /jobs/{id}/result`).

For each it records the wall time (request sent to report or file in hand) and the registry
process's CPU time (utime + stime from /proc) over the same span. The sync figures per row are
what the thresholds in registry/config.py come from.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx

from bench.common import (
    ROOT,
    PgDatabases,
    internal_identity_header,
    machine_info,
    pg_available,
    proc_cpu_seconds,
    save,
    spread,
    table,
    workdir,
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _job(client: httpx.Client, r: httpx.Response) -> dict:
    assert r.status_code == 202, r.text[:500]
    location = r.headers["location"].removeprefix("/api/v1")
    while True:
        job = client.get(location).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            assert job["state"] == "succeeded", job
            return job
        time.sleep(0.05)


def _measure(pid: int, fn) -> tuple[float, float]:
    cpu0, t0 = proc_cpu_seconds([pid]), time.perf_counter()
    fn()
    return time.perf_counter() - t0, proc_cpu_seconds([pid]) - cpu0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.job_overhead")
    parser.add_argument("--import-rows", type=int, default=5_000)
    parser.add_argument("--export-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args(argv)
    from registry.cli import MIGRATIONS
    from registry.demo import demo_projects
    from shared.identity import generate_keypair
    from shared.jsonutil import dumps
    from shared.migrate import upgrade

    info = machine_info()
    print(f"job_overhead: import {args.import_rows}, export {args.export_rows} rows, "
          f"{args.rounds} rounds; {info['nproc']} vCPU {info['cpu_model']}, "
          f"Python {info['python']}, {info['started']}")
    results, saved = [], []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        pg = None
        with workdir("jobbench") as tmp:
            if db == "postgres":
                if not pg_available():
                    continue
                pg = PgDatabases(["registry"])
                url = pg.urls["registry"]
            else:
                url = f"sqlite+aiosqlite:///{tmp / 'registry.db'}"
            priv, pub = generate_keypair()
            port = _free_port()
            env = {**os.environ, "REGISTRY_DATABASE_URL": url,
                   "REGISTRY_INTERNAL_TOKEN_PUBLIC_KEY": pub, "REGISTRY_LOG_LEVEL": "WARNING",
                   "REGISTRY_NATS_URL": f"nats://127.0.0.1:{_free_port()}",
                   "REGISTRY_JOB_IMPORT_ASYNC_ROWS": "1000000",
                   "REGISTRY_JOB_EXPORT_ASYNC_ROWS": "1000000",
                   "REGISTRY_JOB_MAX_ACTIVE": "100", "REGISTRY_JOB_POLL_SECONDS": "0.2"}
            proc = None
            try:
                upgrade(MIGRATIONS, url)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "registry.main:create_app", "--factory",
                     "--port", str(port), "--log-level", "warning", "--no-access-log"],
                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                base = f"http://127.0.0.1:{port}"
                for _ in range(300):
                    try:
                        if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                headers = {"x-teke-identity": internal_identity_header(priv)}
                rows = demo_projects(args.export_rows + 2 * args.rounds * args.import_rows,
                                     seed=31)
                seed, rest = rows[:args.export_rows], rows[args.export_rows:]
                figures: dict[str, list[tuple[float, float]]] = {}
                with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
                    for c in range(0, len(seed), 10_000):
                        r = client.post("/projects/import", content=dumps(seed[c:c + 10_000]),
                                        headers={"content-type": "application/json"})
                        assert r.status_code == 200, r.text[:300]
                    n = args.import_rows
                    for rnd in range(args.rounds):
                        sync_rows = rest[2 * rnd * n:(2 * rnd + 1) * n]
                        job_rows = rest[(2 * rnd + 1) * n:(2 * rnd + 2) * n]

                        def sync_import(batch=sync_rows):
                            r = client.post("/projects/import", content=dumps(batch),
                                            headers={"content-type": "application/json"})
                            assert r.status_code == 200 and r.json()["summary"]["created"] == len(batch)

                        def job_import(batch=job_rows):
                            job = _job(client, client.post(
                                "/projects/import", content=dumps(batch),
                                headers={"content-type": "application/json",
                                         "prefer": "respond-async"}))
                            assert job["result"]["summary"]["created"] == len(batch)

                        def sync_export():
                            r = client.get("/projects/export", params={"format": "csv"})
                            assert r.status_code == 200 and len(r.content) > 1000

                        def job_export():
                            job = _job(client, client.get("/projects/export",
                                                          params={"format": "csv"},
                                                          headers={"prefer": "respond-async"}))
                            r = client.get(f"/jobs/{job['id']}/result")
                            assert r.status_code == 200 and len(r.content) > 1000

                        for label, fn in (("import sync", sync_import), ("import job", job_import),
                                          ("export sync", sync_export), ("export job", job_export)):
                            figures.setdefault(label, []).append(_measure(proc.pid, fn))
                total_export = args.export_rows + 2 * args.rounds * args.import_rows
                for label, vals in figures.items():
                    rows_n = args.import_rows if label.startswith("import") else total_export
                    walls = [w for w, _ in vals]
                    cpus = [c for _, c in vals]
                    results.append([db, label, str(rows_n), spread(walls, "{:.2f}"),
                                    spread(cpus, "{:.2f}"),
                                    f"{1000 * sorted(walls)[len(walls) // 2] / rows_n:.3f}"])
                    saved.append({"db": db, "request": label, "rows": rows_n, "wall_s": walls,
                                  "registry_cpu_s": cpus})
            finally:
                if proc:
                    proc.terminate()
                    proc.wait(30)
                if pg:
                    pg.drop()
    print(table(["db", "request", "rows", "wall s median [range]", "registry CPU s",
                 "wall ms/row"], results))
    print(f"raw: {save('job_overhead', {'benchmark': 'job_overhead', 'runs': saved})}")


if __name__ == "__main__":
    main()
