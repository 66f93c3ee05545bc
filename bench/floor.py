"""The floor for the registry's per-request CPU: a bare FastAPI app that serves the same JSON.

`python -m bench.floor [--requests 1000] [--rounds 3]`

A separate uvicorn process (as the services run: uvloop, httptools, no access log) with two
endpoints and nothing else: GET returns the full project record's JSON bytes from memory, POST
parses the body and answers 201 with those bytes. Measured the way bench.registry_cost measures
the registry: sequential requests from one client, CPU time (utime + stime from /proc) of the
server process divided by the number of requests. `python -m bench` runs it in the same window as
bench.registry_cost: the ratio of the two is what the registry adds on top of HTTP + JSON.
Also records the process's idle RSS after start (the floor for the idle-memory figure).

The record is the one bench.registry_cost creates (a registry is started once to read it);
if that fails the request body itself stands in (reported as `body_source`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import ROOT, median, proc_cpu_seconds, save

APP = '''
import os
from fastapi import FastAPI, Request
from fastapi.responses import Response

BODY = open(os.environ["FLOOR_BODY"], "rb").read()
app = FastAPI()


@app.get("/projects/{pid}")
async def read(pid: str) -> Response:
    return Response(BODY, media_type="application/json")


@app.post("/projects")
async def create(request: Request) -> Response:
    import orjson

    orjson.loads(await request.body())
    return Response(BODY, status_code=201, media_type="application/json")
'''


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def real_record(stand_in: bool = False) -> tuple[bytes, dict, str]:
    """(GET body, POST body, source): the full record bench.registry_cost reads and creates."""
    from bench import registry_cost

    try:
        if stand_in:
            raise RuntimeError("--stand-in")
        from registry.cli import MIGRATIONS
        from shared.identity import generate_keypair
        from shared.migrate import upgrade

        svc = registry_cost._start("sqlite", None, MIGRATIONS, upgrade, generate_keypair)
        try:
            body = svc["client"].get(f"/projects/{svc['pid']}", headers=svc["headers"]).content
            return body, {**svc["full"], "code": "FLOOR"}, "registry GET /projects/{id}"
        finally:
            svc["client"].close()
            svc["proc"].terminate()
            svc["proc"].wait(30)
            svc["tmp"].cleanup()
    except Exception as exc:  # noqa: BLE001  (the floor still runs, on a stand-in body)
        import json

        print(f"  could not read a registry record ({exc!r}); using the request body")
        full = {**registry_cost.FULL, "code": "FLOOR"}
        return json.dumps(full).encode(), full, "request body (stand-in)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stand-in", action="store_true",
                        help="serve the request body instead of a real record (no registry start)")
    args = parser.parse_args(argv)
    from bench.registry_import import _free_port

    body, post, source = real_record(args.stand_in)
    with tempfile.TemporaryDirectory(prefix="teke-bench-floor-") as tmp:
        (Path(tmp) / "floor_app.py").write_text(APP)
        (Path(tmp) / "body.json").write_bytes(body)
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", tmp, "--port",
             str(port), "--log-level", "warning", "--no-access-log"],
            env={**os.environ, "FLOOR_BODY": str(Path(tmp) / "body.json")}, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            for _ in range(300):
                try:
                    client.get("/projects/x")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            time.sleep(0.5)
            idle = rss_mb(proc.pid)
            cpu = {"GET": [], "POST": []}
            for _ in range(args.rounds):
                for method in cpu:
                    for i in range(20 + args.requests):
                        if i == 20:  # after the warm-up
                            cpu0 = proc_cpu_seconds([proc.pid])
                        if method == "GET":
                            r = client.get("/projects/0d5e")
                        else:
                            r = client.post("/projects", json=post)
                        assert r.status_code in (200, 201) and r.content == body
                    cpu[method].append(1000 * (proc_cpu_seconds([proc.pid]) - cpu0) / args.requests)
            client.close()
        finally:
            proc.terminate()
            proc.wait(30)
    data = {"benchmark": "floor", "requests": args.requests, "rounds": args.rounds,
            "body_bytes": len(body), "body_source": source, "idle_rss_mb": idle,
            "get_cpu_ms": cpu["GET"], "post_cpu_ms": cpu["POST"]}
    print(f"floor (bare FastAPI, same {len(body)} B JSON from memory; {source}): "
          f"GET {median(cpu['GET']):.3f} ms CPU/request, POST {median(cpu['POST']):.3f}, "
          f"idle RSS {idle:.0f} MB")
    print(f"  raw: {save('floor', data)}")
    return data


if __name__ == "__main__":
    main()
