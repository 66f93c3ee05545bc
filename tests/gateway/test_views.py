"""Composite views: one call gathers what several services know, with the caller's rights."""

from __future__ import annotations

import uuid

import httpx


async def _project(gw, **extra) -> dict:
    r = await gw.post("/projects", json={"code": "VIEW-" + uuid.uuid4().hex[:6],
                                         "name": {"fi": "Näkymä"}, "published": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_project_overview_gathers_every_part(gw):
    p = await _project(gw)
    r = await gw.get(f"/views/projects/{p['id']}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["project"]["id"] == p["id"] and view["project"]["code"] == p["code"]
    assert view["unavailable"] == []
    assert view["communications"] is not None and isinstance(view["communications"], list)
    assert "progress" in view


async def test_project_overview_of_unknown_project_is_404(gw):
    r = await gw.get(f"/views/projects/{uuid.uuid4()}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_project_overview_degrades_when_a_service_is_down(stack, gw):
    p = await _project(gw)
    stack.stop("comms")
    try:
        view = (await gw.get(f"/views/projects/{p['id']}")).json()
        assert view["project"]["id"] == p["id"]
        assert view["communications"] is None and view["unavailable"] == ["comms"]
    finally:
        stack.start("comms")
        stack.wait_ready(("comms",))


async def test_overview_respects_the_callers_rights(stack, gw):
    p = await _project(gw, published=False)
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as anon:
        r = await anon.get(f"/views/projects/{p['id']}")
    assert r.status_code == 404  # an unpublished project is not public, in a view as anywhere


async def test_dashboard_counts_projects(gw):
    await _project(gw)
    r = await gw.get("/views/dashboard")
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["projects"]["total"] >= 1
    assert board["unavailable"] == []
    assert "progress_by_region_and_indicator" in board
