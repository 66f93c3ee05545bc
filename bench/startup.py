"""Cold start of the whole system and the idle memory of each service process.

`python -m bench.startup [--repeats 3] [--no-demo]`

Runs what `make run` runs (`python deploy/embedded.py`, the embedded default: nats-server, the
four services on SQLite, the mail catcher, demo data) on a fresh data folder and times it from
the spawn to its "TEKE is running." line: once on the empty folder (first run; then it waits
for the demo's theme goals to finish loading behind the running system, and stops), then
`--repeats` times with the data present (the figure). After the last start it waits 5 s idle
and reads each service process's resident memory (VmRSS from /proc). `make`'s own check of the
install is not included. Times of the runner's progress lines are recorded as phases.

`python -m bench` uses bench.cold_start instead when that module exists (same figures).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import ROOT, save, workdir

READY = "TEKE is running."
SERVICES = ("registry", "indicators", "comms", "gateway")


def _descendants(pid: int) -> list[int]:
    """Every process below pid (the services call setsid, so not by process group)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def _rss(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def service_rss(runner_pid: int) -> dict[str, float]:
    """MB of resident memory per service process (and nats-server) under the runner."""
    out = {}
    for pid in _descendants(runner_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            rss = _rss(pid)
        except OSError:
            continue
        for name in SERVICES:
            if f"{name}.main:create_app" in cmd:
                out[name] = rss
        if "nats-server" in cmd:
            out["nats-server"] = rss
    return out


def one_start(data: Path, demo: bool, wait_demo: bool, idle: float) -> dict:
    from deploy.embedded import free_port

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "INDICATORS_", "COMMS_", "GATEWAY_", "TEKE_NATS"))}
    env.update({"TEKE_PORT": str(free_port()), "TEKE_DATA": str(data)})
    cmd = [sys.executable, str(ROOT / "deploy" / "embedded.py")] + ([] if demo else ["--no-demo"])
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[tuple[float, str]] = []
    seen = threading.Event()
    demo_done = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append((time.monotonic() - t0, line.rstrip()))
            if READY in line:
                seen.set()
            if line.startswith("theme goals:"):
                demo_done.set()
        seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        seen.wait(300)
        ready = next((t for t, line in lines if READY in line), None)
        if ready is None:
            raise RuntimeError("no 'TEKE is running.' line:\n"
                               + "\n".join(line for _, line in lines[-40:]))
        if wait_demo:
            demo_done.wait(240)
        time.sleep(idle)
        rss = service_rss(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        reader.join(10)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    phases = {}
    for t, line in lines:
        if t > ready:
            break
        key = line.strip()[:60]
        if key and key not in phases:
            phases[key] = round(t, 2)
    return {"ready_s": ready, "rss_mb": rss, "phases": phases,
            "cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true", help="start without the demo data")
    args = parser.parse_args(argv)
    demo = not args.no_demo
    with workdir("startup") as tmp:
        data = tmp / "data"
        first = one_start(data, demo, wait_demo=demo, idle=0 if args.repeats else 5.0)
        print(f"first run (empty data folder): {first['ready_s']:.1f} s to '{READY}'", flush=True)
        warm = [] if args.repeats else [first]  # --repeats 0 (smoke): the first run stands in
        for i in range(args.repeats):
            warm.append(one_start(data, demo, wait_demo=False,
                                  idle=5.0 if i == args.repeats - 1 else 0))
            print(f"with data present: {warm[-1]['ready_s']:.1f} s "
                  f"(CPU {warm[-1]['cpu_s']:.1f} s)", flush=True)
    rss = warm[-1]["rss_mb"]
    data = {"benchmark": "startup", "demo": demo, "repeats": args.repeats, "first_run_s": first["ready_s"],
            "warm_start_s": statistics.median(w["ready_s"] for w in warm),
            "warm_starts_s": [w["ready_s"] for w in warm],
            "warm_cpu_s": statistics.median(w["cpu_s"] for w in warm),
            "phases": warm[-1]["phases"], "first_phases": first["phases"], "rss_mb": rss}
    print(f"idle RSS MB: {', '.join(f'{k} {v:.0f}' for k, v in rss.items())}")
    print(f"  raw: {save('startup', data)}")
    return data


if __name__ == "__main__":
    main()
