"""`python -m bench` runs every benchmark; `python -m bench NAME [NAME ...]` runs some.

Names: event_lag, relay_throughput, gateway_cost, commit_visibility.
`--db sqlite,postgres` picks the databases (default both; PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import machine_info, use_pinned_nats_server

BENCHMARKS = ("event_lag", "relay_throughput", "gateway_cost", "commit_visibility")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME",
                        help=f"one or more of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgres"):
            parser.error(f"unknown database {d!r}")

    from shared.logging import configure_logging

    configure_logging("bench", "ERROR", json=False)  # the kit's own logs from this process
    info = machine_info()
    print(f"TEKE benchmarks: {' '.join(names)}")
    print(f"machine: {info['nproc']} vCPU, {info['cpu_model']}, kernel {info['kernel']}, "
          f"Python {info['python']}, started {info['started']}")
    print(f"nats-server: {use_pinned_nats_server()}")
    print(flush=True)
    t0 = time.monotonic()
    for name in names:
        t = time.monotonic()
        module = __import__(f"bench.{name}", fromlist=["main"])
        if name == "gateway_cost":
            module.main()
        else:
            module.main(dbs)
        print(f"  ({name} took {time.monotonic() - t:.0f} s)\n", flush=True)
    print(f"all done in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
