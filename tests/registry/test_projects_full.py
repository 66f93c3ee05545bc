"""The full project record through the gateway: validation, authorisation, ETags, history, events."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts import CATALOGUE
from shared.jsonutil import loads
from tests.registry.conftest import code, new_org, problem


async def _full_project(gw, org_id: str, funder_id: str, partner_id: str, **extra) -> dict:
    body = {
        "code": code(), "name": {"fi": "Työn imu Pirkanmaalla", "sv": "Arbetsengagemang",
                                 "en": "Work engagement in Pirkanmaa"},
        "start_date": "2025-01-01", "end_date": "2026-12-31", "organisation_id": org_id,
        "funder_id": funder_id, "region_codes": ["06", "01"], "case_numbers": ["12/2025"],
        "appointing_body": "TEM", "set_up_date": "2024-12-01",
        "goals": {"fi": "Parannetaan työhyvinvointia pienissä yrityksissä."},
        "target_groups": ["companies", "employees"], "sub_themes": ["wellbeing"],
        "partners": [{"organisation_id": partner_id, "role": "co_implementer"}],
        "budget": [{"source": "esf_plus", "amount": "0.10"}, {"source": "state", "amount": "0.20"}],
        "contact_persons": [{"name": "Maija Meikäläinen", "email": "maija@example.fi"}],
        "steering_group": [{"name": "Pekka Puheenjohtaja", "organisation": "STM"}],
        "evaluations": [{"kind": "mid_term", "date": "2025-06-30", "evaluator": "Arvio Oy",
                         "link": "https://example.fi/arvio"}],
        **extra,
    }
    r = await gw.post("/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_full_record_round_trips_with_exact_budget(gw):
    lead, funder, partner = (await new_org(gw)), (await new_org(gw)), (await new_org(gw))
    p = await _full_project(gw, lead["id"], funder["id"], partner["id"])
    assert p["budget_total"] == "0.30"  # exact decimals, not 0.30000000000000004
    assert p["partners"] == [{"organisation_id": partner["id"], "role": "co_implementer"}]
    assert p["funders"][0]["organisation_id"] == funder["id"]
    assert p["funders"][0]["valid_from"] == "2025-01-01"
    assert p["contact_persons"][0]["email"] == "maija@example.fi"  # admin sees personal data
    assert p["evaluations"][0]["evaluator"] == "Arvio Oy"
    assert p["region_codes"] == ["01", "06"]


async def test_partner_that_is_lead_and_bad_references_are_field_errors(gw):
    org = await new_org(gw)
    cases = [
        ({"organisation_id": org["id"], "partners": [{"organisation_id": org["id"]}]}, "body"),
        ({"partners": [{"organisation_id": "no-such-org"}]}, "body/partners/0/organisation_id"),
        ({"theme_id": "no-such-theme"}, "body/theme_id"),
        ({"target_groups": ["aliens"]}, "body/target_groups"),
        ({"budget": [{"source": "esf_plus", "amount": "1.001"}]}, "body/budget/0/amount"),
        ({"budget": [{"source": "lottery", "amount": "1"}]}, "body/budget/0/source"),
        ({"contact_persons": [{"name": "X", "email": "not-an-email"}]}, "body/contact_persons/0/email"),
    ]
    for extra, field in cases:
        err = problem(await gw.post("/projects", json={"code": code(), "name": {"fi": "x"}, **extra}),
                      422)
        assert any(e["field"].startswith(field) for e in err["errors"]), (extra, err)
    r = await gw.get("/projects", params={"implementer": org["id"]})
    assert r.json()["total"] == 0


async def test_who_sees_what(gw, client_for):
    lead, funder, partner = (await new_org(gw)), (await new_org(gw)), (await new_org(gw))
    p = await _full_project(gw, lead["id"], funder["id"], partner["id"])
    public, other = client_for(), client_for("implementer", "someone-else")
    own, funds = client_for("implementer", lead["id"]), client_for("funder", funder["id"])
    # Unpublished: only the owner, the funder and national roles see it at all.
    problem(await public.get(f"/projects/{p['id']}"), 404)
    problem(await other.get(f"/projects/{p['id']}"), 404)
    for c in (own, funds):
        r = await c.get(f"/projects/{p['id']}")
        assert r.status_code == 200 and r.json()["contact_persons"][0]["name"] == "Maija Meikäläinen"
    r = await gw.patch(f"/projects/{p['id']}", json={"published": True})
    assert r.status_code == 200 and r.json()["published"] is True
    # Published: everyone reads it, but personal data only for the allowed.
    for c in (public, other):
        body = (await c.get(f"/projects/{p['id']}")).json()
        assert body["code"] == p["code"]
        assert "contact_persons" not in body and "steering_group" not in body
        assert "maija" not in str(body).lower()
    assert p["code"] in {x["code"] for x in (await public.get(
        "/projects", params={"implementer": lead["id"]})).json()["items"]}
    # Another organisation cannot change it; its funder can move its status.
    problem(await other.patch(f"/projects/{p['id']}", json={"name": {"fi": "kaapattu"}}), 403)
    problem(await public.patch(f"/projects/{p['id']}", json={"name": {"fi": "kaapattu"}}), 401)
    r = await funds.post(f"/projects/{p['id']}/status",
                         json={"status": "active", "date": "2025-01-02", "reason": "rahoituspäätös"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["status_date"], r.json()["status_reason"]) == \
        ("active", "2025-01-02", "rahoituspäätös")
    # Export for the public leaves personal data out even when asked for.
    r = await public.get("/projects/export", params={"format": "csv", "include_personal": "true",
                                                     "implementer": lead["id"], "lang": "sv"})
    assert r.status_code == 200 and "Birkaland" in r.text and "maija" not in r.text.lower()
    assert "Kontaktpersoner" not in r.text
    r = await gw.get("/projects/export", params={"format": "csv", "include_personal": "true",
                                                 "implementer": lead["id"]})
    assert "maija@example.fi" in r.text and "Yhteyshenkilöt" in r.text


async def test_etags_conditional_reads_and_history(gw, client_for):
    org = await new_org(gw)
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "a"},
                                          "organisation_id": org["id"],
                                          "contact_persons": [{"name": "Liisa", "email": "l@x.fi"}]}
                       )).json()
    r = await gw.get(f"/projects/{p['id']}")
    tag = r.headers["etag"]
    assert (await gw.get(f"/projects/{p['id']}", headers={"If-None-Match": tag})).status_code == 304
    r = await gw.patch(f"/projects/{p['id']}", json={"region_codes": ["19"]}, headers={"If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    problem(await gw.patch(f"/projects/{p['id']}", json={"region_codes": ["18"]},
                           headers={"If-Match": tag}), 412)
    r = await gw.get(f"/projects/{p['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 200 and r.json()["region_codes"] == ["19"]
    # Erase the person: gone from the record; history never held the e-mail.
    person = r.json()["contact_persons"][0]
    problem(await client_for("implementer", "other-org").delete(  # unpublished: hidden from it
        f"/projects/{p['id']}/people/{person['id']}"), 404)
    assert (await gw.delete(f"/projects/{p['id']}/people/{person['id']}")).status_code == 204
    assert (await gw.get(f"/projects/{p['id']}")).json()["contact_persons"] == []
    hist = (await gw.get(f"/projects/{p['id']}/history")).json()["items"]
    assert [h["action"] for h in hist] == ["create", "update", "erase_person"]
    assert hist[1]["before"] == {"region_codes": []} and hist[1]["after"] == {"region_codes": ["19"]}
    assert hist[1]["actor"] and hist[1]["at"]
    assert "l@x.fi" not in str(hist) and "Liisa" not in str(hist)


async def test_status_transitions_and_archive(gw):
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "a"}})).json()
    err = problem(await gw.post(f"/projects/{p['id']}/status", json={"status": "ended"}), 422)
    assert err["errors"][0]["field"] == "body/status"
    assert (await gw.post(f"/projects/{p['id']}/status",
                          json={"status": "cancelled", "reason": "ei rahoitusta"})).status_code == 200
    problem(await gw.post(f"/projects/{p['id']}/status", json={"status": "active"}), 422)
    r = await gw.post(f"/projects/{p['id']}/archive")
    assert r.status_code == 200 and r.json()["archived"] is True
    assert p["code"] not in {x["code"] for x in (await gw.get(
        "/projects", params={"limit": 200, "status": "cancelled"})).json()["items"]}
    problem(await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "b"}}), 409)


async def test_every_emitted_event_validates_against_its_contract(gw, stack):
    """Run every kind of change, then check each outbox envelope against its contract model."""
    org, funder, successor = (await new_org(gw)), (await new_org(gw)), (await new_org(gw))
    p = await _full_project(gw, org["id"], funder["id"], (await new_org(gw))["id"],
                            published=True)
    await gw.post(f"/projects/{p['id']}/status", json={"status": "active"})
    await gw.patch(f"/organisations/{org['id']}", json={"size_class": "small"})
    await gw.post(f"/organisations/{funder['id']}/succession",
                  json={"successor_id": successor["id"], "date": "2026-01-01"})
    w = (await gw.post(f"/projects/{p['id']}/workplaces",
                       json={"organisation_id": org["id"], "joined_on": "2025-02-01"})).json()
    await gw.post(f"/projects/{p['id']}/workplaces/{w['id']}/leave", json={"left_on": "2025-10-01"})
    pr = (await gw.post("/practices", json={"name": {"fi": "Malli"}, "published": True,
                                            "project_ids": [p["id"]]})).json()
    await gw.patch(f"/practices/{pr['id']}", json={"maturity": "piloted"})
    await gw.post(f"/practices/{pr['id']}/adoptions", json={
        "organisation_id": org["id"], "adopted_on": "2025-11-01", "scope": "unit"})
    await gw.post(f"/projects/{p['id']}/archive")
    engine = create_async_engine(stack.db_urls["registry"])
    async with engine.connect() as conn:
        envelopes = [loads(e) for (e,) in (await conn.execute(text("SELECT envelope FROM outbox")))]
    await engine.dispose()
    seen = set()
    for env in envelopes:
        CATALOGUE[env["type"]].model_validate(env["data"])
        assert env["source"] == "/teke/registry"
        seen.add(env["type"].split(".")[-3] + "." + env["type"].split(".")[-2])
    assert {"project.created", "project.updated", "project.status_changed", "project.archived",
            "organisation.created", "organisation.updated", "organisation.succeeded",
            "workplace.joined", "workplace.left", "practice.published",
            "practice.maturity_changed", "adoption.recorded"} <= seen


async def test_succession_keeps_dated_funder_history(gw, client_for):
    ely, evk = (await new_org(gw, kind="funding_authority")), (await new_org(gw, kind="funding_authority"))
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "a"}, "funder_id": ely["id"],
                                          "start_date": "2024-03-01", "end_date": "2027-06-30"})).json()
    problem(await client_for("funder", ely["id"]).post(
        f"/organisations/{ely['id']}/succession",
        json={"successor_id": evk["id"], "date": "2026-01-01"}), 403)
    r = await gw.post(f"/organisations/{ely['id']}/succession",
                      json={"successor_id": evk["id"], "date": "2026-01-01"})
    assert r.status_code == 200 and r.json()["projects_moved"] == 1
    body = (await gw.get(f"/projects/{p['id']}")).json()
    assert body["funder_id"] == evk["id"]
    assert body["funders"] == [
        {"organisation_id": ely["id"], "valid_from": "2024-03-01", "valid_to": "2025-12-31"},
        {"organisation_id": evk["id"], "valid_from": "2026-01-01", "valid_to": None}]
    # The old funder still sees the project it funded.
    r = await client_for("funder", ely["id"]).get(f"/projects/{p['id']}")
    assert r.status_code == 200


async def test_succession_before_a_funder_period_began_keeps_periods_whole(gw):
    """One funder-change rule for a PATCH and a succession (issue 13): the succession's copy
    closed the open period the day before the succession even when that period began later,
    leaving valid_to before valid_from. Both now close it no earlier than it began."""
    ely, evk = (await new_org(gw, kind="funding_authority")), (await new_org(gw, kind="funding_authority"))
    p = (await gw.post("/projects", json={
        "code": code(), "name": {"fi": "a"}, "funder_id": ely["id"], "funder_since": "2026-06-01",
        "start_date": "2024-03-01", "end_date": "2027-06-30"})).json()
    r = await gw.post(f"/organisations/{ely['id']}/succession",
                      json={"successor_id": evk["id"], "date": "2026-03-01"})
    assert r.status_code == 200 and r.json()["projects_moved"] == 1
    funders = (await gw.get(f"/projects/{p['id']}")).json()["funders"]
    assert funders == [
        {"organisation_id": evk["id"], "valid_from": "2026-03-01", "valid_to": None},
        {"organisation_id": ely["id"], "valid_from": "2026-06-01", "valid_to": "2026-06-01"}]


async def test_organisation_business_id_validation(gw):
    err = problem(await gw.post("/organisations", json={"name": {"fi": "x"}, "kind": "company",
                                                         "business_id": "0245437-3"}), 422)
    assert err["errors"][0]["field"] == "body/business_id" and "check digit" in err["errors"][0]["message"]
    problem(await gw.post("/organisations", json={"name": {"fi": "x"}, "kind": "spaceship"}), 422)
    problem(await gw.post("/organisations", json={"name": {"fi": "x"}, "kind": "company",
                                                   "region_code": "03"}), 422)
    r = await gw.get("/organisations", params={"business_id": "0245437-2"})
    if r.json()["total"] == 0:
        assert (await gw.post("/organisations", json={"name": {"fi": "Kone"}, "kind": "company",
                                                       "business_id": "0245437-2"})).status_code == 201
    problem(await gw.post("/organisations", json={"name": {"fi": "Kopio"}, "kind": "company",
                                                   "business_id": "0245437-2"}), 409)


async def test_unauthenticated_writes_are_refused(client_for):
    anon: httpx.AsyncClient = client_for()
    problem(await anon.post("/projects", json={"code": code(), "name": {"fi": "x"}}), 401)
    problem(await anon.post("/organisations", json={"name": {"fi": "x"}, "kind": "other"}), 401)
