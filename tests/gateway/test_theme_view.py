"""The theme view (GET /views/themes/{id}): the theme as a whole, in one call, with each part
as this caller may see it."""

from __future__ import annotations

import uuid

import httpx

from tests.registry.conftest import code, problem

PARTS = ("goals", "funding", "projects", "steering", "service_needs", "overlaps", "evaluations",
         "practices", "continuation")


async def _theme(gw) -> dict:
    r = await gw.post("/themes", json={"code": code("TV"), "name": {"fi": "Näkymän teema"},
                                       "budget": "1000000.00"})
    assert r.status_code == 201, r.text
    return r.json()


async def _project(gw, theme_id: str, **extra) -> dict:
    r = await gw.post("/projects", json={"code": code("TVP"), "name": {"fi": "Teemahanke"},
                                         "theme_id": theme_id, "published": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_theme_view_gathers_every_part(gw):
    theme = await _theme(gw)
    await _project(gw, theme["id"], kind="pilot",
                   budget=[{"source": "esf_plus", "amount": "250000.00"}])
    await _project(gw, theme["id"], kind="development")
    r = await gw.get(f"/views/themes/{theme['id']}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["theme"]["id"] == theme["id"]
    assert view["unavailable"] == [] and view["withheld"] == []
    for part in PARTS:
        assert view[part] is not None, part
    projects = view["projects"]
    assert projects["total"] == 2
    kinds = {f["value"]: f["count"] for f in projects["by_kind"]}
    assert kinds.get("pilot") == 1 and kinds.get("development") == 1
    funding = view["funding"]
    assert funding["budget_frame"] == "1000000.00" and funding["granted"] == "250000.00"
    assert view["practices"]["total"] == 0 and view["practices"]["spread"]["adoptions"] == 0


async def test_theme_view_of_an_unknown_theme_is_404(gw):
    problem(await gw.get(f"/views/themes/{uuid.uuid4()}"), 404)


async def test_public_theme_view_withholds_what_is_not_public(stack, gw):
    theme = await _theme(gw)
    r = await gw.post(f"/themes/{theme['id']}/persons", json={
        "role": "ministry", "ministry": "TEM", "name": "Testi Henkilö",
        "email": "testi.henkilo@example.org"})
    assert r.status_code == 201, r.text
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as anon:
        r = await anon.get(f"/views/themes/{theme['id']}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert "testi.henkilo@example.org" not in r.text and "Testi Henkilö" not in r.text
    assert "overlaps" in view["withheld"] and view["overlaps"] is None
    assert view["unavailable"] == []


async def test_theme_view_degrades_when_indicators_is_down(stack, gw):
    theme = await _theme(gw)
    stack.stop("indicators")
    try:
        view = (await gw.get(f"/views/themes/{theme['id']}")).json()
        assert view["theme"]["id"] == theme["id"]
        assert view["goals"] is None and view["unavailable"] == ["goals"]
        assert view["projects"] is not None and view["practices"]["spread"] is None
    finally:
        stack.start("indicators")
        stack.wait_ready(("indicators",))
