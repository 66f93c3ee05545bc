"""Cold start of the embedded default (`deploy/embedded.py`, what `make run` runs) and idle RSS.

`python -m bench.cold_start [--repeats N] [--baseline CHECKOUT]`

Per repeat: a first run on an empty data folder, then a run with that data present. Each is
timed from spawn to the "TEKE is running." line; the CPU of the whole start (the runner,
nats-server, the services and every CLI process the runner waited for) is read from /proc.
The runner's data/startup.json gives the phases; `python -X importtime` gives each service's
import cost by package. After each start the services idle 3 s and their RSS is read.
`--baseline` runs another checkout's runner (with its own .venv) in the same window,
alternating with this one, for ratios that survive a shared machine.

Writes bench/out/cold_start-<ts>.json: {"first_run_s", "warm_start_s", "phases", "rss_mb", ...}.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import CLK_TCK, ROOT, LoadMeter, machine_info, median, rss_mb, save, spread, workdir

SERVICES = ("registry", "indicators", "comms", "gateway")


def _tree(root: int) -> dict[int, tuple[str, list[str]]]:
    """pid -> (cmdline, /proc stat fields after the name) of `root` and its descendants (the
    runner puts each child in a session of its own, so the tree is followed by parent pid)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        procs[int(entry)] = (cmd, raw.rsplit(")", 1)[1].split())
    keep, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in procs and pid not in keep:
            keep[pid] = procs[pid]
            frontier += [p for p, (_, f) in procs.items() if int(f[1]) == pid]
    return keep


def _cpu_s(procs: dict[int, tuple[str, list[str]]]) -> float:
    # utime + stime of the live ones, plus cutime + cstime: the CLIs they waited for
    return sum(int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]) for _, f in procs.values()) / CLK_TCK


def one_start(checkout: Path, data: Path, *, idle: float = 3.0) -> dict:
    """Start the embedded default of `checkout` on `data`, stop it once running."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "INDICATORS_", "COMMS_", "GATEWAY_", "VIRTUAL_ENV",
                                "TEKE_"))}
    from deploy.embedded import free_port

    env.update({"TEKE_DATA": str(data), "TEKE_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"})
    t0 = time.monotonic()
    proc = subprocess.Popen([str(checkout / ".venv/bin/python"), "deploy/embedded.py"],
                            cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    result: dict = {}
    try:
        for line in proc.stdout:
            lines.append(line)
            if "TEKE is running." in line:
                result["wall_s"] = time.monotonic() - t0
                result["cpu_s"] = _cpu_s(_tree(proc.pid))
            if "Press Ctrl-C to stop." in line:
                break
        if "wall_s" not in result:
            raise RuntimeError("no 'TEKE is running.':\n" + "".join(lines[-40:]))
        time.sleep(idle)
        rss = {}
        for pid, (cmd, _) in _tree(proc.pid).items():
            for name in SERVICES:
                if f"{name}.main:create_app" in cmd:
                    rss[name] = round(rss_mb(pid), 1)
        result["rss_mb"] = rss
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    startup = data / "startup.json"
    if startup.exists() and startup.stat().st_mtime >= time.time() - result["wall_s"] - 120:
        import json

        result["runner"] = json.loads(startup.read_text())
    return result


def import_split(top: int = 8) -> dict[str, dict]:
    """Per service: CPU of `import <svc>.main` and the packages whose own import time is largest."""
    out = {}
    for name in SERVICES:
        before = os.times()
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {name}.main"],
                             cwd=ROOT, capture_output=True, text=True).stderr
        after = os.times()
        by_pkg: dict[str, int] = {}
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, mod = line[12:].split("|")
            pkg = mod.strip().split(".")[0]
            by_pkg[pkg] = by_pkg.get(pkg, 0) + int(self_us)
        biggest = sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]
        out[name] = {"cpu_s": round(after.children_user + after.children_system
                                    - before.children_user - before.children_system, 3),
                     "top_self_ms": {k: round(v / 1000) for k, v in biggest}}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout (with .venv) to compare")
    args = parser.parse_args(argv)
    targets = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, dict[str, list[dict]]] = {t: {"first": [], "warm": []} for t in targets}
    meter = LoadMeter()
    with workdir("coldstart") as tmp:
        for i in range(args.repeats):
            for target, checkout in targets.items():
                data = Path(tmp) / f"{target}-{i}"
                first = one_start(checkout, data)
                runs[target]["first"].append(first)
                warm = one_start(checkout, data)
                runs[target]["warm"].append(warm)
                print(f"  {target} #{i + 1}: first {first['wall_s']:.1f} s ({first['cpu_s']:.1f} s CPU), "
                      f"warm {warm['wall_s']:.1f} s ({warm['cpu_s']:.1f} s CPU), rss {warm['rss_mb']}",
                      flush=True)
    load = meter.read()
    split = import_split()

    def med(target: str, kind: str, key: str) -> float:
        return round(median([r[key] for r in runs[target][kind]]), 2)

    warm = runs["this"]["warm"]
    phases = {k: round(median([r["runner"]["phases"][k] for r in warm if "runner" in r]), 3)
              for k in warm[0].get("runner", {}).get("phases", {})}
    phases["service_ready_s"] = {
        n: round(median([r["runner"]["service_ready_s"][n] for r in warm]), 2)
        for n in warm[0].get("runner", {}).get("service_ready_s", {})}
    phases["imports"] = split
    rss = {n: round(median([r["rss_mb"][n] for r in warm if n in r["rss_mb"]]), 1)
           for n in SERVICES}
    rss_first = {n: round(median([r["rss_mb"][n] for r in runs["this"]["first"]
                                  if n in r["rss_mb"]]), 1) for n in SERVICES}
    data = {
        "first_run_s": med("this", "first", "wall_s"), "warm_start_s": med("this", "warm", "wall_s"),
        "first_run_cpu_s": med("this", "first", "cpu_s"), "warm_start_cpu_s": med("this", "warm", "cpu_s"),
        "phases": phases, "rss_mb": rss, "rss_mb_after_first_run": rss_first,
        "repeats": args.repeats, "load": {k: round(v, 1) for k, v in load.items()},
        "machine": machine_info(), "runs": runs,
    }
    if args.baseline:
        data["baseline"] = {"checkout": str(args.baseline),
                            **{f"{k}_{m}": med("baseline", k, m) for k in ("first", "warm")
                               for m in ("wall_s", "cpu_s")},
                            "rss_mb": {n: round(median([r["rss_mb"][n] for r in runs["baseline"]["warm"]
                                                        if n in r["rss_mb"]]), 1) for n in SERVICES}}
        data["ratio_warm_cpu"] = round(data["warm_start_cpu_s"] / data["baseline"]["warm_cpu_s"], 3)
        data["ratio_warm_wall"] = round(data["warm_start_s"] / data["baseline"]["warm_wall_s"], 3)
    path = save("cold_start", data)
    print(f"first run {spread([r['wall_s'] for r in runs['this']['first']])} s, "
          f"warm start {spread([r['wall_s'] for r in warm])} s "
          f"(CPU {spread([r['cpu_s'] for r in warm])} s); phases {phases}")
    print(f"idle RSS MB (warm): {rss}; other load {load['foreign']:.0f} %, steal {load['steal']:.0f} %")
    if args.baseline:
        print(f"baseline {args.baseline}: {data['baseline']}; ratios warm CPU "
              f"{data['ratio_warm_cpu']}, wall {data['ratio_warm_wall']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
