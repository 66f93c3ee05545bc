"""gateway_cost: what the gateway hop adds to GET /projects/{id}, against the same call direct.

Real processes: nats-server and the whole stack (registry, indicators, comms, gateway) as the
embedded runner starts them, SQLite databases. One project is created; then the same read
(registry GET /projects/{id}: identity check, one DB read, pydantic response) is loaded:
  direct   registry port, with a signed x-teke-identity header (admin)
  gateway  gateway /api/v1/projects/{id} with a development bearer token (admin)
  nginx    (when nginx is installed) nginx 1 worker, upstream keepalive 64, proxy_http_version
           1.1, injecting x-teke-identity with proxy_set_header: the reference for a hop
           that costs next to nothing
Load: wrk (-t1, --latency) when on PATH, else a bounded aiohttp load generator; concurrency 1
and 32. Rounds alternate the targets (direct, gateway, nginx, direct, ...), ROUNDS rounds of
SECONDS each after a warm-up; figures are medians [min-max] over rounds, ratios are paired
per round. Targets: added p50 <= 1 ms and throughput >= 0.6x direct.
The gateway's rate limits are lifted for the run (NO_RATE_LIMITS); any non-2xx is reported.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench.common import (
    FOREIGN_LIMIT,
    LoadMeter,
    child_pids,
    internal_identity_header,
    median,
    proc_cpu_seconds,
    save,
    spread,
    table,
    verdict,
    wait_for_quiet,
    workdir,
)

ROUNDS = int(os.environ.get("TEKE_BENCH_GW_ROUNDS", "4"))
# "project" (default): GET /projects/{id}, a real read (~4.5 ms of registry CPU) whose cost
# hides the hop's; "light": GET /reference/statuses, a static code list behind the same
# identity check, so the hop's own cost dominates.
ENDPOINT = os.environ.get("TEKE_BENCH_GW_ENDPOINT", "project")
SECONDS = float(os.environ.get("TEKE_BENCH_GW_SECONDS", "5"))
CONCURRENCY = (1, 32)
TARGET_ADDED_P50_MS = 1.0
TARGET_THROUGHPUT = 0.6

# The gateway's per-identity and per-address token buckets would answer most of this load with
# 429 (one identity, one address); the hop cost is what is measured, so they are lifted.
NO_RATE_LIMITS = {"GATEWAY_RATE_LIMIT_PER_IDENTITY": "1000000",
                  "GATEWAY_RATE_LIMIT_IDENTITY_BURST": "1000000",
                  "GATEWAY_RATE_LIMIT_PER_ADDRESS": "1000000",
                  "GATEWAY_RATE_LIMIT_ADDRESS_BURST": "1000000"}

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream registry {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /api/v1/ {{
            proxy_pass http://registry/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header x-teke-identity "{token}";
        }}
    }}
}}
"""


def ensure_tool(name: str) -> str | None:
    """The binary on PATH; else try `apt-get install -y NAME` once (Debian has wrk and nginx)."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                   else None)
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        print(f"  {name} not found; trying apt-get install -y {name}", flush=True)
        subprocess.run(["apt-get", "install", "-y", name], capture_output=True, timeout=300)
        return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                      else None)
    return None


class Nginx:
    def __init__(self, binary: str, tmp: Path, upstream_port: int, token: str) -> None:
        from deploy.embedded import free_port

        self.binary = binary
        self.tmp = tmp
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port,
                                               upstream_port=upstream_port, token=token))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import socket

        log = open(self.tmp / "nginx.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([self.binary, "-p", str(self.tmp), "-c", str(self.conf),
                                      "-e", str(self.tmp / "nginx-error.log")],
                                     stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + (self.tmp / "nginx.out").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def pids(self) -> list[int]:
        return [self.proc.pid, *child_pids(self.proc.pid)] if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_run(wrk: str, url: str, headers: dict[str, str], conc: int, seconds: float) -> dict:
    cmd = [wrk, "-t1", f"-c{conc}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    res = {"rps": float("nan"), "p50": float("nan"), "p99": float("nan"), "non2xx": 0,
           "errors": 0, "requests": 0}
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("50%"):
            res["p50"] = _ms(s.split()[1])
        elif s.startswith("99%"):
            res["p99"] = _ms(s.split()[1])
        elif s.startswith("Requests/sec:"):
            res["rps"] = float(s.split()[1])
        elif s.startswith("Non-2xx"):
            res["non2xx"] = int(s.split()[-1])
        elif s.startswith("Socket errors"):
            res["errors"] = sum(int(x) for x in re.findall(r"\d+", s))
        elif "requests in" in s:
            res["requests"] = int(s.split()[0])
    if res["requests"] == 0:
        raise RuntimeError(f"wrk gave no figures:\n{out}")
    return res


async def _py_load(url: str, headers: dict[str, str], conc: int, seconds: float) -> dict:
    """Fallback load generator: conc aiohttp workers, closed loop, for `seconds`."""
    import aiohttp

    lat: list[float] = []
    bad = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as s:
        async def worker():
            nonlocal bad
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                async with s.get(url) as r:
                    await r.read()
                    if r.status >= 300:
                        bad += 1
                lat.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    from bench.common import percentile

    return {"rps": len(lat) / elapsed, "p50": percentile(lat, 50) * 1000,
            "p99": percentile(lat, 99) * 1000, "non2xx": bad, "errors": 0,
            "requests": len(lat)}


def load(wrk: str | None, url: str, headers: dict[str, str], conc: int, seconds: float) -> dict:
    if wrk:
        return wrk_run(wrk, url, headers, conc, seconds)
    from bench.common import run

    return run(_py_load(url, headers, conc, seconds))


def main(dbs: list[str]) -> dict:
    from bench.common import pg_available

    wrk = ensure_tool("wrk")
    nginx_bin = ensure_tool("nginx")
    gen = f"wrk ({wrk})" if wrk else "Python aiohttp load generator (wrk not available)"
    what = "/reference/statuses" if ENDPOINT == "light" else "/projects/{id}"
    print(f"gateway_cost: GET {what} direct vs gateway{' vs nginx' if nginx_bin else ''};"
          f" {gen}; {ROUNDS} rounds x {SECONDS:g} s per target and concurrency", flush=True)
    out = {}
    for db in dbs:
        if db == "postgres" and not pg_available():
            continue
        print(f"  [{db}]", flush=True)
        try:
            out[db] = report(one_db(db, wrk, nginx_bin), gen, db)
        except Exception as exc:  # noqa: BLE001
            print(f"    FAILED on {db}: {exc!r}"[:2000], flush=True)
    return out


def one_db(db: str, wrk: str | None, nginx_bin: str | None) -> list[dict]:
    import httpx

    from bench.common import PgDatabases
    from deploy.embedded import SERVICES, NatsServer, Stack

    runs: list[dict] = []
    with workdir("gateway") as tmp:
        nats_srv = NatsServer(tmp / "nats")
        stack = None
        nginx = None
        pg = None
        try:
            nats_srv.start()
            urls = {}
            if db == "postgres":
                pg = PgDatabases([*SERVICES, "gateway"])
                urls = pg.urls
            env = {f"{s}_LOG_LEVEL": "WARNING"
                   for s in ("REGISTRY", "INDICATORS", "COMMS", "GATEWAY")}
            env.update(NO_RATE_LIMITS)
            stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=urls, extra_env=env)
            stack.migrate()
            stack.start_all()
            stack.wait_ready()
            ident = internal_identity_header(stack.secrets["internal_private_key"], lifetime=7200)
            bearer = stack.dev_token("admin")
            r = httpx.post(stack.url("registry") + "/projects", headers={"x-teke-identity": ident},
                           json={"code": "GW-BENCH-1", "name": {"fi": "Yhdyskäytävätesti",
                                                                "en": "Gateway benchmark"},
                                 "region_codes": ["01", "06"], "start_date": "2026-01-01"})
            r.raise_for_status()
            pid = r.json()["id"]
            path = "/reference/statuses" if ENDPOINT == "light" else f"/projects/{pid}"
            targets = {
                "direct": (f"{stack.url('registry')}{path}", {"x-teke-identity": ident},
                           [stack.procs["registry"].pid]),
                "gateway": (f"{stack.gateway_url}/api/v1{path}",
                            {"Authorization": f"Bearer {bearer}"},
                            [stack.procs["registry"].pid, stack.procs["gateway"].pid]),
            }
            if nginx_bin:
                nginx = Nginx(nginx_bin, tmp / "nginx", stack.ports["registry"], ident)
                nginx.start()
                targets["nginx"] = (f"http://127.0.0.1:{nginx.port}/api/v1{path}", {},
                                    None)
            bodies = {}
            for name, (url, headers, _) in targets.items():
                resp = httpx.get(url, headers=headers)
                if resp.status_code != 200:
                    raise RuntimeError(f"{name}: {resp.status_code} {resp.text[:300]}")
                bodies[name] = resp.json()
            if any(b != bodies["direct"] for b in bodies.values()):
                raise RuntimeError(f"targets disagree: {bodies}")
            print(f"  all targets answer 200 with the same body for GET {path} "
                  f"({len(httpx.get(targets['direct'][0], headers=targets['direct'][1]).content)}"
                  f" B body)", flush=True)
            for url, headers, _ in targets.values():
                load(wrk, url, headers, 32, 2)  # warm-up
            for conc in CONCURRENCY:
                for rnd in range(ROUNDS):
                    order = list(targets) if rnd % 2 == 0 else list(reversed(targets))
                    for name in order:
                        url, headers, pids = targets[name]
                        if pids is None:
                            pids = [stack.procs["registry"].pid, *nginx.pids()]
                        proxy_pids = [p for p in pids if p != stack.procs["registry"].pid]
                        tries = 0
                        while True:
                            tries += 1
                            cpu0 = proc_cpu_seconds(pids)
                            pcpu0 = proc_cpu_seconds(proxy_pids)
                            meter = LoadMeter()
                            res = load(wrk, url, headers, conc, SECONDS)
                            ld = meter.read()
                            cpu = proc_cpu_seconds(pids) - cpu0
                            pcpu = proc_cpu_seconds(proxy_pids) - pcpu0
                            if ld["foreign"] <= FOREIGN_LIMIT or tries >= 2:
                                break
                            print(f"    (other processes used {ld['foreign']:.0f} % of the "
                                  f"machine: repeating this window)", flush=True)
                            print(wait_for_quiet(max_wait=30), flush=True)
                        res.update({"target": name, "conc": conc, "round": rnd + 1,
                                    "steal_pct": ld["steal"], "busy_pct": ld["busy"],
                                    "foreign_pct": ld["foreign"], "attempts": tries,
                                    "server_cpu_ms_per_req": 1000.0 * cpu / max(1, res["requests"]),
                                    "proxy_cpu_ms_per_req": 1000.0 * pcpu / max(1, res["requests"])})
                        runs.append(res)
                        print(f"    c={conc:<2} round {rnd + 1} {name:<7} {res['rps']:8.0f} req/s "
                              f"p50 {res['p50']:6.3f} ms p99 {res['p99']:7.3f} ms "
                              f"cpu {res['server_cpu_ms_per_req']:.3f} ms/req "
                              f"(proxy {res['proxy_cpu_ms_per_req']:.3f}) "
                              f"non2xx {res['non2xx']} err {res['errors']} "
                              f"steal {ld['steal']:4.1f}% other {ld['foreign']:4.1f}%", flush=True)
        finally:
            if nginx is not None:
                nginx.stop()
            if stack is not None:
                stack.stop_all()
            nats_srv.stop()
            if pg is not None:
                pg.drop()
    return runs


def report(runs: list[dict], gen: str, db: str) -> dict:
    names = list(dict.fromkeys(r["target"] for r in runs))
    summary_rows, ratio_rows, summary = [], [], {}
    for conc in CONCURRENCY:
        by = {n: {r["round"]: r for r in runs if r["target"] == n and r["conc"] == conc}
              for n in names}
        for n in names:
            rs = list(by[n].values())
            summary_rows.append([
                n, conc, spread([r["rps"] for r in rs], "{:,.0f}"),
                spread([r["p50"] for r in rs], "{:.3f}"), spread([r["p99"] for r in rs], "{:.2f}"),
                spread([r["server_cpu_ms_per_req"] for r in rs], "{:.3f}"),
                spread([r["proxy_cpu_ms_per_req"] for r in rs], "{:.3f}") if n != "direct" else "–",
                sum(r["non2xx"] + r["errors"] for r in rs),
                spread([r["steal_pct"] for r in rs], "{:.1f}"),
                spread([r["foreign_pct"] for r in rs], "{:.1f}")])
        for n in names:
            if n == "direct":
                continue
            rounds = sorted(set(by[n]) & set(by["direct"]))
            thr = [by[n][k]["rps"] / by["direct"][k]["rps"] for k in rounds]
            added = [by[n][k]["p50"] - by["direct"][k]["p50"] for k in rounds]
            added99 = [by[n][k]["p99"] - by["direct"][k]["p99"] for k in rounds]
            ok_p50 = median(added) <= TARGET_ADDED_P50_MS
            ok_thr = median(thr) >= TARGET_THROUGHPUT
            summary[f"{n}_c{conc}"] = {"throughput_ratio": thr, "added_p50_ms": added,
                                       "added_p99_ms": added99}
            ratio_rows.append([
                f"{n} vs direct", conc, spread(added, "{:+.3f}"), spread(added99, "{:+.2f}"),
                spread(thr, "{:.3f}"),
                f"added p50 <= {TARGET_ADDED_P50_MS:g} ms: {verdict(ok_p50)}; "
                f"throughput >= {TARGET_THROUGHPUT}x: {verdict(ok_thr)}"
                if n == "gateway" else "(reference)"])
    print()
    print(f"  [{db}] load generator: {gen}")
    print(table(["target", "conc", "req/s", "p50 ms", "p99 ms", "server CPU ms/req",
                 "of which the proxy's own CPU ms/req",
                 "non-2xx + errors", "steal %", "other load %"], summary_rows))
    print()
    print(table(["hop", "conc", "added p50 ms (paired)", "added p99 ms (paired)",
                 "throughput ratio (paired)", "target"], ratio_rows))
    data = {"benchmark": "gateway_cost", "db": db, "endpoint": ENDPOINT, "generator": gen,
            "rounds": ROUNDS,
            "seconds": SECONDS, "runs": runs, "summary": summary}
    print(f"  raw: {save(f'gateway_cost-{ENDPOINT}-{db}', data)}")
    return data


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or ["sqlite", "postgres"])
