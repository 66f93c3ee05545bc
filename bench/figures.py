"""The figures `python -m bench` reports: what runs, at which sizes, and how to read its result.

A Job runs one benchmark module (through its CLI, in its own process, so one failing or hanging
benchmark does not stop the rest) at the parameters of the mode (smoke, quick, full), once per
database where the figure depends on it, and turns the JSON the module wrote to bench/out/ into
rows of the table: one per Figure it measures. Every row has the figure, its target, the result,
the same-run baseline and the ratio to it, the CPU time per operation, met or not, and the other
load of the window (bench.common.LoadMeter, measured by the runner around the job).

Sizes: `full` is issue 16's "national x100" (150,000 projects, 1,500,000 in search, 1,000,000
survey responses, 100,000 subscribers, 200 events/s); `quick` is chosen so the whole run takes
under 15 minutes on 2 vCPUs; `smoke` only shows that every benchmark still runs end to end.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import OUT, ROOT
from bench.registry_cost import FLOOR, UNCACHED

MODES = ("smoke", "quick", "full")


@dataclass
class Figure:
    key: str
    title: str
    target: str                                 # as the issue states it; "" = recorded only
    unit: str
    check: Callable[[float], bool] | None = None  # None: recorded, no target


@dataclass
class Job:
    name: str
    figures: list[Figure]
    params: dict[str, dict[str, Any]]           # mode -> parameters
    run: Callable[[dict, str | None, dict], list[dict]]
    dbs: tuple[str, ...] | None = ("sqlite", "postgres")  # None: does not use a database
    one_db: bool = False  # only the first of `dbs` that the run has (the figure's own database)
    timeout: dict[str, float] = field(default_factory=lambda: {"smoke": 300, "quick": 600,
                                                               "full": 7200})


# --- running a module ------------------------------------------------------------------------

class CliResult:
    def __init__(self, stdout: str, files: list[Path], cpu_s: float) -> None:
        self.stdout, self.files, self.cpu_s = stdout, files, cpu_s

    def json(self, prefix: str) -> dict:
        """The newest JSON file `prefix-<timestamp>.json` the module wrote in this run."""
        found = [f for f in self.files if f.name.startswith(prefix + "-")
                 and f.name[len(prefix) + 1:len(prefix) + 2].isdigit()]
        if not found:
            raise RuntimeError(f"no bench/out/{prefix}-*.json written; output:\n"
                               + self.stdout[-1500:])
        return json.loads(max(found, key=lambda f: f.stat().st_mtime).read_text())


def cli(module: str, args: list[str], ctx: dict, env: dict[str, str] | None = None) -> CliResult:
    """`python -m module args` in its own session; its output is echoed (indented) and logged.
    On timeout: SIGINT to its process group (the modules stop their services in `finally`),
    SIGKILL 30 s later. CPU: user + system time of it and every descendant it waited for."""
    cmd = [sys.executable, "-m", module, *args]
    ctx["log"](f"  $ {' '.join(cmd[1:])}" + (f"  ({' '.join(f'{k}={v}' for k, v in env.items())})"
                                             if env else ""))
    started = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGKILL, 0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    timer = threading.Timer(ctx["timeout"], stop)
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            ctx["log"]("    " + line.rstrip(), echo=ctx["verbose"])
        proc.wait()
    except BaseException:
        stop()
        raise
    finally:
        timer.cancel()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = "".join(lines)
    if timed_out.is_set():
        raise RuntimeError(f"timed out after {ctx['timeout']:.0f} s")
    if proc.returncode != 0:
        raise RuntimeError(f"exit status {proc.returncode}: {out.strip()[-600:]}")
    files = [f for f in OUT.glob("*.json") if f.stat().st_mtime >= started - 1]
    return CliResult(out, files, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime))


def med(xs) -> float:
    xs = [x for x in xs if x is not None and x == x]
    return statistics.median(xs) if xs else float("nan")


def row(fig: Figure, *, result: float | None, baseline: float | None = None,
        baseline_what: str = "", ratio: float | None = None, cpu: str = "", size: str = "",
        note: str = "") -> dict:
    """One table row. The verdict is on the result at the size run (the size column): in quick
    and smoke mode smaller than the target's where the figure depends on size."""
    if ratio is None and result is not None and baseline:
        ratio = result / baseline
    met = None if fig.check is None or result is None or result != result else fig.check(result)
    return {"figure": fig.key, "title": fig.title, "target": fig.target, "unit": fig.unit,
            "result": result, "baseline": baseline,
            "baseline_what": baseline_what, "ratio": ratio, "cpu_per_op": cpu, "size": size,
            "met": met, "note": note, "error": None}


# --- the figures --------------------------------------------------------------------------------

F = {f.key: f for f in [
    Figure("registry_read", "registry read GET /projects/{id}, full record (kept, checked per "
           "read): service CPU/request",
           "<= 1 ms", "ms", lambda x: x <= 1.0),
    Figure("registry_create", "registry create POST /projects, full record: service CPU/request",
           "<= 2.5 ms (>= 400/s from one process)", "ms", lambda x: x <= 2.5),
    Figure("event_lag_http", "event lag p99 at 200 events/s: registry POST 201 -> projection",
           "<= 20 ms", "ms", lambda x: x <= 20),
    Figure("event_lag_outbox", "event lag p99 at 200 events/s: outbox commit -> projection",
           "<= 20 ms", "ms", lambda x: x <= 20),
    Figure("survey", "survey scoring + aggregation of 1,000,000 responses", "<= 1 s", "s",
           lambda x: x <= 1.0),
    Figure("fanout", "newsletter fan-out to a local SMTP server, none lost or twice",
           ">= 1,000 msg/s", "msg/s", lambda x: x >= 1000),
    Figure("search", "search + facets p95 (in-memory index path; the target is on PostgreSQL)",
           "<= 100 ms at 1,500,000 projects", "ms", lambda x: x <= 100),
    Figure("gateway_p50", "gateway added p50, concurrency 1 (paired with direct)", "<= 0.3 ms",
           "ms", lambda x: x <= 0.3),
    Figure("gateway_c32", "gateway throughput vs direct, 32 connections", ">= 0.9 x direct", "x",
           lambda x: x >= 0.9),
    Figure("cold_start", "cold start, data present (embedded run -> 'TEKE is running.')",
           "<= 10 s", "s", lambda x: x <= 10),
    Figure("idle_rss", "idle memory, largest service process (RSS)", "<= 100 MB each", "MB",
           lambda x: x <= 100),
    Figure("theme_view", "theme view GET /api/v1/views/themes/{id}, wall p50", "", "ms"),
    Figure("overlap", "overlap: similar projects for one project, wall p50", "", "ms"),
    Figure("job_export", "job overhead: CSV export as a job, wall", "", "s"),
    Figure("job_import", "job overhead: import as a job, wall", "", "s"),
]}


def run_registry_cost(p: dict, db: str, ctx: dict) -> list[dict]:
    """bench.registry_cost: service CPU per request of the registry and, in the same rounds, of
    the floor (a bare FastAPI app answering the same bytes from memory). The floor's idle RSS
    is the baseline of the idle-memory figure."""
    n, rounds = str(p["requests"]), str(p["rounds"])
    d = cli("bench.registry_cost", ["--db", db, "--requests", n, "--rounds", rounds],
            ctx).json("registry_cost")
    cpu = {(r["request"].split()[0], r["code"] == "this tree"): r["cpu_ms_median"]
           for r in d["results"] if r["db"] == db and r["code"] in ("this tree", FLOOR)}
    if len(cpu) != 4:
        raise RuntimeError(f"bench.registry_cost gave no GET/POST rows for {db}: {d['results']}")
    cold = next((r["cpu_ms_median"] for r in d["results"] if r["db"] == db
                 and r["code"] == UNCACHED and r["request"].startswith("GET")), None)
    got = {m: cpu[(m, True)] for m in ("GET", "POST")}
    floor_get, floor_post = cpu[("GET", False)], cpu[("POST", False)]
    if d.get("floor_idle_rss_mb"):
        ctx["floor_rss_mb"] = d["floor_idle_rss_mb"]
    size = f"{p['rounds']} x {p['requests']} sequential requests"
    return [
        row(F["registry_read"], result=got["GET"], baseline=floor_get,
            baseline_what="bare FastAPI, same JSON from memory", cpu=f"{got['GET']:.2f} ms/req",
            size=size, note="" if cold is None else f"a record not kept (cold read, "
                                                     f"REGISTRY_READ_CACHE_SIZE=0): {cold:.2f} ms"),
        row(F["registry_create"], result=got["POST"], baseline=floor_post,
            baseline_what="bare FastAPI, parse body + same JSON", cpu=f"{got['POST']:.2f} ms/req",
            size=size, note=f"{1000 / got['POST']:.0f}/s of one vCPU"),
    ]


def run_event_lag(p: dict, db: str, ctx: dict) -> list[dict]:
    env = {"TEKE_BENCH_LAG_SECONDS": str(p["seconds"]),
           "TEKE_BENCH_LAG_ONLY": "http:default,outbox:default",
           "TEKE_BENCH_FOREIGN_LIMIT": "100"}  # no repeats: the runner reports the load
    data = cli("bench.event_lag", [db], ctx, env=env).json("event_lag")
    runs = {(r["method"], r["variant"]): r for r in data["runs"]}
    out = []

    def cpu_ms_per_event(r: dict, keys) -> float:
        return sum(r["cpu_pct"].get(k, 0) for k in keys) / 100 * r["wall_seconds"] * 1000 / max(1, r["ok"])

    outbox = runs.get(("outbox", "default"))
    http = runs.get(("http", "default"))
    size = f"200/s for {p['seconds']} s"
    if http:
        lag = http["lag_ref_ms"]
        out.append(row(
            F["event_lag_http"], result=lag["p99"],
            baseline=outbox["lag_ref_ms"]["p99"] if outbox else None,
            baseline_what="outbox producer (no registry HTTP/ORM)",
            cpu=f"{cpu_ms_per_event(http, ('registry', 'indicators')):.1f} ms/event "
                "(registry + indicators)", size=size,
            note=f"completed {http['completed_per_s']:.0f}/s, p50 {lag['p50']:.0f} ms, "
                 f"missing {http['missing']}, errors {http['errors']}"))
    else:
        out.append(error_row(F["event_lag_http"], "no http run in bench.event_lag's output"))
    if outbox:
        lag = outbox["lag_ref_ms"]
        out.append(row(
            F["event_lag_outbox"], result=lag["p99"],
            cpu=f"{cpu_ms_per_event(outbox, outbox['cpu_pct']):.1f} ms/event "
                "(indicators + producer/relay)", size=size,
            note=f"completed {outbox['completed_per_s']:.0f}/s, p50 {lag['p50']:.0f} ms, "
                 f"relay p99 {outbox['relay_ms']['p99']:.0f} ms, "
                 f"consumer p99 {outbox['consumer_ms']['p99']:.0f} ms"))
    else:
        out.append(error_row(F["event_lag_outbox"], "no outbox run in bench.event_lag's output"))
    return out


def run_survey(p: dict, db: str | None, ctx: dict) -> list[dict]:  # noqa: ARG001
    n = p["n"]
    d = cli("bench.indicators_survey", [], ctx,
            env={"TEKE_BENCH_SURVEY_N": str(n)}).json("indicators_survey")
    return [row(F["survey"], result=d["median_s"], baseline=d["baseline_s"],
                baseline_what="pure-Python row-by-row scoring (scaled)",
                cpu=f"{d['cpu_us_per_response']:.2f} µs/response", size=f"{n:,} responses",
                note="median of 5")]


def _find(obj, key: str) -> list[dict]:
    """Every dict inside obj that has `key` (the fan-out JSON's shape is its owner's)."""
    if isinstance(obj, dict):
        return ([obj] if key in obj else []) + [d for v in obj.values() for d in _find(v, key)]
    if isinstance(obj, list):
        return [d for v in obj for d in _find(v, key)]
    return []


def run_fanout(p: dict, db: str | None, ctx: dict) -> list[dict]:  # noqa: ARG001
    """bench.comms_fanout through its CLI; its JSON from bench/out/ when it writes one, else
    the table it prints (subscribers | connections | queue | publish->last | msgs/s |
    received | unique | verdict)."""
    res = cli("bench.comms_fanout", ["--subscribers", str(p["subscribers"]), "--concurrency",
                                     str(p["concurrency"]), "--webhooks", "0",
                                     "--enqueue", p.get("enqueue", "100000,1000000")], ctx)
    runs = []
    files = [f for f in res.files if f.name.startswith("comms_fanout")]
    if files:
        data = json.loads(max(files, key=lambda f: f.stat().st_mtime).read_text())
        runs = [r for r in _find(data, "msgs_per_s") if "subscribers" in r]
    if not runs:
        for line in res.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 7 and cells[0].isdigit() and cells[1].isdigit():
                runs.append({"subscribers": int(cells[0]), "concurrency": int(cells[1]),
                             "msgs_per_s": float(cells[4]), "received": int(cells[5]),
                             "unique": int(cells[6])})
    if not runs:
        raise RuntimeError("no fan-out result in bench.comms_fanout's output:\n"
                           + res.stdout[-1500:])
    best = max(runs, key=lambda r: r["msgs_per_s"])
    exact = all(r.get("unique") == r["subscribers"] == r.get("received", r["subscribers"])
                for r in runs)
    sent = sum(r["subscribers"] for r in runs)
    cpu = best.get("cpu_ms_per_msg")
    cpu_text = (f"{cpu:.3f} ms/msg" if isinstance(cpu, int | float)
                else f"{1000 * res.cpu_s / sent:.3f} ms/msg (whole run incl. setup + SMTP sink)")
    base = best.get("baseline_msgs_per_s")
    r = row(F["fanout"], result=best["msgs_per_s"],
            baseline=base if isinstance(base, int | float) else None,
            baseline_what="module's baseline" if isinstance(base, int | float) else "",
            cpu=cpu_text, size=f"{p['subscribers']:,} subscribers, {p['concurrency']} SMTP conn.",
            note=("every message once" if exact else "LOST OR DUPLICATE MESSAGES")
            + "; restart case: tests/comms")
    if not exact:
        r["met"] = False
    return [r]


def run_search(p: dict, db: str, ctx: dict) -> list[dict]:
    d = cli("bench.registry_search", ["--db", db, "--projects", str(p["projects"]), "--queries",
                                      str(p["queries"]), "--rounds", str(p["rounds"])],
            ctx).json("registry_search")["runs"][0]
    per = d.get("index_bytes_per_project")
    return [row(F["search"], result=med(d["index_p95_ms"]), baseline=med(d["sql_p95_ms"]),
                baseline_what="SQL-only path, same queries",
                cpu=f"{med(d['index_cpu_ms_per_query']):.1f} ms/query (bench process; DB server "
                    "not counted)",
                size=f"{p['projects']:,} projects, {p['rounds']} x {p['queries']} queries",
                note=f"p50 {med(d['index_p50_ms']):.1f} ms; index memory "
                     + (f"~{per:,.0f} B/project" if per else "n/a"))]


def run_gateway(p: dict, db: str, ctx: dict) -> list[dict]:
    env = {"TEKE_BENCH_GW_ROUNDS": str(p["rounds"]), "TEKE_BENCH_GW_SECONDS": str(p["seconds"]),
           "TEKE_BENCH_FOREIGN_LIMIT": "100"}
    d = cli("bench.gateway_cost", [db], ctx, env=env).json(f"gateway_cost-project-{db}")
    s, runs = d["summary"], d["runs"]

    def pick(target: str, conc: int, key: str) -> float:
        return med(r[key] for r in runs if r["target"] == target and r["conc"] == conc)

    size = f"{p['rounds']} rounds x {p['seconds']} s per target, {d['generator'].split()[0]}"
    gw_cpu = pick("gateway", 1, "proxy_cpu_ms_per_req")
    nginx = s.get("nginx_c1")
    nginx32 = s.get("nginx_c32")
    return [
        row(F["gateway_p50"], result=med(s["gateway_c1"]["added_p50_ms"]),
            baseline=pick("direct", 1, "p50"), baseline_what="direct p50 ms (registry port)",
            ratio=pick("gateway", 1, "p50") / pick("direct", 1, "p50"),
            cpu=f"{gw_cpu:.2f} ms/req gateway "
                f"(+{pick('gateway', 1, 'server_cpu_ms_per_req') - gw_cpu:.2f} registry)",
            size=size, note=f"nginx adds {med(nginx['added_p50_ms']):.3f} ms" if nginx else ""),
        row(F["gateway_c32"], result=med(s["gateway_c32"]["throughput_ratio"]),
            baseline=pick("direct", 32, "rps"), baseline_what="direct req/s",
            ratio=med(s["gateway_c32"]["throughput_ratio"]),
            cpu=f"{pick('gateway', 32, 'proxy_cpu_ms_per_req'):.2f} ms/req gateway", size=size,
            note=(f"{pick('gateway', 32, 'rps'):.0f} req/s; nginx "
                  f"{med(nginx32['throughput_ratio']):.2f} x direct" if nginx32 else "")),
    ]


def run_startup(p: dict, db: str | None, ctx: dict) -> list[dict]:  # noqa: ARG001
    """bench.cold_start: a first run, then starts with the data present (demo data included)."""
    d = cli("bench.cold_start", ["--repeats", str(max(1, p["repeats"]))], ctx).json("cold_start")
    src = "bench.cold_start"
    rss = {k: v for k, v in d["rss_mb"].items() if k != "nats-server"}
    floor = ctx.get("floor_rss_mb")
    repeats = d.get("repeats", p["repeats"])
    cpu = d.get("warm_start_cpu_s")
    biggest = max(rss, key=rss.get) if rss else None
    return [
        row(F["cold_start"], result=d["warm_start_s"],
            cpu=f"{cpu:.1f} s CPU per start (all processes)" if cpu else "",
            size=f"median of {repeats} starts, demo data",
            note=f"first run {d['first_run_s']:.1f} s; {src}"),
        row(F["idle_rss"], result=rss[biggest] if biggest else None, baseline=floor,
            baseline_what="bare FastAPI/uvicorn process (registry_cost's floor)" if floor else "",
            size="after start, 5 s idle",
            note=", ".join(f"{k} {v:.0f}" for k, v in rss.items())),
    ]


def run_theme_view(p: dict, db: str, ctx: dict) -> list[dict]:
    d = cli("bench.theme_view", ["--db", db, "--requests", str(p["requests"])],
            ctx).json("theme_view")["runs"][0]
    v, b = d["view"], d["baseline"]
    return [row(F["theme_view"], result=v["p50_ms"], baseline=b["p50_ms"],
                baseline_what="GET /api/v1/themes/{id} p50 (one upstream read)",
                cpu=f"{v['cpu_ms_per_request']:.1f} ms/view (4 services; baseline "
                    f"{b['cpu_ms_per_request']:.1f})",
                size=f"{p['requests']} sequential views, demo data",
                note=f"p95 {v['p95_ms']:.0f} ms" + (f"; unavailable parts: {d['unavailable']}"
                                                   if d["unavailable"] else ""))]


def run_overlap(p: dict, db: str | None, ctx: dict) -> list[dict]:  # noqa: ARG001
    d = cli("bench.overlap", ["--speed-only", "--projects", str(p["projects"]), "--queries",
                              str(p["queries"]), "--corpus", "varied"], ctx).json("overlap")
    r = d["runs"][0]
    return [row(F["overlap"], result=r["query_wall_ms_p50"],
                cpu=f"{r['query_cpu_ms_p50']:.1f} ms/query",
                size=f"{p['projects']:,} projects (varied corpus), {r['queries']} queries",
                note=f"p95 {r['query_wall_ms_p95']:.1f} ms; index build {r['build_wall_s']:.0f} s, "
                     f"~{r['build_rss_mib']:.0f} MiB; full report ~{r['full_report_build_min']:.0f} min")]


def run_jobs(p: dict, db: str, ctx: dict) -> list[dict]:
    d = cli("bench.job_overhead", ["--db", db, "--import-rows", str(p["import_rows"]),
                                   "--export-rows", str(p["export_rows"]), "--rounds",
                                   str(p["rounds"])], ctx).json("job_overhead")
    by = {r["request"]: r for r in d["runs"] if r["db"] == db}
    out = []
    for kind, fig in (("export", F["job_export"]), ("import", F["job_import"])):
        job, sync = by[f"{kind} job"], by[f"{kind} sync"]
        out.append(row(fig, result=med(job["wall_s"]), baseline=med(sync["wall_s"]),
                       baseline_what=f"the same {kind} as a synchronous request",
                       cpu=f"{1000 * med(job['registry_cpu_s']) / job['rows']:.3f} ms/row registry "
                           f"(sync {1000 * med(sync['registry_cpu_s']) / sync['rows']:.3f})",
                       size=f"{job['rows']:,} rows, {p['rounds']} round(s)"))
    return out


def error_row(fig: Figure, message: str) -> dict:
    r = row(fig, result=None)
    r.update(met=False, error=message)
    return r


JOBS = [
    Job("registry_cost", [F["registry_read"], F["registry_create"]],
        {"smoke": {"requests": 30, "rounds": 1}, "quick": {"requests": 300, "rounds": 2},
         "full": {"requests": 1000, "rounds": 3}}, run_registry_cost),
    Job("event_lag", [F["event_lag_http"], F["event_lag_outbox"]],
        {"smoke": {"seconds": 2}, "quick": {"seconds": 8}, "full": {"seconds": 20}},
        run_event_lag),
    Job("indicators_survey", [F["survey"]],
        {"smoke": {"n": 20_000}, "quick": {"n": 1_000_000}, "full": {"n": 1_000_000}},
        run_survey, dbs=None),
    Job("comms_fanout", [F["fanout"]],
        # smoke: the bounded-memory enqueue at 2,000 subscribers, not 100,000 and 1,000,000
        # (those alone took ~5 min of the smoke run's 300 s on a slow machine under load).
        {"smoke": {"subscribers": 300, "concurrency": 4, "enqueue": "2000"},
         "quick": {"subscribers": 20_000, "concurrency": 16},
         "full": {"subscribers": 100_000, "concurrency": 16}}, run_fanout, dbs=None),
    Job("registry_search", [F["search"]],
        {"smoke": {"projects": 300, "queries": 10, "rounds": 1},
         "quick": {"projects": 20_000, "queries": 100, "rounds": 2},
         "full": {"projects": 1_500_000, "queries": 300, "rounds": 3}},
        run_search, dbs=("postgres", "sqlite"), one_db=True),
    Job("gateway_cost", [F["gateway_p50"], F["gateway_c32"]],
        {"smoke": {"rounds": 1, "seconds": 1}, "quick": {"rounds": 2, "seconds": 3},
         "full": {"rounds": 4, "seconds": 5}}, run_gateway),
    Job("cold_start", [F["cold_start"], F["idle_rss"]],
        {"smoke": {"repeats": 1}, "quick": {"repeats": 2}, "full": {"repeats": 3}}, run_startup, dbs=None,
        timeout={"smoke": 300, "quick": 900, "full": 1800}),
    Job("theme_view", [F["theme_view"]],
        {"smoke": {"requests": 5}, "quick": {"requests": 100}, "full": {"requests": 500}},
        run_theme_view, dbs=("sqlite", "postgres"), one_db=True),
    Job("overlap", [F["overlap"]],
        {"smoke": {"projects": 500, "queries": 10}, "quick": {"projects": 20_000, "queries": 50},
         "full": {"projects": 150_000, "queries": 200}}, run_overlap, dbs=None),
    Job("job_overhead", [F["job_export"], F["job_import"]],
        {"smoke": {"import_rows": 50, "export_rows": 200, "rounds": 1},
         "quick": {"import_rows": 1000, "export_rows": 5000, "rounds": 1},
         "full": {"import_rows": 5000, "export_rows": 150_000, "rounds": 2}}, run_jobs),
]
