"""Idle memory (issue 16, bench/RESULTS-idle-rss.md): a serving process does not import what only
a rarely used endpoint, a CLI or a computation needs. Each of these held megabytes of every idle
process: numpy ~13 MB (indicators: survey maths), feedgen with lxml and icalendar ~7 MB (comms:
the feeds), openpyxl ~22 MB (XLSX exports), alembic ~23 MB (migrations run in `<svc>.cli migrate`,
never in the service), aiohttp ~7.6 MB (nats-py's unused WebSocket transport). The registry
keeps numpy: its project index is built at start.

Checked in a fresh interpreter per service: import `<svc>.main`, build the app, list sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NEVER = ("openpyxl", "alembic", "scipy")
# aiohttp ~7.6 MB: nats-py's WebSocket transport (shared/events/_nats_without_websockets.py).
SERVICE = (*NEVER, "aiohttp")
ON_DEMAND = {
    "registry": SERVICE,
    "indicators": (*SERVICE, "numpy"),
    "comms": (*SERVICE, "numpy", "feedgen", "lxml", "icalendar"),
    "gateway": (*NEVER, "numpy", "sqlalchemy.dialects.postgresql"),
}

PROBE = """
import json, sys
import {name}.main as m
m.create_app()
print(json.dumps(sorted(sys.modules)))
"""


def loaded_at_start(name: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(name=name)], capture_output=True,
                         text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("name", sorted(ON_DEMAND))
def test_serving_process_leaves_heavy_modules_for_later(name: str):
    loaded = loaded_at_start(name)
    assert f"{name}.main" in loaded  # the probe imported what it should
    assert [m for m in ON_DEMAND[name] if m in loaded] == []


def test_the_probe_sees_a_heavy_import():
    # the CLI imports alembic (it migrates): the same probe on it must see it
    out = subprocess.run([sys.executable, "-c", "import json, sys, registry.cli, shared.migrate;"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    assert "alembic" in json.loads(out.stdout.splitlines()[-1])
