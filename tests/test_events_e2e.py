"""Events from the registry reach the indicators and comms projections over real JetStream."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from shared.contracts import registry as contracts
from shared.events.envelope import make_envelope
from shared.jsonutil import dumps
from tests.conftest import eventually, scalar


def _code() -> str:
    return "E2E-" + uuid.uuid4().hex[:8].upper()


async def test_project_created_through_gateway_appears_in_both_projections(gw):
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Työn imu Pirkanmaalla"},
                                         "region_codes": ["06"], "start_date": "2025-01-01",
                                         "end_date": "2026-12-31"})
    assert r.status_code == 201, r.text
    project = r.json()

    async def projected(svc):
        resp = await gw.get(f"/{svc}/projects/{project['id']}")
        return resp.json() if resp.status_code == 200 else None

    for svc in ("indicators", "comms"):
        row = await eventually(lambda svc=svc: projected(svc))
        assert row["code"] == project["code"]
        assert row["name"] == {"fi": "Työn imu Pirkanmaalla"}
        assert row["region_codes"] == ["06"]
        assert row["version"] == 1 and row["applied_count"] == 1


async def test_update_reaches_projections_with_new_version(gw):
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Alku"}})
    p = r.json()
    r = await gw.patch(f"/projects/{p['id']}", json={"status": "active"},
                       headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2

    async def updated():
        resp = await gw.get(f"/indicators/projects/{p['id']}")
        return resp.status_code == 200 and resp.json()["status"] == "active" and resp.json()

    row = await eventually(updated)
    assert row["version"] == 2 and row["applied_count"] == 2


async def test_same_event_twice_changes_projection_once(gw, stack, nats_server):
    """Re-publish (a new NATS message id, as after the duplicate window) and a duplicate
    publish (same message id) of one event: the projection applies it exactly once."""
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Kahdesti"}})
    p = r.json()

    async def seen(version):
        resp = await gw.get(f"/comms/projects/{p['id']}")
        return resp.status_code == 200 and resp.json()["version"] == version and resp.json()

    await eventually(lambda: seen(1))
    state = {k: p[k] for k in ("id", "code", "name", "status", "organisation_id", "funder_id",
                               "region_codes", "start_date", "end_date")}
    env = make_envelope(source="/teke/registry", event_type=contracts.PROJECT_UPDATED,
                        subject=p["id"], data={**state, "version": 2, "status": "active",
                                               "changed_fields": ["status"]})
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        first = await js.publish("teke.registry.project.updated", dumps(env),
                                 headers={"Nats-Msg-Id": env["id"]})
        again_same_id = await js.publish("teke.registry.project.updated", dumps(env),
                                         headers={"Nats-Msg-Id": env["id"]})
        republished = await js.publish("teke.registry.project.updated", dumps(env),
                                       headers={"Nats-Msg-Id": env["id"] + "-republish"})
    finally:
        await nc.close()
    assert not first.duplicate and again_same_id.duplicate and not republished.duplicate

    for svc in ("indicators", "comms"):
        async def applied(svc=svc):
            resp = await gw.get(f"/{svc}/projects/{p['id']}")
            return resp.json()["version"] == 2 and resp.json()

        await eventually(applied)
    # The re-published copy is a second message: give it time to arrive, then count.
    await asyncio.sleep(1.5)
    for svc in ("indicators", "comms"):
        row = (await gw.get(f"/{svc}/projects/{p['id']}")).json()
        assert row["applied_count"] == 2, (svc, row)  # created + this one update, not 3
        assert row["status"] == "active"
        assert await scalar(stack.db_urls[svc], "SELECT count(*) FROM inbox WHERE event_id = :e",
                            e=env["id"]) == 1


async def test_relay_republish_changes_nothing(gw, stack):
    """`registry republish` sends recent events again; consumers' projections do not move."""
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Uudelleen"}})
    p = r.json()

    async def seen():
        resp = await gw.get(f"/indicators/projects/{p['id']}")
        return resp.status_code == 200 and resp.json()

    before = await eventually(seen)
    out = stack.run_cli("registry", "republish", "--since-minutes", "10")
    assert "marked for re-publishing" in out and int(out.split()[0]) >= 1

    async def relayed():
        return await scalar(stack.db_urls["registry"],
                            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    await eventually(relayed)
    await asyncio.sleep(1.0)
    after = (await gw.get(f"/indicators/projects/{p['id']}")).json()
    assert after["applied_count"] == before["applied_count"] == 1


@pytest.mark.parametrize("svc", ["indicators", "comms"])
async def test_rebuild_projections_from_stream(gw, stack, svc):
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "Uudelleenrakennus"}})
    p = r.json()

    async def seen():
        resp = await gw.get(f"/{svc}/projects/{p['id']}")
        return resp.status_code == 200 and resp.json()

    await eventually(seen)
    total_before = await scalar(stack.db_urls[svc], "SELECT count(*) FROM project_projection")
    out = stack.run_cli(svc, "rebuild-projections")
    assert out.startswith("replayed ")
    assert int(out.split()[1]) >= total_before
    assert await scalar(stack.db_urls[svc], "SELECT count(*) FROM project_projection") == total_before
    row = (await gw.get(f"/{svc}/projects/{p['id']}")).json()
    assert row["code"] == p["code"] and row["applied_count"] == 1
