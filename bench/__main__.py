"""`python -m bench` runs every benchmark; `python -m bench NAME [NAME ...]` runs some.

Names: event_lag, relay_throughput, gateway_cost, commit_visibility.
`--db sqlite,postgres` picks the databases (default both; PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from bench.common import machine_info, use_pinned_nats_server, wait_for_quiet

BENCHMARKS = ("event_lag", "relay_throughput", "gateway_cost", "commit_visibility")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"one or more of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("--no-wait", action="store_true",
                        help="start at once even if other processes load the machine")
    parser.add_argument("--nice", type=int, default=-10,
                        help="scheduling priority for the benchmark and every process it starts "
                             "(default -10, so other work sharing the machine disturbs less; "
                             "needs root, else ignored)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    for n in names:
        if n not in BENCHMARKS:
            parser.error(f"unknown benchmark {n!r}; choose from {', '.join(BENCHMARKS)}")
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgres"):
            parser.error(f"unknown database {d!r}")

    # SIGTERM (and SIGINT even when started in the background) unwind through the finally
    # blocks, which stop every process the benchmarks started and drop their databases.
    def _stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    import os

    niced = "unchanged"
    try:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # children inherit it
        niced = str(os.getpriority(os.PRIO_PROCESS, 0))
    except OSError as exc:
        niced = f"unchanged ({exc.strerror})"

    from shared.logging import configure_logging

    configure_logging("bench", "ERROR", json=False)  # the kit's own logs from this process
    info = machine_info()
    print(f"TEKE benchmarks: {' '.join(names)}")
    print(f"machine: {info['nproc']} vCPU, {info['cpu_model']}, kernel {info['kernel']}, "
          f"Python {info['python']}, started {info['started']}")
    print(f"code: git {info['git']}")
    print(f"nats-server: {use_pinned_nats_server()}")
    import subprocess

    check = subprocess.run([sys.executable, "-c", "import registry.main, indicators.main, "
                            "comms.main, gateway.main"], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit("the services do not import (is the work tree mid-merge?):\n"
                         + check.stderr[-2000:])
    print(f"nice: {niced} (benchmark, services, nats-server, nginx, wrk; not PostgreSQL)")
    if not args.no_wait:
        print(wait_for_quiet(max_wait=120), flush=True)
    print(flush=True)
    t0 = time.monotonic()
    for i, name in enumerate(names):
        if i and not args.no_wait:
            print(wait_for_quiet(max_wait=60), flush=True)
        t = time.monotonic()
        try:
            module = __import__(f"bench.{name}", fromlist=["main"])
            module.main(dbs)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001  (one benchmark failing does not stop the rest)
            print(f"  {name} FAILED: {exc!r}"[:3000], flush=True)
        print(f"  ({name} took {time.monotonic() - t:.0f} s)\n", flush=True)
    print(f"all done in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
