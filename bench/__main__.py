"""`python -m bench` runs every benchmark of issue 16 and prints one table.

  python -m bench                  quick mode: small sizes, under 15 minutes on 2 vCPUs
  python -m bench --full           the issue's sizes ("national x100"); `make bench FULL=1`
  python -m bench --smoke          tiny sizes: only shows every benchmark still runs (CI)
  python -m bench --only a,b       some jobs: registry_cost, event_lag, indicators_survey,
                                   comms_fanout, registry_search, gateway_cost, cold_start,
                                   theme_view, overlap, job_overhead
  python -m bench --write-results  also put the table at the top of bench/RESULTS.md

Each benchmark runs in its own process (bench/figures.py says how and at which sizes); one that
fails or times out gives "error" in its rows, the rest still run, and the exit status is 1.
The table: figure, target, result, same-run baseline and the ratio to it, CPU per operation,
met or not, and the other load of the window (share of both vCPUs used by processes that are
neither the benchmark's own nor PostgreSQL: other sessions sharing the machine). Everything
goes to bench/out/run-<date>-<commit>.json (and .log). A single module still runs alone:
`python -m bench.event_lag sqlite`, `python -m bench.registry_cost --db postgres`, ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time

from bench.common import OUT, ROOT, LoadMeter, machine_info, table, wait_for_quiet
from bench.figures import JOBS, error_row

RESULTS = ROOT / "bench" / "RESULTS.md"
TOP_MARK = "<!-- python -m bench --write-results puts each new run below this line -->"


def fmt(x, unit: str = "") -> str:
    if x is None or x != x:
        return "–"
    a = abs(x)
    text = (f"{x:,.0f}" if a >= 100 else f"{x:.1f}" if a >= 10 else f"{x:.2f}" if a >= 0.1
            else f"{x:.3f}")
    return f"{text} {unit}".strip()


def render(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if r["error"]:
            result, met = "**error**", "error"
        else:
            result = fmt(r["result"], r["unit"])
            met = {True: "MET", False: "**NOT MET**", None: "recorded"}[r["met"]]
        base = f"{fmt(r['baseline'])} ({r['baseline_what']})" if r["baseline"] is not None else "–"
        note = r["error"] or r["note"]
        out.append([r["title"], r["db"] or "–", r["target"] or "(none)", result, base,
                    f"{r['ratio']:.2f}×" if r["ratio"] is not None else "–", r["cpu_per_op"] or "–",
                    met, f"{r['other_load']:.0f}" if r.get("other_load") is not None else "–",
                    r["size"], note.replace("|", "/").replace("\n", " ")[:300]])
    return table(["figure", "db", "target", "result", "same-run baseline", "ratio to baseline",
                  "CPU per operation", "met", "other load %", "size", "notes"], out)


def write_results(section: str, path=RESULTS) -> None:
    old = path.read_text() if path.exists() else ""
    if TOP_MARK not in old:  # the first time: the earlier results move down, kept whole
        head = ("# TEKE benchmarks: results\n\n"
                "`make bench` (quick mode, `python -m bench`) runs every benchmark of issue 16 and "
                "prints one table; `make bench FULL=1` runs the issue's sizes. Each run written "
                "here (`--write-results`) goes on top, older ones below; the raw figures of "
                "every run are in the git-ignored bench/out/. Read the ratio to the same-run "
                "baseline and the CPU per operation first: the machine is shared, and absolute "
                "times move with the other load (its column).\n\n" + TOP_MARK + "\n")
        old = head + ("\n# Earlier results\n\nThe results as they were written before "
                      "`python -m bench` gave one table, unchanged (each section says its date "
                      "and command).\n\n" + old if old else "")
    top, rest = old.split(TOP_MARK, 1)
    path.write_text(top + TOP_MARK + "\n\n" + section.strip() + "\n" + rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the issue's sizes")
    size.add_argument("--smoke", action="store_true", help="tiny sizes (CI): every benchmark runs")
    parser.add_argument("--only", default="", help="comma-separated job names (default all)")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("--write-results", action="store_true",
                        help="put the table at the top of bench/RESULTS.md")
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait (up to 60 s) for a quieter machine first")
    parser.add_argument("--verbose", action="store_true", help="echo each benchmark's output")
    parser.add_argument("--nice", type=int, default=-10,
                        help="scheduling priority of the benchmarks and what they start "
                             "(default -10; needs root, else ignored)")
    args = parser.parse_args(argv)
    mode = "full" if args.full else "smoke" if args.smoke else "quick"
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    known = [j.name for j in JOBS]
    for n in names:
        if n not in known:
            parser.error(f"unknown benchmark {n!r}; choose from {', '.join(known)}")
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgres"):
            parser.error(f"unknown database {d!r}")

    def _stop(*_):  # unwinds through the jobs' cleanup (their processes get SIGINT)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # children inherit it
    except OSError:
        pass
    niced = os.getpriority(os.PRIO_PROCESS, 0)

    info = machine_info()
    commit = info["git"].split()[0]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    OUT.mkdir(parents=True, exist_ok=True)
    base = OUT / f"run-{stamp}-{commit}"
    log_file = open(base.with_suffix(".log"), "w")  # noqa: SIM115

    def log(text: str, echo: bool = True) -> None:
        log_file.write(text + "\n")
        log_file.flush()
        if echo:
            print(text, flush=True)

    log(f"TEKE benchmarks, {mode} mode, databases {','.join(dbs)}")
    log(f"machine: {info['nproc']} vCPU, {info['cpu_model']}, kernel {info['kernel']}, "
        f"Python {info['python']}; git {info['git']}; nice {niced}; started {info['started']}")
    if not args.no_wait and not args.smoke:
        log(wait_for_quiet(max_wait=60))
    rows: list[dict] = []
    ctx: dict = {"log": log, "verbose": args.verbose}
    t_run = time.monotonic()
    for job in JOBS:
        if names and job.name not in names:
            continue
        params = job.params[mode]
        ctx["timeout"] = job.timeout[mode]
        on = [d for d in job.dbs if d in dbs] if job.dbs else [None]
        for db in on[:1] if job.one_db else on:
            log(f"\n{job.name}{f' [{db}]' if db else ''}: {params}")
            meter, t0 = LoadMeter(), time.monotonic()
            try:
                got = job.run(params, db, ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001  (this row says error; the rest still run)
                msg = f"{type(exc).__name__}: {exc}"
                log(f"  ERROR: {msg[:2000]}")
                got = [error_row(f, msg[:500]) for f in job.figures]
            load = meter.read()
            took = time.monotonic() - t0
            for r in got:
                r.update(job=job.name, db=db, other_load=load["foreign"], steal=load["steal"],
                         busy=load["busy"], seconds=round(took, 1), params=params)
                log(f"  {r['title']}: " + (f"error ({r['error'][:200]})" if r["error"] else
                                           f"{fmt(r['result'], r['unit'])}, met {r['met']}"))
            log(f"  ({took:.0f} s, other load {load['foreign']:.0f} %, steal {load['steal']:.1f} %)")
            rows.extend(got)
    total = time.monotonic() - t_run
    loads = [r["other_load"] for r in rows]
    text = render(rows)
    heading = (f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC: {mode} mode, git {info['git']}")
    summary = (f"Machine: {info['nproc']} vCPU {info['cpu_model']}, kernel {info['kernel']}, "
               f"Python {info['python']}. Shared with other sessions' work: other load "
               f"{min(loads, default=0):.0f}–{max(loads, default=0):.0f} % of the machine across "
               f"the windows (its column per row). Whole run {total / 60:.1f} min. "
               f"`python -m bench{'' if mode == 'quick' else ' --' + mode}`; raw: "
               f"bench/out/{base.name}.json.")
    log("\n" + heading + "\n\n" + summary + "\n\n" + text)
    errors = [r for r in rows if r["error"]]
    data = {"mode": mode, "machine": info, "commit": commit, "date": info["started"],
            "databases": dbs, "seconds": total, "rows": rows,
            "other_load_pct": {"min": min(loads, default=None), "max": max(loads, default=None)}}
    base.with_suffix(".json").write_text(json.dumps(data, indent=2, default=str))
    log(f"\nraw: {base.with_suffix('.json')}")
    if args.write_results:
        write_results(heading + "\n\n" + summary + "\n\n" + text)
        log(f"written to the top of {RESULTS}")
    if errors:
        log(f"{len(errors)} row(s) in error: {', '.join(sorted({r['job'] for r in errors}))}")
    log_file.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
