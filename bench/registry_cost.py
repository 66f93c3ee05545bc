"""CPU per request of the registry's hot paths: GET /projects/{id} and POST /projects.

`python -m bench.registry_cost [--db sqlite,postgres] [--requests 1000] [--rounds 3]`

Starts the registry as its own uvicorn process (no NATS: events stay in the outbox) on a fresh
database, creates one full project (partners, budget, funder, contacts, evaluations), then sends
sequential requests straight to the service with an internal admin token and divides the
service process's CPU time (utime + stime from /proc) by the number of requests. CPU time, not
wall time, so other load on the machine disturbs it little; the other load is still recorded.

The floor: a bare FastAPI app (`floor_app`, its own uvicorn process, same server options) that
answers GET /projects/{id} and POST /projects with the registry's own response bytes held in
memory (the POST reads its body, nothing more), measured the same way in the same rounds. The
ratio of the registry to the floor (paired per round) is what survives a loaded machine.
The results also go to bench/out/registry_cost-*.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

import httpx
from fastapi import FastAPI, Request, Response  # module level: the floor's annotations resolve here

from bench.common import (
    ROOT,
    LoadMeter,
    PgDatabases,
    internal_identity_header,
    machine_info,
    median,
    pg_available,
    proc_cpu_seconds,
    rss_mb,
    save,
    table,
)
from bench.registry_import import _free_port

FULL = {
    "name": {"fi": "Työhyvinvointia Pirkanmaalle", "sv": "Välbefinnande", "en": "Well-being"},
    "start_date": "2024-01-01", "end_date": "2026-12-31", "region_codes": ["06", "17"],
    "target_groups": ["companies", "employees"], "sub_themes": ["wellbeing"],
    "goals": {"fi": "Tavoitteena on parempi työelämä."}, "case_numbers": ["123/2024"],
    "budget": [{"source": "esf_plus", "amount": "120000.00"}, {"source": "state", "amount": "30000.00"}],
    "contact_persons": [{"name": "Liisa Esimerkki", "email": "liisa@example.fi"}],
    "steering_group": [{"name": "Matti Malli"}, {"name": "Maija Malli"}],
    "evaluations": [{"kind": "mid_term", "date": "2025-06-01", "evaluator": "Arvio Oy"}],
    "published": True,
}


def _org(client: httpx.Client, headers: dict) -> str:
    r = client.post("/organisations", json={"name": {"fi": f"Org {uuid.uuid4().hex[:6]}"},
                                            "kind": "company"}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry_cost")
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", default=None,
                        help="a registry source tree (…/services/registry/src) to run as the baseline "
                             "in the same window, alternating with this tree (paired ratios)")
    args = parser.parse_args(argv)
    from registry.cli import MIGRATIONS
    from shared.identity import generate_keypair
    from shared.migrate import upgrade

    info = machine_info()
    print(f"registry_cost: {args.rounds} x {args.requests} requests per path; {info['nproc']} vCPU "
          f"{info['cpu_model']}, Python {info['python']}, {info['started']}")
    results, records, floor_rss = [], [], []
    # "nothing kept": the same tree with projects/reads.py's cache off, so every read is the
    # cold path (a miss) a project not read lately takes.
    trees = [("this tree", None, None), (UNCACHED, None, {"REGISTRY_READ_CACHE_SIZE": "0"})] \
        + ([("baseline", args.baseline_src, None)] if args.baseline_src else [])
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        if db == "postgres" and not pg_available():
            continue
        services = []
        try:
            for _label, src, env in trees:
                services.append(_start(db, src, MIGRATIONS, upgrade, generate_keypair, env))
            services.append(_start_floor(services[0]))
            time.sleep(1.0)  # settled, before any request: the idle-memory floor too
            floor_rss.append(rss_mb(services[-1]["proc"].pid))
            labels = [t for t, _, _ in trees] + [FLOOR]
            per = {(t, path): [] for t in labels for path in PATHS}
            loads = []
            for rnd in range(args.rounds):
                meter = LoadMeter()
                for path in PATHS:
                    for t, svc in zip(labels, services, strict=True):
                        per[(t, path)].append(_measure(svc, path, args.requests, f"{rnd}"))
                loads.append(meter.read()["foreign"])
            for path in PATHS:
                for t in labels:
                    xs = per[(t, path)]
                    row = [db, path, t, f"{median(xs):.3f} [{min(xs):.3f}–{max(xs):.3f}]"]
                    # A few requests can use less CPU than the clock tick shows (0): no ratio.
                    floor = [a / b if b else float("nan")
                             for a, b in zip(xs, per[(FLOOR, path)], strict=True)]
                    row.append(f"{median(floor):.1f} [{min(floor):.1f}–{max(floor):.1f}]")
                    rec = {"db": db, "request": path, "code": t, "cpu_ms": xs,
                           "cpu_ms_median": median(xs), "ratio_to_floor": floor,
                           "other_load_pct": loads}
                    if args.baseline_src:
                        ratios = [a / b if b else float("nan")
                                  for a, b in zip(xs, per[("baseline", path)], strict=True)]
                        row.append(f"{median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]")
                        rec["ratio_to_baseline"] = ratios
                    row.append(" / ".join(f"{x:.0f}" for x in loads))
                    results.append(row)
                    records.append(rec)
        finally:
            for svc in services:
                svc["client"].close()
                svc["proc"].terminate()
                try:
                    svc["proc"].wait(30)
                except subprocess.TimeoutExpired:
                    svc["proc"].kill()
                    svc["proc"].wait(10)
                if svc.get("pg"):
                    svc["pg"].drop()
                if svc.get("tmp"):
                    svc["tmp"].cleanup()
    headers = ["db", "request", "code", f"service CPU ms/request, median [min–max] of {args.rounds}",
               "paired ratio to the floor"]
    if args.baseline_src:
        headers.append("paired ratio to baseline")
    print(table([*headers, "other load % per round"], results))
    path = save("registry_cost", {"machine": info, "requests": args.requests,
                                  "rounds": args.rounds, "results": records,
                                  "floor_idle_rss_mb": median(floor_rss) if floor_rss else None})
    print(f"saved {path}")


PATHS = ("GET /projects/{id}", "POST /projects")
UNCACHED = "this tree, nothing kept (REGISTRY_READ_CACHE_SIZE=0)"
FLOOR = "floor (bare FastAPI, bytes from memory)"


def floor_app():
    """The floor: FastAPI serving the registry's response bytes from memory (files named by
    BENCH_FLOOR_GET / BENCH_FLOOR_POST), no database, no middleware, no validation."""
    from pathlib import Path

    got = Path(os.environ["BENCH_FLOOR_GET"]).read_bytes()
    posted = Path(os.environ["BENCH_FLOOR_POST"]).read_bytes()
    etag = os.environ.get("BENCH_FLOOR_ETAG", '"x:1"')
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    @app.get("/projects/{project_id}")
    async def read(project_id: str) -> Response:  # noqa: ARG001
        return Response(got, media_type="application/json", headers={"ETag": etag})

    @app.post("/projects", status_code=201)
    async def create(request: Request) -> Response:
        await request.body()
        return Response(posted, status_code=201, media_type="application/json",
                        headers={"ETag": etag, "Location": "/api/v1/projects/x"})

    return app


def _start_floor(svc: dict) -> dict:
    """The floor process, holding the bytes `svc` (the registry under test) answers with."""
    import tempfile
    from pathlib import Path

    tmp = tempfile.TemporaryDirectory(prefix="teke-bench-regcost-floor-")
    r = svc["client"].get(f"/projects/{svc['pid']}", headers=svc["headers"])
    c = svc["client"].post("/projects", json={**svc["full"], "code": "COST-FLOOR"},
                           headers=svc["headers"])
    assert r.status_code == 200 and c.status_code == 201, (r.text, c.text)
    (Path(tmp.name) / "get.json").write_bytes(r.content)
    (Path(tmp.name) / "post.json").write_bytes(c.content)
    port = _free_port()
    env = {**os.environ, "BENCH_FLOOR_GET": str(Path(tmp.name) / "get.json"),
           "BENCH_FLOOR_POST": str(Path(tmp.name) / "post.json"),
           "BENCH_FLOOR_ETAG": r.headers.get("etag", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.registry_cost:floor_app", "--factory",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return {"proc": proc, "pg": None, "tmp": tmp, "client": httpx.Client(base_url=base, timeout=60),
            "headers": svc["headers"], "full": svc["full"], "pid": svc["pid"]}


def _start(db: str, src: str | None, migrations, upgrade, generate_keypair,
           extra_env: dict[str, str] | None = None) -> dict:
    import tempfile
    from pathlib import Path

    tmp = tempfile.TemporaryDirectory(prefix="teke-bench-regcost-")
    pg = None
    if db == "postgres":
        pg = PgDatabases(["registry"])
        url = pg.urls["registry"]
    else:
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'registry.db'}"
    upgrade(Path(src) / "registry" / "migrations" if src else migrations, url)
    priv, pub = generate_keypair()
    port = _free_port()
    env = {**os.environ, "REGISTRY_DATABASE_URL": url,
           "REGISTRY_INTERNAL_TOKEN_PUBLIC_KEY": pub, "REGISTRY_LOG_LEVEL": "WARNING",
           "REGISTRY_NATS_URL": f"nats://127.0.0.1:{_free_port()}",  # no NATS: outbox only
           **(extra_env or {})}
    if src:  # the baseline tree's registry package shadows the installed one
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "registry.main:create_app", "--factory",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded machine: imports alone can take a minute
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    headers = {"x-teke-identity": internal_identity_header(priv)}
    client = httpx.Client(base_url=base, timeout=60)
    lead, funder, partner = (_org(client, headers) for _ in range(3))
    full = {**FULL, "organisation_id": lead, "funder_id": funder,
            "partners": [{"organisation_id": partner, "role": "partner"}]}
    r = client.post("/projects", json={**full, "code": "COST-0"}, headers=headers)
    assert r.status_code == 201, r.text
    return {"proc": proc, "pg": pg, "tmp": tmp, "client": client, "headers": headers,
            "full": full, "pid": r.json()["id"]}


def _measure(svc: dict, path: str, n: int, tag: str) -> float:
    for i in range(20):  # warm-up
        _one(svc["client"], svc["headers"], path, svc["pid"], svc["full"], f"W{tag}-{i}")
    cpu0 = proc_cpu_seconds([svc["proc"].pid])
    for i in range(n):
        _one(svc["client"], svc["headers"], path, svc["pid"], svc["full"], f"{tag}-{i}")
    return 1000 * (proc_cpu_seconds([svc["proc"].pid]) - cpu0) / n


def _one(client: httpx.Client, headers: dict, label: str, pid: str, full: dict, tag: str) -> None:
    if label.startswith("GET"):
        r = client.get(f"/projects/{pid}", headers=headers)
        assert r.status_code == 200, r.text
    else:
        r = client.post("/projects", json={**full, "code": f"COST-{tag}"}, headers=headers)
        assert r.status_code == 201, r.text


if __name__ == "__main__":
    main()
