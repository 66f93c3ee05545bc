"""Bulk import, as an outside client found it (issue 12, findings 5 and 6)."""

from __future__ import annotations

import uuid

from tests.conftest import scalar
from tests.registry.conftest import new_org, problem


async def test_all_or_nothing_refusal_is_problem_json_with_the_row_report(gw):
    """Finding 5: a refused all-or-nothing import is a 422 problem+json; the per-row report
    rides along as extension members (RFC 9457 §3.2), and the OpenAPI document says so."""
    tag = uuid.uuid4().hex[:8].upper()
    rows = [{"code": f"AONP-{tag}-1", "name": {"fi": "a"}},
            {"code": f"AONP-{tag}-2", "name": {"fi": "b"}, "region_codes": ["99"]}]
    r = await gw.post("/projects/import", params={"mode": "all_or_nothing"}, json=rows)
    body = problem(r, 422)
    assert body["type"] == "https://teke.fi/problems/import-refused"
    assert body["status"] == 422 and body["title"] and "1 of 2" in body["detail"]
    assert body["mode"] == "all_or_nothing" and body["written"] is False
    assert body["summary"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert [x["result"] for x in body["rows"]] == ["created", "rejected"]
    assert body["rows"][1]["errors"][0]["field"].startswith("region_codes")
    assert (await gw.get("/projects", params={"q": f"AONP-{tag}-1"})).json()["total"] == 0
    # The contract: 422 on the import is problem+json, with the report's members described.
    doc = (await gw.get("/openapi.json")).json()
    resp = doc["paths"]["/api/v1/projects/import"]["post"]["responses"]["422"]
    assert list(resp["content"]) == ["application/problem+json"]
    ref = resp["content"]["application/problem+json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][ref]
    assert {"type", "title", "status", "rows", "summary", "written"} <= set(schema["properties"])


async def test_identical_reimport_with_budget_is_unchanged_and_writes_nothing(gw, stack):
    """Finding 6: the same row again, budget and other child lists included, is `unchanged`:
    no new version, no history entry, no change-feed row, no event."""
    tag = uuid.uuid4().hex[:8].upper()
    org = (await new_org(gw))["id"]
    rows = [
        {"code": f"RI-{tag}-1", "name": {"fi": "Budjetti"},
         "budget": [{"source": "esf_plus", "amount": "1000.50"},
                    {"source": "state", "amount": "200"}]},
        {"code": f"RI-{tag}-2", "name": {"fi": "Kaikki"}, "organisation_id": org,
         "budget": [{"source": "municipal", "amount": 5}],
         "partners": [{"organisation_id": (await new_org(gw))["id"], "role": "expert"}],
         "contact_persons": [{"name": "Liisa", "email": "l@x.fi"}, {"name": "Liisa"}],
         "steering_group": [{"name": "Matti", "title": "pj"}],
         "evaluations": [{"kind": "final", "date": "2026-12-01", "link": "https://x.fi/a"}]},
        {"code": f"RI-{tag}-3", "name": {"fi": "Ilman"}},
    ]
    first = await gw.post("/projects/import", json=rows)
    assert first.status_code == 200, first.text
    ids = [x["id"] for x in first.json()["rows"]]
    db = stack.db_urls["registry"]

    async def counts() -> tuple:
        return (await scalar(db, "SELECT count(*) FROM history WHERE entity_id IN (:a, :b, :c)",
                             a=ids[0], b=ids[1], c=ids[2]),
                await scalar(db, "SELECT count(*) FROM change WHERE entity_id IN (:a, :b, :c)",
                             a=ids[0], b=ids[1], c=ids[2]),
                await scalar(db, "SELECT max(seq) FROM outbox"))

    before = await counts()
    # Budget rows in another order and amounts spelled otherwise are the same budget.
    again = [{**rows[0], "budget": [{"source": "state", "amount": "200.00"},
                                    {"source": "esf_plus", "amount": "1000.5"}]}, *rows[1:]]
    for body in (rows, again):
        r = await gw.post("/projects/import", json=body)
        assert r.status_code == 200, r.text
        assert [x["result"] for x in r.json()["rows"]] == ["unchanged"] * 3, r.text
        assert r.json()["summary"]["unchanged"] == 3
    assert await counts() == before
    for pid in ids:
        p = (await gw.get(f"/projects/{pid}")).json()
        assert p["version"] == 1, p
        history = (await gw.get(f"/projects/{pid}/history")).json()
        entries = history["items"] if isinstance(history, dict) else history
        assert all(h.get("before") is not None or h.get("after") is not None for h in entries)
    # A real change to a child list alone is still an update.
    r = await gw.post("/projects/import", json=[
        {**rows[0], "budget": [{"source": "state", "amount": "201"}]}])
    assert r.json()["rows"][0]["result"] == "updated"
    assert (await gw.get(f"/projects/{ids[0]}")).json()["budget_total"] == "201.00"
