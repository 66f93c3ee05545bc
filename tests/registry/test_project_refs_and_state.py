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


async def test_read_response_is_exactly_the_project_read_schema(gw, client_for):
    """The read path builds its JSON directly; it must equal ProjectRead's own validation and
    JSON dump of the same body, for a caller who sees personal data and for one who does not."""
    from registry.projects.schemas import ProjectRead

    lead, funder, partner = await new_org(gw), await new_org(gw), await new_org(gw)
    body = {"code": code(), "name": {"fi": "Täysi", "en": "Full"}, "organisation_id": lead["id"],
            "funder_id": funder["id"], "start_date": "2024-01-01", "end_date": "2026-12-31",
            "region_codes": ["06"], "target_groups": ["companies"], "sub_themes": ["wellbeing"],
            "goals": {"fi": "Tavoite"}, "case_numbers": ["1/2024"], "set_up_date": "2023-12-01",
            "partners": [{"organisation_id": partner["id"], "role": "expert"}],
            "budget": [{"source": "state", "amount": "100"}, {"source": "esf_plus", "amount": "0.5"}],
            "contact_persons": [{"name": "Liisa", "email": "l@x.fi"}],
            "steering_group": [{"name": "Matti", "title": "pj"}],
            "evaluations": [{"kind": "final", "date": "2026-12-01", "link": "https://x.fi/a"}],
            "published": True}
    created = await gw.post("/projects", json=body)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    public = client_for()
    for client, private in ((gw, True), (public, False)):
        got = (await client.get(f"/projects/{pid}")).json()
        want = ProjectRead.model_validate(got).model_dump(mode="json")
        if not private:
            want.pop("contact_persons")
            want.pop("steering_group")
        assert got == want
        assert list(got) == list(want)  # the same keys in the same order
        assert ("contact_persons" in got) is private
    got = created.json()
    assert got["budget"] == [{"source": "esf_plus", "amount": "0.50"},
                             {"source": "state", "amount": "100.00"}]
    assert got["budget_total"] == "100.50" and got["name"] == {"fi": "Täysi", "sv": None, "en": "Full"}
    assert got["created_at"].endswith("Z")
    assert got == (await gw.get(f"/projects/{pid}")).json()


async def test_workplaces_in_the_change_feed_in_commit_order(gw, client_for):
    async def end_of_feed(client) -> int:
        last = 0
        while True:
            page = (await client.get("/changes", params={"since": last, "limit": 5000})).json()
            if not page["items"]:
                return last
            last = page["next_since"]

    lead, company = await new_org(gw), await new_org(gw, size_class="small")
    last = await end_of_feed(gw)
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "tp"},
                                          "organisation_id": lead["id"]})).json()
    w = (await gw.post(f"/projects/{p['id']}/workplaces",
                       json={"organisation_id": company["id"], "joined_on": "2025-02-01"})).json()
    await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "tp 2"}})
    r = await gw.post(f"/projects/{p['id']}/workplaces/{w['id']}/leave", json={"left_on": "2025-09-30"})
    assert r.status_code == 200, r.text
    feed = (await gw.get("/changes", params={"since": last})).json()["items"]
    mine = [(c["entity_type"], c["action"], c["entity_id"]) for c in feed
            if c["entity_id"] in (p["id"], w["id"])]
    assert mine == [("project", "create", p["id"]), ("workplace", "create", w["id"]),
                    ("project", "update", p["id"]), ("workplace", "update", w["id"])]
    states = [c["state"] for c in feed if c["entity_id"] == w["id"]]
    assert states[0] == {"id": w["id"], "project_id": p["id"], "organisation_id": company["id"],
                         "joined_on": "2025-02-01", "left_on": None}
    assert states[1]["left_on"] == "2025-09-30"
    # Visible to the project's implementer, not to another organisation's.
    own = (await client_for("implementer", lead["id"]).get("/changes", params={"since": last})).json()
    assert w["id"] in {c["entity_id"] for c in own["items"]}
    other = (await client_for("implementer", "org-x").get("/changes", params={"since": last})).json()
    assert w["id"] not in {c["entity_id"] for c in other["items"]}


async def test_programme_theme_and_call_events(gw, stack):
    prog = (await gw.post("/programmes", json={"code": code("P"), "name": {"fi": "Ohjelma"},
                                               "period_start": "2021-01-01"})).json()
    theme = (await gw.post("/themes", json={"code": code("T"), "name": {"fi": "Teema"},
                                            "programme_id": prog["id"], "budget": "1000.00",
                                            "specific_objective": "ESO4.7"})).json()
    call = (await gw.post("/calls", json={"code": code("C"), "name": {"fi": "Haku"},
                                          "theme_id": theme["id"], "open_date": "2024-01-01"})).json()
    for _ in range(2):
        r = await gw.patch(f"/themes/{theme['id']}", json={"specific_objective": "ESO4.1"})
        assert r.status_code == 200, r.text
    assert (await gw.post(f"/calls/{call['id']}/archive")).status_code == 200
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            envs = [loads(e) for (e,) in await conn.execute(text("SELECT envelope FROM outbox ORDER BY seq"))]
    finally:
        await engine.dispose()
    ids = {prog["id"], theme["id"], call["id"]}
    mine = [e for e in envs if e["subject"] in ids]
    for e in mine:
        contracts.EVENTS[e["type"]].model_validate(e["data"])
    assert [e["type"].split(".")[-3:-1] for e in mine] == [
        ["programme", "created"], ["theme", "created"], ["call", "created"], ["theme", "updated"],
        ["call", "updated"]]  # the unchanged second patch emits nothing
    t_upd = mine[3]["data"]
    assert (t_upd["specific_objective"], t_upd["version"], t_upd["changed_fields"]) == ("ESO4.1", 2,
                                                                                      ["specific_objective"])
    assert mine[1]["data"]["budget"] == "1000.00" and mine[1]["data"]["programme_id"] == prog["id"]
    assert mine[4]["data"]["archived"] is True and mine[4]["data"]["changed_fields"] == ["archived"]


async def test_changing_a_programme_code_to_one_taken_is_a_documented_409(gw):
    """Schemathesis's stateful phase renamed a programme to another's code: 409, which the
    contract did not list for update_programme (nor update_theme, update_call)."""
    first, second = code("P"), code("P")
    made = []
    for c in (first, second):
        r = await gw.post("/programmes", json={"code": c, "name": {"fi": "Ohjelma"},
                                               "period_start": "2021-01-01"})
        assert r.status_code == 201, r.text
        made.append(r.json())
    target = made[1]
    p = problem(await gw.patch(f"/programmes/{target['id']}", json={"code": first}), 409)
    assert p["status"] == 409
    assert (await gw.get(f"/programmes/{target['id']}")).json()["code"] == second
    spec = (await gw.get("/openapi.json")).json()
    for path in ("/api/v1/programmes/{obj_id}", "/api/v1/themes/{obj_id}", "/api/v1/calls/{obj_id}"):
        assert "409" in spec["paths"][path]["patch"]["responses"], path
