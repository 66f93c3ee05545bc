"""The coordination project's work: steering-group meetings (and the participation query the
theme view calls), service needs from the regions with their triage, the ministry role, and
the refusals (anonymous and viewer reads, a stranger's project, a need triaged without the
right, unknown references, a disallowed step): each a 4xx problem+json that changes nothing."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts import coordination as contracts
from shared.jsonutil import loads
from tests.registry.conftest import code, new_org, problem


async def _outbox(stack, subjects: set[str]) -> list[dict]:
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            envs = [loads(e) for (e,) in await conn.execute(
                text("SELECT envelope FROM outbox ORDER BY seq"))]
    finally:
        await engine.dispose()
    return [e for e in envs if e["subject"] in subjects]


async def _setup(gw) -> dict:
    """A theme with three projects of one implementer, funded by one ELY centre."""
    lead, funder, other = await new_org(gw), await new_org(gw), await new_org(gw)
    theme = (await gw.post("/themes", json={"code": code("T"),
                                            "name": {"fi": "Työelämän kehittäminen"}})).json()
    projects = []
    for i in range(3):
        r = await gw.post("/projects", json={
            "code": code(f"SG{i}"), "name": {"fi": f"Hanke {i}"}, "theme_id": theme["id"],
            "organisation_id": lead["id"], "funder_id": funder["id"], "region_codes": ["06"],
            "published": i == 0})
        assert r.status_code == 201, r.text
        projects.append(r.json())
    return {"lead": lead, "funder": funder, "other": other, "theme": theme, "projects": projects}


def _meeting(date: str, coordination: bool, funder: bool = True, **extra) -> dict:
    return {"date": date, "coordination_attended": coordination, "funder_attended": funder,
            "participants": [{"role": "implementer", "name": "Maija Meikäläinen"},
                             {"role": "coordination_project", "name": "Kaisa Koordinaattori"},
                             {"role": "ministry"}],
            "decisions": {"fi": "Hyväksyttiin väliraportti.", "en": "Interim report approved."},
            **extra}


async def test_steering_meetings_and_the_participation_query(gw, client_for, stack):
    s = await _setup(gw)
    p0, p1, p2 = s["projects"]
    own = client_for("implementer", s["lead"]["id"])
    r = await own.post(f"/projects/{p0['id']}/steering-meetings", json=_meeting(
        "2025-03-10", True, participants=[{"role": "funder", "organisation_id": s["funder"]["id"],
                                           "name": "Eero Ely"}],
        minutes_url="https://example.fi/poytakirja.pdf"))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["participants"] == [{"role": "funder", "organisation_id": s["funder"]["id"],
                                      "name": "Eero Ely"}]
    assert first["coordination_attended"] is True and first["decisions"]["fi"].startswith("Hyväksyttiin")
    ids = [first["id"]]
    for pid, date, coord in ((p0["id"], "2025-09-01", False), (p1["id"], "2025-05-05", False),
                             (p1["id"], "2024-11-11", True), (p2["id"], "2024-02-02", True)):
        r = await gw.post(f"/projects/{pid}/steering-meetings", json=_meeting(date, coord, funder=False))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    r = await gw.get("/steering-meetings/participation", params={"theme_id": s["theme"]["id"],
                                                                 "year": 2025})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["year"], body["theme_id"], body["projects_with_meetings"], body["meetings"],
            body["coordination_attended_projects"], body["funder_attended_projects"]) == \
        (2025, s["theme"]["id"], 2, 3, 1, 1)
    assert [(i["code"], i["meetings"], i["coordination_attended"]) for i in body["items"]] == \
        [(p0["code"], 2, True), (p1["code"], 1, False)]
    assert body["items"][0]["name"] == {"fi": "Hanke 0"}
    y24 = (await gw.get("/steering-meetings/participation",
                        params={"theme_id": s["theme"]["id"], "year": 2024})).json()
    assert (y24["projects_with_meetings"], y24["coordination_attended_projects"]) == (2, 2)

    r = await gw.get("/steering-meetings", params={"theme_id": s["theme"]["id"], "year": 2025,
                                                   "coordination_attended": "false", "limit": 1})
    page = r.json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next_cursor"]
    nxt = (await gw.get("/steering-meetings", params={
        "theme_id": s["theme"]["id"], "year": 2025, "coordination_attended": "false",
        "cursor": page["next_cursor"]})).json()
    assert [m["date"] for m in page["items"] + nxt["items"]] == ["2025-05-05", "2025-09-01"]

    # The funder reads its projects' meetings with names; a ministry reads them without names.
    funder = client_for("funder", s["funder"]["id"])
    got = (await funder.get(f"/projects/{p0['id']}/steering-meetings")).json()
    assert got["total"] == 2 and got["items"][0]["participants"][0]["name"] == "Eero Ely"
    ministry = client_for("ministry")
    got = (await ministry.get(f"/projects/{p1['id']}/steering-meetings")).json()
    assert got["total"] == 2 and all("name" not in p for m in got["items"] for p in m["participants"])
    part = (await ministry.get("/steering-meetings/participation",
                               params={"theme_id": s["theme"]["id"], "year": 2025})).json()
    assert part["meetings"] == 3
    # An implementer counts only its own projects.
    stranger = client_for("implementer", s["other"]["id"])
    mine = (await stranger.get("/steering-meetings/participation",
                               params={"theme_id": s["theme"]["id"], "year": 2025})).json()
    assert (mine["projects_with_meetings"], mine["items"]) == (0, [])

    events = await _outbox(stack, set(ids))
    assert [e["type"] for e in events] == [contracts.STEERING_MEETING_RECORDED] * 5
    for e in events:
        contracts.SteeringMeetingRecordedV1.model_validate(e["data"])
        assert "Maija" not in str(e["data"]) and "Eero" not in str(e["data"])
    assert events[0]["data"]["participant_roles"] == ["funder"]
    assert events[1]["data"]["participant_roles"] == ["coordination_project", "implementer", "ministry"]


async def test_steering_meeting_refusals_change_nothing(gw, client_for, stack):
    s = await _setup(gw)
    public_p, private_p = s["projects"][0], s["projects"][1]
    before = (await gw.get(f"/projects/{public_p['id']}/steering-meetings")).json()["total"]
    body = _meeting("2025-04-04", True)

    anonymous = client_for()
    problem(await anonymous.get("/steering-meetings/participation",
                                params={"theme_id": s["theme"]["id"]}), 401)
    problem(await anonymous.get(f"/projects/{public_p['id']}/steering-meetings"), 401)
    problem(await anonymous.post(f"/projects/{public_p['id']}/steering-meetings", json=body), 401)
    viewer = client_for("viewer")
    problem(await viewer.get("/steering-meetings", params={"theme_id": s["theme"]["id"]}), 403)
    problem(await viewer.get(f"/projects/{public_p['id']}/steering-meetings"), 403)

    stranger = client_for("implementer", s["other"]["id"])
    problem(await stranger.get(f"/projects/{public_p['id']}/steering-meetings"), 403)
    problem(await stranger.get(f"/projects/{private_p['id']}/steering-meetings"), 404)
    problem(await stranger.post(f"/projects/{public_p['id']}/steering-meetings", json=body), 403)
    problem(await stranger.post(f"/projects/{private_p['id']}/steering-meetings", json=body), 404)
    # The funder and a ministry read but do not record.
    problem(await client_for("funder", s["funder"]["id"]).post(
        f"/projects/{public_p['id']}/steering-meetings", json=body), 403)
    problem(await client_for("ministry").post(
        f"/projects/{public_p['id']}/steering-meetings", json=body), 403)
    problem(await gw.post("/projects/no-such-project/steering-meetings", json=body), 404)

    for bad, field in (
            ({**body, "participants": [{"role": "king"}]}, "body/participants/0/role"),
            ({**body, "participants": [{"role": "expert", "organisation_id": "no-such-org"}]},
             "body/participants/0/organisation_id"),
            ({**body, "participants": [{"role": "other"}] * 101}, "body/participants"),
            ({**body, "date": 20250404}, "body/date"),
            # Found from outside: a meeting "held" on 9999-12-31 was recorded.
            ({**body, "date": "9999-12-31"}, "body/date"),
            ({**body, "date": "1999-12-31"}, "body/date"),
            ({**body, "decisions": {"sv": "Bara svenska"}}, "body/decisions/fi"),
            ({**body, "coordination_attended": "yes"}, "body/coordination_attended"),
            ({**body, "minutes_url": "javascript:alert(1)"}, "body/minutes_url")):
        err = problem(await gw.post(f"/projects/{public_p['id']}/steering-meetings", json=bad), 422)
        assert err["errors"][0]["field"] == field, (field, err)
    problem(await gw.get("/steering-meetings/participation", params={"year": 1800}), 422)
    after = (await gw.get(f"/projects/{public_p['id']}/steering-meetings")).json()["total"]
    assert before == after == 0


def _need(s: dict, **extra) -> dict:
    return {"theme_id": s["theme"]["id"],
            "title": {"fi": "Työkykykoordinaattorit pienille yrityksille",
                      "sv": "Arbetsförmågekoordinatorer för små företag"},
            "description": {"fi": "Pienillä yrityksillä ei ole työkykykoordinaattoria."},
            "region_codes": ["06", "02"], "target_group_codes": ["companies"],
            "evidence": "Kysely 40 yritykselle, 2025: 31 ei tunne palvelua.",
            "project_ids": [s["projects"][0]["id"]], **extra}


async def test_service_need_triage_keeps_every_step(gw, client_for, stack):
    s = await _setup(gw)
    own = client_for("implementer", s["lead"]["id"])
    r = await own.post("/service-needs", json=_need(s))
    assert r.status_code == 201, r.text
    need = r.json()
    assert (need["status"], need["open"], need["organisation_id"], need["region_codes"]) == \
        ("new", True, s["lead"]["id"], ["02", "06"])
    assert [st["to"] for st in need["steps"]] == ["new"] and need["steps"][0]["by_role"] == "implementer"
    other = (await gw.post("/service-needs", json=_need(s, region_codes=["11"], project_ids=[]))).json()

    listed = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"], "open": "true",
                                                     "limit": 20})).json()
    assert {n["id"] for n in listed["items"]} == {need["id"], other["id"]}
    region = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"], "region": "11"})).json()
    assert [n["id"] for n in region["items"]] == [other["id"]]

    steps = [("under_review", None), ("forwarded", "Viedään TEM:n ja STM:n käsittelyyn."),
             ("addressed", "Otettu mukaan TYÖ2030-ohjelman palveluihin.")]
    for to, reason in steps:
        r = await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": to, "reason": reason})
        assert r.status_code == 200, r.text
    assert (await gw.post(f"/service-needs/{other['id']}/transitions",
                          json={"to": "declined", "reason": "Kuuluu toiselle teemalle."})).status_code == 200

    full = (await gw.get(f"/service-needs/{need['id']}")).json()
    assert (full["status"], full["open"], full["version"]) == ("addressed", False, 4)
    assert [(st["from"], st["to"], st["reason"], st["by_role"]) for st in full["steps"]] == [
        (None, "new", None, "implementer"), ("new", "under_review", None, "admin"),
        ("under_review", "forwarded", steps[1][1], "admin"), ("forwarded", "addressed", steps[2][1], "admin")]
    assert full["steps"][1]["by"] and full["steps"][1]["at"]
    seen_by_owner = (await own.get(f"/service-needs/{need['id']}")).json()
    assert len(seen_by_owner["steps"]) == 4 and "by" not in seen_by_owner["steps"][1]
    ministry = (await client_for("ministry").get(f"/service-needs/{need['id']}")).json()
    assert ministry["status"] == "addressed" and "by" not in ministry["steps"][0]

    still_open = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"],
                                                         "open": "true"})).json()
    assert still_open["items"] == [] and still_open["total"] == 0
    closed = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"], "open": "false"})).json()
    assert closed["total"] == 2
    declined = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"],
                                                       "status": "declined"})).json()
    assert [n["id"] for n in declined["items"]] == [other["id"]]
    # The implementer lists what it raised; the funder what comes from its projects.
    assert [n["id"] for n in (await own.get("/service-needs", params={
        "theme_id": s["theme"]["id"]})).json()["items"]] == [need["id"]]
    assert [n["id"] for n in (await client_for("funder", s["funder"]["id"]).get(
        "/service-needs", params={"theme_id": s["theme"]["id"]})).json()["items"]] == [need["id"]]

    events = await _outbox(stack, {need["id"]})
    assert [e["type"] for e in events] == [contracts.SERVICE_NEED_RECORDED] + \
        [contracts.SERVICE_NEED_TRANSITIONED] * 3
    contracts.ServiceNeedRecordedV1.model_validate(events[0]["data"])
    for e, (to, reason) in zip(events[1:], steps, strict=True):
        data = contracts.ServiceNeedTransitionedV1.model_validate(e["data"])
        assert (data.to_status, data.reason) == (to, reason)
    assert events[-1]["data"]["from_status"] == "forwarded" and "evidence" not in events[0]["data"]


async def test_service_need_refusals_change_nothing(gw, client_for, stack):
    s = await _setup(gw)
    own = client_for("implementer", s["lead"]["id"])
    need = (await own.post("/service-needs", json=_need(s))).json()

    # Triaged by someone without the right: 403 and nothing changes.
    problem(await own.post(f"/service-needs/{need['id']}/transitions", json={"to": "under_review"}), 403)
    problem(await client_for("ministry").post(f"/service-needs/{need['id']}/transitions",
                                              json={"to": "under_review"}), 403)
    problem(await client_for("funder", s["funder"]["id"]).post(
        f"/service-needs/{need['id']}/transitions", json={"to": "declined", "reason": "x"}), 403)
    # A disallowed step, a missing reason, an unknown state.
    err = problem(await gw.post(f"/service-needs/{need['id']}/transitions",
                                json={"to": "addressed", "reason": "Valmis."}), 422)
    assert err["errors"][0]["field"] == "body/to"
    await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": "under_review"})
    err = problem(await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": "forwarded"}), 422)
    assert err["errors"][0]["field"] == "body/reason"
    err = problem(await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": "done"}), 422)
    assert err["errors"][0]["field"] == "body/to"
    problem(await gw.post("/service-needs/no-such-need/transitions", json={"to": "under_review"}), 404)
    full = (await gw.get(f"/service-needs/{need['id']}")).json()
    assert (full["status"], full["version"], len(full["steps"])) == ("under_review", 2, 2)

    # Unknown references, a stranger's project, roles that do not record needs, bad bodies.
    for bad, field in ((_need(s, project_ids=[s["projects"][0]["id"], "no-such-project"]),
                        "body/project_ids/1"),
                       (_need(s, theme_id="no-such-theme"), "body/theme_id"),
                       (_need(s, region_codes=["99"]), "body/region_codes"),
                       (_need(s, region_codes=[]), "body/region_codes"),
                       (_need(s, target_group_codes=["pirates"]), "body/target_group_codes"),
                       (_need(s, evidence="x" * 20_001), "body/evidence"),
                       (_need(s, status="addressed"), "body/status")):
        err = problem(await gw.post("/service-needs", json=bad), 422)
        assert err["errors"][0]["field"] == field, (field, err)
    stranger = client_for("implementer", s["other"]["id"])
    problem(await stranger.post("/service-needs", json=_need(s)), 403)
    problem(await client_for("ministry").post("/service-needs", json=_need(s, project_ids=[])), 403)
    problem(await client_for("viewer").post("/service-needs", json=_need(s, project_ids=[])), 403)

    # Reads: anonymous 401, a viewer 403, a stranger's need 404.
    problem(await client_for().get("/service-needs", params={"theme_id": s["theme"]["id"]}), 401)
    problem(await client_for().get(f"/service-needs/{need['id']}"), 401)
    problem(await client_for("viewer").get("/service-needs"), 403)
    problem(await stranger.get(f"/service-needs/{need['id']}"), 404)
    problem(await stranger.post(f"/service-needs/{need['id']}/transitions", json={"to": "declined"}), 404)
    assert (await stranger.get("/service-needs", params={"theme_id": s["theme"]["id"]})).json()["total"] == 0
    problem(await gw.get("/service-needs", params={"status": "lost"}), 422)
    problem(await gw.get("/service-needs", params={"region": "Uusimaa"}), 422)

    listed = (await gw.get("/service-needs", params={"theme_id": s["theme"]["id"]})).json()
    assert [n["id"] for n in listed["items"]] == [need["id"]]
    events = await _outbox(stack, {need["id"]})
    assert [e["data"]["status"] for e in events] == ["new", "under_review"]


async def test_ministry_reads_national_data_without_personal_data_and_writes_nothing(gw, client_for):
    s = await _setup(gw)
    hidden = s["projects"][1]  # not published
    r = await gw.patch(f"/projects/{hidden['id']}", json={
        "contact_persons": [{"name": "Maija Meikäläinen", "email": "maija@example.fi"}]})
    assert r.status_code == 200, r.text
    ministry = client_for("ministry")
    r = await ministry.get(f"/projects/{hidden['id']}")
    assert r.status_code == 200 and "Maija" not in r.text and "maija@" not in r.text
    listed = (await ministry.get("/projects", params={"theme": s["theme"]["id"], "limit": 10})).json()
    assert {p["id"] for p in listed["items"]} == {p["id"] for p in s["projects"]}
    assert (await client_for().get(f"/projects/{hidden['id']}")).status_code == 404
    problem(await ministry.patch(f"/projects/{hidden['id']}", json={"name": {"fi": "x"}}), 403)
    problem(await ministry.post("/themes", json={"code": code("T"), "name": {"fi": "x"}}), 403)
