"""Scale-out tests (issue 17): real clusters started on free ports, and their figures.

Each test hands its counts and pauses to `scaleout_report`; they are printed at the end of the
run (CI's log shows them whether the test passed or not) and written to bench/out/ as JSON, from
where bench/RESULTS.md and deploy/SCALING.md take them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support import databases

OUT = Path(__file__).resolve().parents[2] / "bench" / "out"
_reports: list[dict] = []


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    """A `postgres_only` test does not apply to the SQLite run: deselected there, not skipped."""
    if databases.BACKEND == "postgres":
        return
    keep = [item for item in items if item.get_closest_marker("postgres_only") is None]
    dropped = [item for item in items if item.get_closest_marker("postgres_only") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture
def scaleout_report(request):
    """`scaleout_report(name, **figures)`: one line in the run's summary and one JSON record."""

    def record(name: str, **figures) -> None:
        entry = {"name": name, "test": request.node.nodeid, "db": databases.BACKEND,
                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
        _reports.append(entry)
        OUT.mkdir(parents=True, exist_ok=True)
        with (OUT / "scaleout.jsonl").open("a") as f:
            f.write(json.dumps(entry) + "\n")

    return record


def pytest_terminal_summary(terminalreporter):
    if not _reports:
        return
    terminalreporter.section("scale-out figures (issue 17)")
    for entry in _reports:
        rest = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("name", "test", "at"))
        terminalreporter.write_line(f"{entry['name']}: {rest}")
