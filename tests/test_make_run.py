"""`make run` from a clean clone: reaches ready, answers an authenticated call, fills every list
a frontend shows with demo data, catches its mail in a mailbox an admin reads, stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
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


def _items(body) -> list:
    """A list answer as a bare array or a page `{items, ...}` (both shapes are served meanwhile)."""
    return body if isinstance(body, list) else body["items"]


def _wait_for(text_of, needle: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = text_of()
        if needle in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not seen in {timeout}s:\n{text_of()[-3000:]}")


def _check_demo_lists(api: httpx.Client) -> None:
    """Every list a frontend's first screens show holds demo data."""
    assert _items(api.get("/projects", params={"limit": 5}).json())
    assert _items(api.get("/organisations", params={"limit": 5}).json())
    for status in ("draft", "submitted", "approved", "locked"):
        r = api.get("/reports", params={"status": status, "limit": 5})
        assert r.status_code == 200 and _items(r.json()), (status, r.text[:500])
    project = _items(api.get("/reports", params={"status": "approved", "limit": 1}).json())[0]["project_id"]
    targets = _items(api.get("/targets", params={"project_id": project}).json())
    assert {t["indicator_code"] for t in targets} >= {"EECO01"}, targets
    rounds = [r for r in _items(api.get("/surveys/rounds").json()) if r["status"] == "closed"]
    assert rounds
    results = api.get(f"/surveys/rounds/{rounds[0]['id']}/results").json()
    assert results["total"]["suppressed"] is False and results["total"]["n"] >= results["k"], results
    assert results["total"]["mean"] is not None
    assert _items(api.get("/plans").json())
    for status in ("draft", "in_review", "scheduled", "published", "archived"):
        assert _items(api.get("/content", params={"status": status, "limit": 5}).json()), status
    events = _items(api.get("/events").json())
    assert events and any(e["confirmed"] > 0 for e in events), events
    assert any(e["waitlisted"] > 0 for e in events)  # one demo event is full: a waiting list
    assert _items(api.get("/goals", params={"limit": 50}).json())


def _check_mailbox(api: httpx.Client, base: str, coordinator: str) -> None:
    """A subscription's confirmation mail lands in the mailbox; its link confirms it. The
    mailbox is the admin's alone."""
    address = "uusi.tilaaja@example.fi"
    r = httpx.post(base + "/api/v1/subscriptions", json={"email": address, "consent": True}, timeout=10)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    mine = []
    while not mine and time.monotonic() < deadline:
        page = api.get("/admin/comms/mailbox", params={"limit": 50})
        assert page.status_code == 200, page.text
        assert page.json()["total"] >= len(page.json()["items"])
        mine = [m for m in page.json()["items"] if m["to"] == address]
        time.sleep(0.3)
    assert mine, "no confirmation mail in the mailbox"
    mail = api.get(f"/admin/comms/mailbox/{mine[0]['id']}").json()
    link = re.search(r"(http://\S+/api/v1/subscriptions/confirm\?token=[\w-]+)", mail["text"])
    assert link, mail["text"]
    assert link.group(1).startswith(base)  # links point at this gateway, on its port
    confirmed = httpx.get(link.group(1), timeout=10)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text
    assert httpx.get(link.group(1), timeout=10).status_code == 404  # used once
    for headers, status in (({"Authorization": f"Bearer {coordinator}"}, 403), ({}, 401)):
        for path in ("/api/v1/admin/comms/mailbox", f"/api/v1/admin/comms/mailbox/{mine[0]['id']}"):
            r = httpx.get(base + path, headers=headers, timeout=10)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    # Paged newest first by a cursor: every mail once (the demo's registrations mailed too).
    seen, cursor, total = [], None, None
    while True:
        page = api.get("/admin/comms/mailbox", params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [m["id"] for m in page.json()["items"]]
        total, cursor = page.json()["total"], page.json()["next_cursor"]
        if not cursor:
            break
    assert total > 4 and len(seen) == total and seen == sorted(set(seen), reverse=True)
    assert api.get("/admin/comms/mailbox", params={"cursor": "bm9wZQ"}).status_code == 422
    assert api.get("/admin/comms/mailbox/00000000000000000000-00000000").status_code == 404
    assert api.get("/admin/comms/mailbox/..%2Fsecrets").status_code in (404, 422)
    assert api.get("/admin/comms/mailbox", params={"limit": 201}).status_code == 422


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
        # The mail catcher's folder and the mailbox endpoint are in the banner.
        assert str(tmp_path / "data" / "mail") in text and "/api/v1/admin/comms/mailbox" in text
        # Indicators' demo loads behind "TEKE is running" (it waits for the project events).
        _wait_for(lambda: (log.seek(0), log.read())[1], "theme goals:", 180)
        coordinator = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "embedded.py"), "--data", str(tmp_path / "data"),
             "--token", "coordinator"], capture_output=True, text=True, check=True).stdout.strip()
        with httpx.Client(base_url=base + "/api/v1", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as api:
            _check_demo_lists(api)
            _check_mailbox(api, base, coordinator)
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


def test_restart_skips_only_what_is_provably_done(tmp_path):
    """A second start migrates nothing and reloads no demo only when the files prove it: the
    version table names Alembic's own heads, and the demo key names the same database file."""
    import sqlite3

    from alembic.script import ScriptDirectory

    from deploy.embedded import Stack, demo_key, package_dir
    from shared.migrate import alembic_config
    from shared.startup import head_revisions, schema_at_head

    stack = Stack(tmp_path / "data", nats_url="nats://127.0.0.1:1")
    names = ["registry", "indicators", "comms", "gateway"]
    for name in names:
        folder = package_dir(name) / "migrations"
        alembic_heads = ScriptDirectory.from_config(alembic_config(folder, "sqlite://")).get_heads()
        assert head_revisions(folder) == set(alembic_heads)
        assert not schema_at_head(folder, stack.db_urls[name])  # no file yet
    assert stack.migrate() == names
    assert stack.migrate() == []  # all at head: no process started
    registry_dir = package_dir("registry") / "migrations"
    db = tmp_path / "data" / "registry.db"
    assert schema_at_head(registry_dir, stack.db_urls["registry"])
    assert not schema_at_head(registry_dir, "postgresql+asyncpg://postgres@127.0.0.1/teke")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    assert not schema_at_head(registry_dir, stack.db_urls["registry"])
    # A replaced database file (new inode) is not the one the demo was loaded into.
    key = demo_key(stack, "comms")
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "data" / "comms.db").read_bytes())
    os.replace(copy, tmp_path / "data" / "comms.db")
    assert key is not None and demo_key(stack, "comms") != key
    assert demo_key(Stack(tmp_path / "pg", nats_url="nats://127.0.0.1:1",
                          db_urls={"comms": "postgresql+asyncpg://x@127.0.0.1/x"}), "comms") is None
