"""Project references must exist (lead, funder, partners), and project events carry the
ESF+ specific objective of the project's theme, on every write path (API, import create and
update, bulk COPY on PostgreSQL, succession)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts import registry as contracts
from shared.jsonutil import loads
from tests.registry.conftest import code, new_org, problem


async def _theme(gw, objective: str | None) -> dict:
    body = {"code": code("T"), "name": {"fi": "Teema"}}
    if objective:
        body["specific_objective"] = objective
    r = await gw.post("/themes", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def _project_events(stack, project_ids: set[str]) -> list[dict]:
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            envs = [loads(e) for (e,) in await conn.execute(
                text("SELECT envelope FROM outbox ORDER BY seq"))]
    finally:
        await engine.dispose()
    return [e for e in envs if e["type"] in (contracts.PROJECT_CREATED, contracts.PROJECT_UPDATED)
            and e["data"]["id"] in project_ids]


async def _codes(stack, prefix: str) -> list[str]:
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            return sorted(c for (c,) in await conn.execute(
                text("SELECT code FROM project WHERE code LIKE :p"), {"p": prefix + "%"}))
    finally:
        await engine.dispose()


async def test_project_events_carry_the_themes_specific_objective(gw, stack):
    t47, t41 = await _theme(gw, "ESO4.7"), await _theme(gw, "ESO4.1")
    funder, successor = await new_org(gw), await new_org(gw)
    partner = await new_org(gw)
    # API create, then an update that does not touch the theme, then one that moves it.
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "a"},
                                          "theme_id": t47["id"], "funder_id": funder["id"],
                                          "partners": [{"organisation_id": partner["id"]}]})).json()
    assert (await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "b"}})).status_code == 200
    assert (await gw.patch(f"/projects/{p['id']}", json={"theme_id": t41["id"]})).status_code == 200
    bare = (await gw.post("/projects", json={"code": code(), "name": {"fi": "c"}})).json()
    # Import: many new rows (COPY on PostgreSQL), then an update by code leaving the theme as is.
    tag = uuid.uuid4().hex[:6].upper()
    rows = [{"code": f"SO-{tag}-{i}", "name": {"fi": f"x{i}"}, "theme_id": t47["id"],
             "partners": [{"organisation_id": partner["id"]}]} for i in range(30)]
    r = await gw.post("/projects/import", json=rows)
    assert r.json()["summary"]["created"] == 30, r.text
    imported = {x["id"] for x in r.json()["rows"]}
    r = await gw.post("/projects/import", json=[{"code": f"SO-{tag}-0", "name": {"fi": "uusi"}}])
    assert r.json()["rows"][0]["result"] == "updated", r.text
    updated_id = r.json()["rows"][0]["id"]
    # Succession moves p to a new funder: project.updated again, still with the objective.
    await gw.post(f"/organisations/{funder['id']}/succession",
                  json={"successor_id": successor["id"], "date": "2026-01-01"})
    events = await _project_events(stack, {p["id"], bare["id"], *imported})
    for e in events:
        contracts.EVENTS[e["type"]].model_validate(e["data"])
    mine = [(e["type"].split(".")[-2], e["data"]["specific_objective"], e["data"]["name"]["fi"])
            for e in events if e["data"]["id"] == p["id"]]
    assert mine == [("created", "ESO4.7", "a"), ("updated", "ESO4.7", "b"),
                    ("updated", "ESO4.1", "b"), ("updated", "ESO4.1", "b")]
    assert [e["data"]["specific_objective"] for e in events if e["data"]["id"] == bare["id"]] == [None]
    by_import = [e for e in events if e["data"]["id"] in imported]
    assert len(by_import) == 31
    assert {e["data"]["specific_objective"] for e in by_import} == {"ESO4.7"}
    upd = [e["data"] for e in by_import if e["type"] == contracts.PROJECT_UPDATED]
    # The update left theme and partners as they were: the state still has both.
    assert [(u["id"], u["partner_ids"], u["theme_id"]) for u in upd] == [
        (updated_id, [partner["id"]], t47["id"])]


async def test_unknown_lead_funder_or_partner_is_refused_and_nothing_is_written(gw, client_for,
                                                                                 stack):
    org, funder = await new_org(gw), await new_org(gw)
    ghost = str(uuid.uuid4())
    theme = await _theme(gw, None)  # not an organisation: an id of something else
    for field, body in (("organisation_id", {"organisation_id": ghost}),
                        ("funder_id", {"funder_id": theme["id"]}),
                        ("partners/1/organisation_id", {"partners": [
                            {"organisation_id": funder["id"]}, {"organisation_id": ghost}]})):
        c = code()
        err = problem(await gw.post("/projects", json={"code": c, "name": {"fi": "x"}, **body}), 422)
        assert [e["field"] for e in err["errors"]] == [f"body/{field}"], err
        assert err["errors"][0]["type"] == "unknown_id"
        assert await _codes(stack, c) == []
    # Two unknown references are both named.
    err = problem(await gw.post("/projects", json={"code": code(), "name": {"fi": "x"},
                                                   "organisation_id": ghost, "funder_id": ghost}), 422)
    assert {e["field"] for e in err["errors"]} == {"body/organisation_id", "body/funder_id"}
    # Update: an unknown funder changes nothing (version and funder stay).
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "a"},
                                          "organisation_id": org["id"],
                                          "funder_id": funder["id"]})).json()
    err = problem(await gw.patch(f"/projects/{p['id']}", json={"funder_id": ghost,
                                                                "name": {"fi": "muutettu"}}), 422)
    assert err["errors"][0]["field"] == "body/funder_id"
    after = (await gw.get(f"/projects/{p['id']}")).json()
    assert (after["version"], after["funder_id"], after["name"]["fi"]) == (1, funder["id"], "a")
    assert len(after["funders"]) == 1
    # An implementer may name its own organisation (its token vouches for it) but not a ghost funder.
    impl = client_for("implementer", f"org-{uuid.uuid4().hex[:6]}")
    r = await impl.post("/projects", json={"code": code(), "name": {"fi": "oma"}})
    assert r.status_code == 201, r.text
    problem(await impl.post("/projects", json={"code": code(), "name": {"fi": "oma"},
                                               "funder_id": ghost}), 422)
    # Import: per-row rejection naming the field; the good row is written.
    tag = uuid.uuid4().hex[:6].upper()
    r = await gw.post("/projects/import", json=[
        {"code": f"REF-{tag}-ok", "name": {"fi": "ok"}, "organisation_id": org["id"],
         "funder_id": funder["id"]},
        {"code": f"REF-{tag}-lead", "name": {"fi": "x"}, "organisation_id": ghost},
        {"code": f"REF-{tag}-fund", "name": {"fi": "x"}, "funder_id": ghost},
        {"code": f"REF-{tag}-part", "name": {"fi": "x"}, "partners": [{"organisation_id": ghost}]}])
    res = r.json()
    assert [x["result"] for x in res["rows"]] == ["created", "rejected", "rejected", "rejected"]
    assert [x["errors"][0]["field"] for x in res["rows"][1:]] == [
        "organisation_id", "funder_id", "partners/0/organisation_id"]
    assert await _codes(stack, f"REF-{tag}") == [f"REF-{tag}-ok"]
    # all_or_nothing: one unknown funder, nothing written.
    r = await gw.post("/projects/import", params={"mode": "all_or_nothing"}, json=[
        {"code": f"REF-{tag}-a", "name": {"fi": "x"}},
        {"code": f"REF-{tag}-b", "name": {"fi": "x"}, "funder_id": ghost}])
    assert r.status_code == 422 and r.json()["written"] is False
    assert await _codes(stack, f"REF-{tag}") == [f"REF-{tag}-ok"]
