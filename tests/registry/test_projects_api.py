"""The registry's project endpoints through the gateway: bad input is a clear 4xx, changes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest


def _code() -> str:
    return "API-" + uuid.uuid4().hex[:8].upper()


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["type"].startswith("https://teke.fi/problems/")
    return body


@pytest.mark.parametrize(("body", "field"), [
    ({"name": {"fi": "x"}}, "body/code"),
    ({"code": "A1", "name": {"sv": "bara svenska"}}, "body/name/fi"),
    ({"code": "A1", "name": {"fi": "x"}, "bogus": 1}, "body/bogus"),
    ({"code": "A1", "name": {"fi": "x"}, "region_codes": ["03"]}, "body/region_codes"),
    ({"code": "A1", "name": {"fi": "x"}, "start_date": "2025-02-01", "end_date": "2025-01-01"},
     "body"),
    ({"code": "A1", "name": {"fi": "x"}, "start_date": "not-a-date"}, "body/start_date"),
    ({"code": "A1", "name": {"fi": "x"}, "status": "finished"}, "body/status"),
    ({"code": "bad code with spaces", "name": {"fi": "x"}}, "body/code"),
    ({"code": "A1", "name": "just a string"}, "body/name"),
])
async def test_invalid_create_is_422_with_the_field(gw, body, field):
    before = (await gw.get("/projects", params={"limit": 1})).json()["total"]
    err = _problem(await gw.post("/projects", json=body), 422)
    assert any(e["field"].startswith(field) for e in err["errors"]), err
    assert (await gw.get("/projects", params={"limit": 1})).json()["total"] == before


async def test_not_json_and_oversize_bodies(gw):
    r = await gw.post("/projects", content=b"{not json", headers={"content-type": "application/json"})
    _problem(r, 422)
    _problem(await gw.post("/projects", content=b"x" * (1_048_576 + 10),
                           headers={"content-type": "application/json"}), 413)


async def test_duplicate_code_is_409(gw):
    code = _code()
    assert (await gw.post("/projects", json={"code": code, "name": {"fi": "a"}})).status_code == 201
    _problem(await gw.post("/projects", json={"code": code, "name": {"fi": "b"}}), 409)


async def test_stale_if_match_is_412_and_changes_nothing(gw):
    r = await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"}})
    p, tag = r.json(), r.headers["etag"]
    r = await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "b"}}, headers={"If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    _problem(await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "c"}},
                            headers={"If-Match": tag}), 412)
    assert (await gw.get(f"/projects/{p['id']}")).json()["name"]["fi"] == "b"


async def test_status_moves_only_along_allowed_transitions(gw):
    p = (await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"}})).json()
    err = _problem(await gw.patch(f"/projects/{p['id']}", json={"status": "ended"}), 422)
    assert err["errors"][0]["field"] == "body/status"
    assert (await gw.patch(f"/projects/{p['id']}", json={"status": "active"})).status_code == 200
    assert (await gw.patch(f"/projects/{p['id']}", json={"status": "ended"})).status_code == 200
    _problem(await gw.patch(f"/projects/{p['id']}", json={"status": "active"}), 422)


async def test_update_end_before_existing_start_is_refused(gw):
    p = (await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"},
                                          "start_date": "2025-05-01"})).json()
    err = _problem(await gw.patch(f"/projects/{p['id']}", json={"end_date": "2025-01-01"}), 422)
    assert err["errors"][0]["field"] == "body/end_date"


async def test_implementer_cannot_change_another_organisations_project(stack, gw):
    # The lead implementer must be a registered organisation.
    org_a = (await gw.post("/organisations", json={"name": {"fi": "A"}, "kind": "company"})).json()["id"]
    p = (await gw.post("/projects", json={"code": _code(), "name": {"fi": "a"},
                                          "organisation_id": org_a})).json()
    mine = stack.dev_token("implementer", org=org_a, sub="impl-a")
    theirs = stack.dev_token("implementer", org="org-b", sub="impl-b")
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1") as client:
        r = await client.patch(f"/projects/{p['id']}", json={"name": {"fi": "hijack"}},
                               headers={"Authorization": f"Bearer {theirs}"})
        _problem(r, 403)
        r = await client.post("/projects", json={"code": _code(), "name": {"fi": "x"},
                                                 "organisation_id": org_a},
                              headers={"Authorization": f"Bearer {theirs}"})
        _problem(r, 403)
        r = await client.patch(f"/projects/{p['id']}", json={"name": {"fi": "ok"}},
                               headers={"Authorization": f"Bearer {mine}"})
        assert r.status_code == 200 and r.json()["name"]["fi"] == "ok"
    assert (await gw.get(f"/projects/{p['id']}")).json()["version"] == 2


async def test_unknown_project_is_404(gw):
    _problem(await gw.get(f"/projects/{uuid.uuid4()}"), 404)
    _problem(await gw.patch(f"/projects/{uuid.uuid4()}", json={"name": {"fi": "x"}}), 404)


async def test_page_size_is_capped(gw):
    err = _problem(await gw.get("/projects", params={"limit": 100000}), 422)
    assert err["errors"][0]["field"] == "query/limit"
