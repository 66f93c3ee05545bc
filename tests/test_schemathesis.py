"""Schemathesis over the merged OpenAPI document, with all its default checks, finds nothing:
no server error, every response documented and matching its schema. Every phase runs
(schemathesis.toml): examples, coverage (values at and past each declared size bound), fuzzing,
and stateful sequences along the links schemathesis infers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.embedded import ROOT

EXAMPLES = os.environ.get("TEKE_SCHEMATHESIS_EXAMPLES", "15")


# Hundreds of generated requests: minutes on a busy 2-vCPU machine, so more than the suite's 300 s.
@pytest.mark.timeout(1300)
def test_schemathesis_finds_nothing(stack, admin_token, tmp_path):
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(cli), "run", stack.gateway_url + "/api/v1/openapi.json", "--url", stack.gateway_url,
         # Every check runs by default (schemathesis 4); not `--checks all`, which would
         # override the one per-operation exception in schemathesis.toml.
         "-H", f"Authorization: Bearer {admin_token}",
         "--max-examples", EXAMPLES, "--workers", "1", "--seed", "20261122",
         "--no-color", "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    out = result.stdout + result.stderr
    assert result.returncode == 0, _failures(out)
    assert "No issues found" in out or " passed" in out, out[-3000:]
    # The stateful phase ran and followed links between operations; coverage ran too.
    phases = out[out.rfind("Test Phases:"):]
    assert re.search(r"✅ Stateful", phases) and re.search(r"✅ Coverage", phases), phases[:800]
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", out)
    assert links and int(links.group(1)) > 0 and int(links.group(2)) >= 50, out[-3000:]


def _failures(out: str) -> str:
    """The failures section first (each case with its curl, long bodies cut), then the summary:
    the warnings that follow the failures can fill any tail of the output."""
    start, end = out.find("FAILURES"), out.find("WARNINGS")
    failures = out[start:end if end > start else None] if start >= 0 else ""
    failures = re.sub(r"(.{2000}).*", r"\1 ...", failures)  # one long line (a body) at most 2000
    return failures[:10000] + "\n...\n" + out[out.rfind("SUMMARY"):][:3000]
