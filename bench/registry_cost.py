"""CPU per request of the registry's hot paths: GET /projects/{id} and POST /projects.

`python -m bench.registry_cost [--db sqlite,postgres] [--requests 1000] [--rounds 3]`

Starts the registry as its own uvicorn process (no NATS: events stay in the outbox) on a fresh
database, creates one full project (partners, budget, funder, contacts, evaluations), then sends
sequential requests straight to the service with an internal admin token and divides the
service process's CPU time (utime + stime from /proc) by the number of requests. CPU time, not
wall time, so other load on the machine disturbs it little; the other load is still recorded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

import httpx

from bench.common import (
    ROOT,
    LoadMeter,
    PgDatabases,
    internal_identity_header,
    machine_info,
    median,
    pg_available,
    proc_cpu_seconds,
    table,
    workdir,
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
    args = parser.parse_args(argv)
    from registry.cli import MIGRATIONS
    from shared.identity import generate_keypair
    from shared.migrate import upgrade

    info = machine_info()
    print(f"registry_cost: {args.rounds} x {args.requests} requests per path; {info['nproc']} vCPU "
          f"{info['cpu_model']}, Python {info['python']}, {info['started']}")
    results = []
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        pg = None
        with workdir("regcost") as tmp:
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
                headers = {"x-teke-identity": internal_identity_header(priv)}
                with httpx.Client(base_url=base, timeout=60) as client:
                    lead, funder, partner = (_org(client, headers) for _ in range(3))
                    full = {**FULL, "organisation_id": lead, "funder_id": funder,
                            "partners": [{"organisation_id": partner, "role": "partner"}]}
                    r = client.post("/projects", json={**full, "code": "COST-0"}, headers=headers)
                    assert r.status_code == 201, r.text
                    pid = r.json()["id"]
                    for label in ("GET /projects/{id}", "POST /projects"):
                        per, loads = [], []
                        for rnd in range(args.rounds):
                            for i in range(20):  # warm-up
                                _one(client, headers, label, pid, full, f"W{rnd}-{i}")
                            meter = LoadMeter()
                            cpu0 = proc_cpu_seconds([proc.pid])
                            for i in range(args.requests):
                                _one(client, headers, label, pid, full, f"{rnd}-{i}")
                            cpu = proc_cpu_seconds([proc.pid]) - cpu0
                            loads.append(meter.read()["foreign"])
                            per.append(1000 * cpu / args.requests)
                        results.append([db, label, f"{median(per):.2f} [{min(per):.2f}–{max(per):.2f}]",
                                        " / ".join(f"{x:.0f}" for x in loads)])
            finally:
                if proc:
                    proc.terminate()
                    proc.wait(30)
                if pg:
                    pg.drop()
    print(table(["db", "request", f"service CPU ms/request, median [min–max] of {args.rounds}",
                 "other load % per round"], results))


def _one(client: httpx.Client, headers: dict, label: str, pid: str, full: dict, tag: str) -> None:
    if label.startswith("GET"):
        r = client.get(f"/projects/{pid}", headers=headers)
        assert r.status_code == 200, r.text
    else:
        r = client.post("/projects", json={**full, "code": f"COST-{tag}"}, headers=headers)
        assert r.status_code == 201, r.text


if __name__ == "__main__":
    main()
