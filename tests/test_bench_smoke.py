"""`python -m bench --smoke`: every benchmark of `make bench` still runs end to end (tiny sizes),
and its one table and JSON file hold every figure with a number. Not a measurement: the bench
code must not rot while the services change under it. Runs once per CI run (the SQLite pass;
the PostgreSQL pass deselects `embedded_run`): it starts the embedded run like `make run`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bench.__main__ import TOP_MARK, write_results
from bench.figures import JOBS, F
from deploy.embedded import ROOT


@pytest.mark.embedded_run
@pytest.mark.skipif(os.environ.get("TEKE_TEST_DB") == "postgres",
                    reason="once per CI run: on the SQLite pass")
@pytest.mark.timeout(1200)
def test_smoke_run_has_every_figure(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "INDICATORS_", "COMMS_", "GATEWAY_", "TEKE_"))}
    env["TEKE_BENCH_OUT"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--db", "sqlite"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=1150)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]

    runs = list(tmp_path.glob("run-*.json"))
    assert len(runs) == 1, sorted(p.name for p in tmp_path.iterdir())
    data = json.loads(runs[0].read_text())
    assert data["mode"] == "smoke" and data["machine"]["nproc"] and data["commit"]
    rows = {r["figure"]: r for r in data["rows"]}
    assert set(rows) == set(F), set(F) ^ set(rows)
    for key, r in rows.items():
        assert r["error"] is None, (key, r["error"])
        assert isinstance(r["result"], int | float) and r["result"] == r["result"], (key, r)
        assert isinstance(r["other_load"], int | float), (key, r)
        assert r["cpu_per_op"] or key == "idle_rss", (key, r)  # CPU beside every throughput

    # The printed table: one row per figure, its result a number with its unit.
    table = out.stdout[out.stdout.index("| figure |"):]
    for fig in F.values():
        line = next((ln for ln in table.splitlines() if ln.startswith(f"| {fig.title} |")), None)
        assert line, (fig.title, table[:3000])
        result = line.split(" | ")[3]
        assert re.fullmatch(r"-?[\d,.]+ " + re.escape(fig.unit), result), (fig.key, line)


def test_every_job_has_every_mode_and_known_figures():
    for job in JOBS:
        assert set(job.params) == {"smoke", "quick", "full"} == set(job.timeout), job.name
        assert job.figures and all(F[f.key] is f for f in job.figures), job.name
    assert {f.key for job in JOBS for f in job.figures} == set(F)


def test_write_results_puts_the_new_run_on_top_and_keeps_the_old(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Foundation benchmarks: results\n\nold figures\n")
    write_results("## 2026-12-05 10:00 UTC: quick mode\n\n| a |\n", path)
    write_results("## 2026-12-06 10:00 UTC: full mode\n\n| b |\n", path)
    text = path.read_text()
    assert text.startswith("# TEKE benchmarks: results") and text.count(TOP_MARK) == 1
    newest, older = text.index("2026-12-06"), text.index("2026-12-05")
    earlier = text.index("# Earlier results")
    assert text.index(TOP_MARK) < newest < older < earlier < text.index("old figures")
    assert text.endswith("# Foundation benchmarks: results\n\nold figures\n")
