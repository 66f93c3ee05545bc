"""survey_privacy: what protecting a published survey table costs (issue 11).

In-process, the code the service runs (`indicators.surveys.service.results`): a closed UWES-9
round of N respondents in T teams (default 1,000 in 50), results with the team breakdown.
Each team has its own level, so band counts cluster and many cells fall under k = 5, as in
life. Baseline in the same run: the same results with the table's protection cut down to
primary suppression alone (no complementary suppression, no audit), i.e. the aggregation.
Wall and CPU time a call, median of R runs, and the audit's linear programs.

    python -m bench.survey_privacy            # TEKE_BENCH_PRIVACY_N / _TEAMS / _RUNS
"""

from __future__ import annotations

import os
import statistics
import time
from unittest import mock

import numpy as np

from bench.common import machine_info
from bench.indicators_survey import _uwes

N = int(os.environ.get("TEKE_BENCH_PRIVACY_N", "1000"))
TEAMS = int(os.environ.get("TEKE_BENCH_PRIVACY_TEAMS", "50"))
RUNS = int(os.environ.get("TEKE_BENCH_PRIVACY_RUNS", "7"))


def _round(n: int, teams: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    team = rng.integers(0, teams, n)
    level = rng.integers(8, 47, teams)[team]
    sums = np.clip(level + rng.integers(-12, 13, n), 0, 54)
    units = np.array([f"team-{t:03d}" for t in team], dtype=object)
    scores = sums / 9
    return units, scores, np.repeat(scores.reshape(-1, 1), 3, axis=1)   # vigor, dedication, absorption


def _time(fn) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(RUNS):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(dbs: list[str] | None = None) -> dict:  # noqa: ARG001
    from indicators.surveys import privacy
    from indicators.surveys.service import results

    ins = _uwes()
    units, scores, dims = _round(N, TEAMS)
    out = results(units, scores, dims, ins, 5, True)
    solves = []
    real_audit = privacy._audit

    def counting(t):
        found = real_audit(t)
        solves.append(t.lp_solves)
        return found

    with mock.patch.object(privacy, "_audit", counting):
        results(units, scores, dims, ins, 5, True)
    full_wall, full_cpu = _time(lambda: results(units, scores, dims, ins, 5, True))
    with mock.patch.object(privacy, "_suppress", _primary_only):
        base_wall, base_cpu = _time(lambda: results(units, scores, dims, ins, 5, True))
    report = {
        "machine": machine_info(), "respondents": N, "teams": TEAMS, "runs": RUNS,
        "privacy": out["privacy"], "lp_solves": solves[-1] if solves else 0,
        "protected_ms": {"wall": round(full_wall * 1e3, 1), "cpu": round(full_cpu * 1e3, 1)},
        "primary_only_ms": {"wall": round(base_wall * 1e3, 1), "cpu": round(base_cpu * 1e3, 1)},
        "ratio_cpu": round(full_cpu / base_cpu, 1) if base_cpu else None,
    }
    print(f"survey_privacy: {N} respondents in {TEAMS} teams, median of {RUNS}")
    print(f"  withheld {out['privacy']['withheld']} of {out['privacy']['figures']} figures "
          f"({out['privacy']['primary']} primary, {out['privacy']['complementary']} complementary), "
          f"{report['lp_solves']} LP solves in the last audit")
    print(f"  protected:    wall {report['protected_ms']['wall']} ms, cpu {report['protected_ms']['cpu']} ms")
    print(f"  primary only: wall {report['primary_only_ms']['wall']} ms, "
          f"cpu {report['primary_only_ms']['cpu']} ms  (ratio cpu {report['ratio_cpu']}x)")
    return report


def _primary_only(t) -> None:
    for f in t.figures:
        if t.protection.small(f.value):
            f.hidden = f.primary = True


if __name__ == "__main__":
    main()
