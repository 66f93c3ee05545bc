"""Long imports and exports as jobs (issue 15), through the gateway of a stack of its own.

The stack is this module's own (its own NATS, databases and registry settings: a 2 s lease, so a
killed worker's job is taken up again in 3 s; small chunks, so progress can be watched; a short
download lifetime). Its registry database is loaded with 50,000 projects before the services
start, the way the demo loader does (their outbox rows dropped: other services need not hear of
them), so the export is real at that size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import time
import uuid

import httpx
import nats
import pytest

from deploy.embedded import PYTHON, ROOT, NatsServer, Stack, _die_with_parent, free_port
from shared.jsonutil import dumps, loads
from tests.conftest import FAST_CONSUMERS, eventually, scalar
from tests.support import databases

# The export's size (50,000; smaller only to try a change quickly).
SEEDED = int(os.environ.get("TEKE_TEST_JOBS_EXPORT_ROWS", "50000"))
ENV = {
    "REGISTRY_JOB_LEASE_SECONDS": "3",
    "REGISTRY_JOB_POLL_SECONDS": "0.2",
    "REGISTRY_JOB_MAX_ACTIVE": "2",
    "REGISTRY_JOB_IMPORT_CHUNK": "500",
    "REGISTRY_JOB_EXPORT_CHUNK": "2500",
    "REGISTRY_JOB_RESULT_TTL_SECONDS": "10",
    "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": "30",
    "GATEWAY_RATE_LIMIT_PER_IDENTITY": "100000",
    "GATEWAY_RATE_LIMIT_IDENTITY_BURST": "100000",
    "GATEWAY_RATE_LIMIT_PER_ADDRESS": "100000",
    "GATEWAY_RATE_LIMIT_ADDRESS_BURST": "100000",
    # The gateway's export quota as configured in production: it must not stop an admin.
    "GATEWAY_EXPORT_LIMIT_COUNT": "10",
}
if SEEDED <= 20_000:  # a quick try with fewer rows: the export still becomes a job by itself
    ENV["REGISTRY_JOB_EXPORT_ASYNC_ROWS"] = str(SEEDED // 2)


async def _seed(url: str, n: int) -> None:
    from sqlalchemy import text

    from registry.demo import SEED_ACTOR, demo_projects
    from registry.main import spec
    from registry.projects.imports.service import gc_paused, run_import
    from shared.db import create_engine, make_sessionmaker
    from shared.uow import UnitOfWork

    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    # Lean rows (no lists of budget lines or goals): the export reads scalars only.
    rows = [{k: r[k] for k in ("code", "name", "status", "start_date", "end_date",
                               "region_codes", "target_groups", "sub_themes", "published")}
            for r in demo_projects(n, seed=11)]
    for c in range(0, n, 10_000):
        async with maker() as s:
            with gc_paused():
                _, res = await run_import(UnitOfWork(s, spec.outbox()), SEED_ACTOR,
                                          rows[c:c + 10_000], "best_effort")
            assert res["summary"]["created"] == len(rows[c:c + 10_000]), res["summary"]
            await s.execute(text("DELETE FROM outbox"))
            await s.commit()
    await engine.dispose()


@pytest.fixture(scope="module")
def jobs_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jobs")
    server = NatsServer(tmp / "nats")
    server.start()
    urls = databases.database_urls(["registry", "indicators", "comms", "gateway"], tmp / "db")
    stack = Stack(tmp, nats_url=server.url, db_urls=urls, extra_env={**FAST_CONSUMERS, **ENV},
                  environment="test")
    try:
        stack.migrate()
        asyncio.run(_seed(stack.db_urls["registry"], SEEDED))
        stack.start_all()
        stack.wait_ready()
        yield stack
    finally:
        stack.stop_all()
        server.stop()


_TOKENS: dict[tuple, str] = {}


def _client(stack: Stack, role: str | None = "admin", org: str | None = None,
            sub: str | None = None) -> httpx.AsyncClient:
    headers = {}
    if role:
        key = (role, org, sub or f"{role}-{uuid.uuid4().hex[:6]}")
        if key not in _TOKENS:  # the CLI takes seconds to start on a busy machine
            _TOKENS[key] = stack.dev_token(role, org=key[1], sub=key[2])
        headers["Authorization"] = f"Bearer {_TOKENS[key]}"
    return httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def admin_sub() -> str:
    return f"admin-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def admin(jobs_stack, admin_sub):
    async with _client(jobs_stack, "admin", sub=admin_sub) as c:
        yield c


def _rows(prefix: str, n: int) -> list[dict]:
    from registry.demo import demo_projects

    rows = demo_projects(n, seed=23)
    for i, r in enumerate(rows):
        r["code"] = f"{prefix}-{i:05d}"
    return rows


async def _job(c: httpx.AsyncClient, job_id: str) -> dict:
    r = await c.get(f"/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def _ended(c: httpx.AsyncClient, job_id: str, timeout: float = 90) -> dict:
    async def check():
        j = await _job(c, job_id)
        return j if j["state"] in ("succeeded", "failed", "cancelled") else None
    return await eventually(check, timeout=timeout, interval=0.1)


async def _mid_way(c: httpx.AsyncClient, job_id: str, at_least: int) -> dict:
    """Polls until the job is running with at least `at_least` rows done and not all."""
    async def check():
        j = await _job(c, job_id)
        assert j["state"] in ("queued", "running"), j
        p = j["progress"]
        return j if j["state"] == "running" and at_least <= p["rows_done"] < (
            p["rows_total"] or 10**9) else None
    return await eventually(check, timeout=90, interval=0.02)


def _accepted(r: httpx.Response) -> dict:
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["state"] == "queued" and job["links"]["self"] == r.headers["location"]
    return job


def _restart_registry(stack: Stack) -> None:
    stack.stop("registry", signal.SIGKILL)  # no goodbye: its lease must expire
    stack.start("registry")
    # Generous: on a loaded two-core machine a restart with 50,000 projects took over 60 s.
    stack.wait_ready(("registry",), timeout=180)


async def test_import_job_of_10000_rows_survives_a_kill_and_lands_each_row_once(jobs_stack, admin):
    prefix = f"IMP{uuid.uuid4().hex[:5].upper()}"
    rows = _rows(prefix, 9_999)
    rows.append(dict(rows[10]))  # a duplicate code in a later chunk: rejected, as synchronously
    r = await admin.post("/projects/import", content=dumps(rows),
                         headers={"Content-Type": "application/json"})
    job = _accepted(r)  # 10,000 rows: above the threshold without asking
    assert job["kind"] == "projects.import" and job["progress"] == {"rows_done": 0,
                                                                     "rows_total": 10_000}
    mid = await _mid_way(admin, job["id"], 1_000)
    assert mid["started_at"] is not None and mid["result"] is None
    _restart_registry(jobs_stack)
    done = await _ended(admin, job["id"])
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 2  # taken up again after the kill
    assert done["progress"] == {"rows_done": 10_000, "rows_total": 10_000}
    report = done["result"]
    assert report["summary"] == {"created": 9_999, "updated": 0, "unchanged": 0, "rejected": 1}
    assert report["written"] is True and len(report["rows"]) == 10_000
    assert [r["row"] for r in report["rows"]] == list(range(10_000))
    assert report["rows"][9_999]["errors"][0]["type"] == "duplicate"
    assert done["errors"] == [{"field": "body/row/9999/code", "type": "duplicate",
                               "message": "this code appears earlier in the request"}]
    url = jobs_stack.db_urls["registry"]
    assert await scalar(url, f"SELECT count(*) FROM project WHERE code LIKE '{prefix}-%'") == 9_999
    # Each project written once: one history entry each (a second write would add an update).
    assert await scalar(url, "SELECT count(*) FROM history WHERE entity_id IN (SELECT id FROM "
                             f"project WHERE code LIKE '{prefix}-%')") == 9_999


async def test_export_job_of_50000_rows_survives_a_kill(jobs_stack, admin):
    r = await admin.get("/projects/export", params={"format": "csv"})
    job = _accepted(r)  # 50,000+ rows: a job without asking
    assert job["kind"] == "projects.export" and job["progress"]["rows_total"] >= SEEDED
    total = job["progress"]["rows_total"]
    await _mid_way(admin, job["id"], 2_500)
    _restart_registry(jobs_stack)
    done = await _ended(admin, job["id"])
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 2 and done["progress"] == {"rows_done": total, "rows_total": total}
    link = done["result"]
    assert link["href"] == f"/api/v1/jobs/{job['id']}/result" and link["expired"] is False
    assert link["media_type"].startswith("text/csv")
    got = await admin.get(f"/jobs/{job['id']}/result")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    lines = got.content.decode("utf-8-sig").splitlines()
    assert len(lines) == total + 1  # header + every row, none twice
    assert len(set(lines[1:])) == total


async def test_small_requests_stay_synchronous(jobs_stack, admin):
    prefix = f"SYN{uuid.uuid4().hex[:5].upper()}"
    r = await admin.post("/projects/import", json=_rows(prefix, 5))
    assert r.status_code == 200 and r.json()["summary"]["created"] == 5
    r = await admin.get("/projects/export", params={"format": "json", "max_rows": 100})
    assert r.status_code == 200 and len(r.json()["items"]) == 100
    # An administrator is not held by the gateway's export quota (10 a minute here).
    for _ in range(12):
        r = await admin.get("/projects/export", params={"format": "csv", "max_rows": 5})
        assert r.status_code == 200, r.text
    async with _client(jobs_stack, "coordinator") as coord:
        # A coordinator is: 10 at once, then one more every 6 s (a token bucket), so on a slow
        # machine a refill may let one or two more through before the 429.
        codes, started = [], time.monotonic()
        while 429 not in codes and len(codes) < 20:
            r = await coord.get("/projects/export", params={"format": "csv", "max_rows": 5})
            codes.append(r.status_code)
        refills = int((time.monotonic() - started) / 6) + 1
        assert codes[-1] == 429 and set(codes[:-1]) == {200}, codes
        assert 10 <= len(codes) - 1 <= 10 + refills, codes


async def test_prefer_respond_async_cancel_quota_and_strangers(jobs_stack, admin):
    sub = f"coord-{uuid.uuid4().hex[:6]}"
    async with _client(jobs_stack, "coordinator", sub=sub) as coord, \
            _client(jobs_stack, "coordinator") as stranger:
        prefer = {"Prefer": "respond-async"}
        r = await coord.get("/projects/export", params={"format": "json"}, headers=prefer)
        first = _accepted(r)
        assert r.headers["preference-applied"] == "respond-async"
        second = _accepted(await coord.get("/projects/export", params={"format": "xlsx"},
                                           headers=prefer))
        # The quota (2 active jobs here): the third is refused, changing nothing.
        r = await coord.get("/projects/export", params={"max_rows": 10}, headers=prefer)
        assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1 and "at most 2" in r.json()["detail"]
        # Cancel: one worker here, so while the first runs the second waits in the queue and
        # ends at once; the running one stops between pages.
        await _mid_way(coord, first["id"], 2_500)
        r = await coord.post(f"/jobs/{second['id']}/cancel")
        assert r.status_code == 202 and r.json()["state"] == "cancelled"
        r = await coord.post(f"/jobs/{first['id']}/cancel")
        assert r.status_code == 202 and r.json()["cancel_requested"] is True
        done = await _ended(coord, first["id"])
        assert done["state"] == "cancelled" and done["result"] is None
        assert 0 < done["progress"]["rows_done"] < done["progress"]["rows_total"]
        assert (await coord.get(f"/jobs/{first['id']}/result")).status_code == 409
        assert (await coord.post(f"/jobs/{second['id']}/cancel")).status_code == 409  # ended
        listed = (await coord.get("/jobs")).json()
        assert listed["total"] == 2 and {j["id"] for j in listed["items"]} == {first["id"],
                                                                              second["id"]}
        # A stranger sees none of them; an administrator sees them all.
        r = await stranger.get(f"/jobs/{first['id']}")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert (await stranger.post(f"/jobs/{first['id']}/cancel")).status_code == 404
        assert (await stranger.get(f"/jobs/{first['id']}/result")).status_code == 404
        assert (await stranger.get("/jobs")).json()["total"] == 0
        assert (await admin.get(f"/jobs/{first['id']}")).status_code == 200
        # The quota again, then an administrator raises it for this identity.
        for fmt in ("csv", "json"):
            _accepted(await coord.get("/projects/export", params={"format": fmt},
                                      headers=prefer))
        r = await coord.get("/projects/export", params={"max_rows": 10}, headers=prefer)
        assert r.status_code == 429
        r = await coord.put(f"/admin/registry/job-quotas/{sub}", json={"max_active": 5})
        assert r.status_code == 403
        r = await admin.put(f"/admin/registry/job-quotas/{sub}", json={"max_active": 0})
        assert r.status_code == 422
        r = await admin.put(f"/admin/registry/job-quotas/{sub}", json={"max_active": 3})
        assert r.status_code == 200 and r.json() == {"subject": sub, "max_active": 3,
                                                     "default": False}
        third = _accepted(await coord.get("/projects/export", params={"max_rows": 10},
                                          headers=prefer))
        assert third["progress"]["rows_total"] == 10
        assert (await admin.get(f"/admin/registry/job-quotas/{sub}")).json()["max_active"] == 3
        for job in (await coord.get("/jobs")).json()["items"]:
            if job["state"] in ("queued", "running"):
                await coord.post(f"/jobs/{job['id']}/cancel")
        assert (await _ended(coord, third["id"]))["state"] in ("succeeded", "cancelled")


async def test_download_link_expires_with_410_and_event_goes_out(jobs_stack, admin):
    nc = await nats.connect(jobs_stack.nats_url)
    seen: list[dict] = []

    async def on(msg):
        seen.append(loads(msg.data))
    await nc.subscribe("teke.registry.job.completed", cb=on)
    try:
        job = _accepted(await admin.get("/projects/export",
                                        params={"format": "json", "max_rows": 3},
                                        headers={"Prefer": "respond-async"}))
        done = await _ended(admin, job["id"])
        assert done["state"] == "succeeded"
        got = await admin.get(f"/jobs/{job['id']}/result")
        assert got.status_code == 200 and len(got.json()["items"]) == 3

        async def event():
            return next((e for e in seen if e["subject"] == job["id"]), None)
        env = await eventually(event)
        assert env["type"] == "fi.teke.registry.job.completed.v1"
        assert env["data"]["state"] == "succeeded" and env["data"]["kind"] == "projects.export"
        assert env["data"]["rows_done"] == 3
        expires = done["result"]["expires_at"]
        wait = (dt.datetime.fromisoformat(expires) - dt.datetime.now(dt.UTC)).total_seconds()
        await asyncio.sleep(max(0.0, wait) + 0.5)
        r = await admin.get(f"/jobs/{job['id']}/result")
        assert r.status_code == 410 and r.headers["content-type"] == "application/problem+json"
        assert (await _job(admin, job["id"]))["result"]["expired"] is True
    finally:
        await nc.close()


async def test_two_registry_workers_never_run_one_job_twice(jobs_stack, admin, admin_sub):
    # A second registry process on the same database: its worker competes for the jobs.
    port = free_port()
    log = open(jobs_stack.data_dir / "registry-2.log", "ab")  # noqa: SIM115
    second = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "registry.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=jobs_stack.env("registry"), cwd=ROOT, stdout=log, stderr=log,
        preexec_fn=_die_with_parent)
    try:
        async with httpx.AsyncClient() as probe:
            async def ready():
                try:
                    return (await probe.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False
            await eventually(ready, timeout=60)
        r = await admin.put(f"/admin/registry/job-quotas/{admin_sub}", json={"max_active": 20})
        assert r.status_code == 200
        prefix = f"TWO{uuid.uuid4().hex[:5].upper()}"
        ids = []
        for k in range(8):
            r = await admin.post("/projects/import", json=_rows(f"{prefix}{k}", 400),
                                 headers={"Prefer": "respond-async"})
            ids.append(_accepted(r)["id"])
        for job_id in ids:
            done = await _ended(admin, job_id)
            assert done["state"] == "succeeded" and done["attempts"] == 1, done
            assert done["result"]["summary"]["created"] == 400, done["result"]["summary"]
        url = jobs_stack.db_urls["registry"]
        assert await scalar(url, f"SELECT count(*) FROM project WHERE code LIKE '{prefix}%'") == 3200
        assert await scalar(url, "SELECT count(*) FROM history WHERE entity_id IN (SELECT id "
                                 f"FROM project WHERE code LIKE '{prefix}%')") == 3200
        workers = await scalar(url, "SELECT count(DISTINCT lease_owner) FROM job WHERE id IN ("
                                    + ", ".join(f"'{i}'" for i in ids) + ")")
        assert workers == 2, "both workers should have taken jobs"
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
        log.close()


async def test_openapi_types_the_import_body_and_the_job_operations(jobs_stack, admin):
    doc = (await admin.get("/openapi.json")).json()
    body = doc["paths"]["/api/v1/projects/import"]["post"]["requestBody"]["content"]
    assert {"application/json", "text/csv"} <= set(body)
    assert "202" in doc["paths"]["/api/v1/projects/import"]["post"]["responses"]
    assert "202" in doc["paths"]["/api/v1/projects/export"]["get"]["responses"]
    read = doc["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    assert read["content"]["application/json"]["schema"]["$ref"].endswith("/JobRead")
    assert "/api/v1/jobs/{job_id}/cancel" in doc["paths"]
    assert "/api/v1/admin/registry/job-quotas/{subject}" in doc["paths"]

