"""Runs the atheris fuzz target for gateway.upstream (fuzz_upstream.py) briefly, in CI too.

A fixed number of runs from a seed corpus, capped in time; a crash (an invariant broken or
an unexpected exception) fails the test with the input that did it. Longer runs by hand:
`.venv/bin/python tests/gateway/fuzz_upstream.py CORPUS_DIR -runs=2000000`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
RUNS = 60_000
MAX_SECONDS = 30


def test_fuzz_upstream_response_handling(tmp_path):
    # In subprocesses: the target instruments gateway.upstream and shrinks its limits.
    target = str(HERE / "fuzz_upstream.py")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    subprocess.run([sys.executable, target, "--write-seeds", str(corpus)], cwd=ROOT, check=True)
    out = subprocess.run(
        [sys.executable, target, str(corpus), f"-runs={RUNS}",
         f"-max_total_time={MAX_SECONDS}", "-max_len=2048", "-seed=1",
         f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=MAX_SECONDS + 60)
    log = "\n".join(line for line in out.stderr.splitlines()
                    if not line.startswith("INFO: Instrumenting"))
    assert out.returncode == 0, log[-4000:]
    assert "Done" in log, log[-2000:]
