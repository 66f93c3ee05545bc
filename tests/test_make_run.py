"""`make run` from a clean clone: reaches ready, answers an authenticated call, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from deploy.embedded import ROOT, free_port

pytestmark = pytest.mark.embedded_run


def _processes_under(path: Path) -> list[str]:
    """Processes whose command line or working directory lies under `path`."""
    found = []
    needle = str(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if needle in cmd or cwd.startswith(needle):
            found.append(f"{pid}: {cmd[:200]}")
    return found


def test_make_run_from_clean_clone(tmp_path):
    clone = tmp_path / "teke"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "INDICATORS_", "COMMS_", "GATEWAY_", "VIRTUAL_ENV"))}
    env.update({"TEKE_PORT": str(port), "TEKE_DATA": str(tmp_path / "data")})
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 420
        text = ""
        while time.monotonic() < deadline:
            log.seek(0)
            text = log.read()
            if "Press Ctrl-C to stop." in text or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert "TEKE is running." in text, text[-4000:]
        token = re.search(r"Admin token.*\n(\S+)", text).group(1)
        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(base + "/readyz", timeout=10).json()
        assert ready["status"] == "ready"
        assert {n: u["status"] for n, u in ready["upstreams"].items()} == {
            "registry": "ready", "indicators": "ready", "comms": "ready"}
        r = httpx.get(base + "/api/v1/projects", params={"limit": 200},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200
        assert "TEM035:00/2017" in {p["code"] for p in r.json()["items"]}
        r = httpx.post(base + "/api/v1/projects", json={"code": "RUN-1", "name": {"fi": "Ajo"}},
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 201, r.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    log.seek(0)
    assert "TEKE: stopped." in log.read()
    time.sleep(0.5)
    assert _processes_under(tmp_path) == []
