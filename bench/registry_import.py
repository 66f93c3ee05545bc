"""Bulk import through the API: projects per second into PostgreSQL (target >= 2,000/s).

`python -m bench.registry_import [--batches 5] [--size 10000] [--db postgres]`

Starts the registry service as its own uvicorn process on a fresh database, then POSTs
/projects/import batches of demo projects (JSON, best_effort, an Idempotency-Key each) straight
to the service with an internal identity token (no gateway), and times each request end to end:
parse, validate, upsert, history, change feed and outbox rows, commit. A second pass re-sends
the same codes with changed names, which measures the update path.
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
    table,
    workdir,
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry_import")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--db", default="postgres")
    args = parser.parse_args(argv)
    from registry.cli import MIGRATIONS
    from registry.demo import demo_projects
    from shared.identity import generate_keypair
    from shared.jsonutil import dumps
    from shared.migrate import upgrade

    info = machine_info()
    print(f"registry_import: {args.batches} x {args.size} projects; {info['nproc']} vCPU "
          f"{info['cpu_model']}, Python {info['python']}, {info['started']}")
    results = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        pg = None
        with workdir("regimport") as tmp:
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
                   "REGISTRY_NATS_URL": f"nats://127.0.0.1:{_free_port()}"}  # no NATS: outbox only
            proc = None
            try:
                upgrade(MIGRATIONS, url)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "registry.main:create_app", "--factory",
                     "--port", str(port), "--log-level", "warning", "--no-access-log"],
                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                base = f"http://127.0.0.1:{port}"
                for _ in range(200):
                    try:
                        if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                headers = {"x-teke-identity": internal_identity_header(priv),
                           "content-type": "application/json"}
                rows = demo_projects(args.batches * args.size, seed=11)
                with httpx.Client(base_url=base, timeout=300) as client:
                    for label, mutate in (("create", False), ("update", True)):
                        rates = []
                        for b in range(args.batches):
                            batch = rows[b * args.size:(b + 1) * args.size]
                            if mutate:
                                batch = [{**r, "name": {**r["name"], "fi": r["name"]["fi"] + " (p)"}}
                                         for r in batch]
                            body = dumps({"projects": batch})
                            t0 = time.perf_counter()
                            r = client.post("/projects/import", content=body,
                                            headers={**headers, "Idempotency-Key": f"{label}-{b}"})
                            elapsed = time.perf_counter() - t0
                            assert r.status_code == 200, r.text[:500]
                            summary = r.json()["summary"]
                            assert summary["rejected"] == 0, summary
                            rates.append(len(batch) / elapsed)
                        rates.sort()
                        results.append([db, label, f"{args.batches} x {args.size}",
                                        f"{rates[len(rates) // 2]:.0f}",
                                        f"{rates[0]:.0f}–{rates[-1]:.0f}"])
            finally:
                if proc:
                    proc.terminate()
                    proc.wait(30)
                if pg:
                    pg.drop()
    print(table(["db", "pass", "requests", "median projects/s", "range"], results))


if __name__ == "__main__":
    main()
