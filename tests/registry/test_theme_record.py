"""The national theme's record (issue 14, part "theme"): contact persons (personal data, national
roles only, erasable), strategies as reference data, sub-themes and target groups of the card,
the 2014-2020 predecessor, the coordination project, project kinds and calls across themes."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
from nats.errors import TimeoutError as NatsTimeout

from tests.conftest import eventually, scalar
from tests.registry.conftest import code, new_org, problem

PREDECESSOR = {
    "period": "2014-2020",
    "priority_axis": {"fi": "TL 3. Työllisyys ja työvoiman liikkuvuus"},
    "objective": {"fi": "Erityistavoite 7.1. Tuottavuuden ja työhyvinvoinnin parantaminen"},
    "coordination_project_code": "TEM035:00/2017",
    "responsible_authority": "Hämeen ELY-keskus",
}


async def registry_events(nats_url: str, event: str, subject: str) -> list[dict]:
    """The envelopes of `teke.registry.<event>` about `subject`, read from JetStream."""
    nc = await nats.connect(nats_url)
    found = []
    try:
        sub = await nc.jetstream().subscribe(f"teke.registry.{event}", ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except NatsTimeout:
                break
            env = json.loads(msg.data)
            if env.get("subject") == subject:
                found.append(env)
    finally:
        await nc.close()
    return found


async def wait_events(nats_server, event: str, subject: str, n: int) -> list[dict]:
    async def enough():
        got = await registry_events(nats_server.url, event, subject)
        return got if len(got) >= n else None
    return await eventually(enough, timeout=30)


async def new_project(client, kind: str | None = None, **extra) -> dict:
    body = {"code": code("TR"), "name": {"fi": f"Hanke {uuid.uuid4().hex[:6]}"}, **extra}
    if kind:
        body["kind"] = kind
    r = await client.post("/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def new_theme(client, **extra) -> dict:
    r = await client.post("/themes", json={"code": code("TH"), "name": {"fi": "Teema"}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_reference_strategies_sub_themes_target_groups(client_for):
    public = client_for()
    items = (await public.get("/reference/strategies")).json()["items"]
    assert {i["code"] for i in items} == {"eu_csr_2019", "eu_csr_2020", "eu_csr_2021",
                                         "gov_programme_marin_2019", "eu_rrf", "tyo2030"}
    for i in items:
        assert i["fi"] and i["sv"] and i["en"] and i["url"].startswith("https://")
        assert isinstance(i["verified"], bool)
    subs = {i["code"]: i for i in (await public.get("/reference/sub_themes")).json()["items"]}
    assert sorted(i["card_bullet"] for i in subs.values() if "card_bullet" in i) == \
        ["4.1", "4.2", "4.3", "4.4"]
    assert subs["occupational_safety_work_ability"]["fi"] == "Työturvallisuus ja työkyky"
    groups = {i["code"] for i in (await public.get("/reference/target_groups")).json()["items"]}
    assert {"working_age", "companies", "employees", "managers", "change_situations",
            "associations", "municipalities", "education", "research", "arts_culture",
            "service_developers"} <= groups
    kinds = (await public.get("/reference/project_kinds")).json()["items"]
    assert [k["code"] for k in kinds] == ["development", "pilot", "coordination"]


async def test_theme_record_fields_and_theme_updated_event(gw, nats_server):
    coord = await new_project(gw, "coordination", status="ended", start_date="2014-09-23",
                              end_date="2020-12-31")
    theme = await new_theme(gw, strategy_codes=["tyo2030", "eu_csr_2019"],
                            sub_themes=["occupational_safety_work_ability", "wellbeing"],
                            target_groups=["working_age"], predecessor=PREDECESSOR)
    assert theme["strategy_codes"] == ["eu_csr_2019", "tyo2030"]
    assert theme["predecessor"]["coordination_project_code"] == "TEM035:00/2017"
    assert theme["coordination_project_id"] is None
    r = await gw.patch(f"/themes/{theme['id']}", json={
        "coordination_project_id": coord["id"],
        "strategy_codes": ["eu_csr_2019", "eu_csr_2020", "eu_csr_2021", "gov_programme_marin_2019",
                           "eu_rrf", "tyo2030"]}, headers={"If-Match": f'"{theme["id"]}:1"'})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["version"] == 2 and t["coordination_project_id"] == coord["id"]
    assert len(t["strategy_codes"]) == 6
    assert (await gw.get(f"/themes/{theme['id']}")).json()["predecessor"] == PREDECESSOR

    created, updated = await asyncio.gather(
        wait_events(nats_server, "theme.created", theme["id"], 1),
        wait_events(nats_server, "theme.updated", theme["id"], 1))
    assert created[0]["data"]["predecessor"]["period"] == "2014-2020"
    data = updated[-1]["data"]
    assert data["coordination_project_id"] == coord["id"] and len(data["strategy_codes"]) == 6
    assert set(data["changed_fields"]) == {"coordination_project_id", "strategy_codes"}
    assert data["version"] == 2

    # The theme's coordination project stays one while the theme names it.
    body = problem(await gw.patch(f"/projects/{coord['id']}", json={"kind": "pilot"}), 422)
    assert body["errors"][0]["field"] == "body/kind"
    assert (await gw.get(f"/projects/{coord['id']}")).json()["kind"] == "coordination"


async def test_theme_refusals_change_nothing(gw, client_for, stack):
    dev = await new_project(gw)  # kind development
    theme = await new_theme(gw)
    url = f"/themes/{theme['id']}"
    body = problem(await gw.patch(url, json={"strategy_codes": ["eu_csr_2018"]}), 422)
    assert body["errors"][0]["field"].endswith("strategy_codes"), body
    body = problem(await gw.patch(url, json={"coordination_project_id": dev["id"]}), 422)
    assert body["errors"][0] == {"field": "body/coordination_project_id", "type": "wrong_kind",
                                 "message": body["errors"][0]["message"]}
    body = problem(await gw.patch(url, json={"coordination_project_id": str(uuid.uuid4())}), 422)
    assert body["errors"][0]["type"] == "unknown_id"
    body = problem(await gw.patch(url, json={"predecessor": {"period": "last time"}}), 422)
    assert "predecessor" in body["errors"][0]["field"]
    body = problem(await gw.post("/themes", json={"code": code("TH"), "name": {"fi": "x"},
                                                  "coordination_project_id": dev["id"]}), 422)
    assert body["errors"][0]["field"] == "body/coordination_project_id"
    org = await new_org(gw)
    problem(await client_for("implementer", org["id"]).patch(url, json={"strategy_codes": []}), 403)
    after = (await gw.get(url)).json()
    assert after["version"] == 1 and after["strategy_codes"] == [] and after["predecessor"] is None
    assert await scalar(stack.db_urls["registry"], "SELECT count(*) FROM history "
                        "WHERE entity_id = :t", t=theme["id"]) == 1  # the create only


async def test_theme_persons_national_only_and_erasable(gw, client_for, stack, nats_server):
    theme = await new_theme(gw)
    other = await new_theme(gw)
    url = f"/themes/{theme['id']}"
    coordinator = client_for("coordinator")
    r = await coordinator.post(f"{url}/persons", json={
        "role": "intermediate_body", "name": "Liisa Esimerkki", "email": "liisa@example.fi",
        "phone": "+358 29 500 0000", "organisation": "Hämeen ELY-keskus"})
    assert r.status_code == 201, r.text
    ely = r.json()
    r = await gw.post(f"{url}/persons", json={"role": "ministry", "ministry": "STM",
                                              "name": "Matti Malli", "title": "neuvotteleva virkamies"})
    assert r.status_code == 201, r.text
    ministry_person = r.json()
    assert ministry_person["ministry"] == "STM"

    # Refusals: role ministry without a ministry, unknown role, a stranger, an unknown theme.
    body = problem(await gw.post(f"{url}/persons", json={"role": "ministry", "name": "X"}), 422)
    assert "ministry" in json.dumps(body["errors"])
    problem(await gw.post(f"{url}/persons", json={"role": "mayor", "name": "X"}), 422)
    problem(await gw.post(f"{url}/persons", json={"role": "ministry", "ministry": "XYZ",
                                                  "name": "X"}), 422)
    org = await new_org(gw)
    implementer = client_for("implementer", org["id"])
    problem(await implementer.post(f"{url}/persons", json={"role": "intermediate_body",
                                                           "name": "Y"}), 403)
    problem(await gw.post(f"/themes/{uuid.uuid4()}/persons", json={"role": "intermediate_body",
                                                                   "name": "Z"}), 404)

    # Who sees them: national roles on the theme; the public and implementers never.
    for client in (gw, coordinator, client_for("funder", org["id"])):
        seen = (await client.get(url)).json()
        assert {p["name"] for p in seen["persons"]} == {"Liisa Esimerkki", "Matti Malli"}
    for client in (client_for(), implementer, client_for("viewer")):
        r = await client.get(url)
        assert r.status_code == 200 and "persons" not in r.json()
        assert "Liisa" not in r.text and "liisa@example.fi" not in r.text
    assert (await client_for().get(f"{url}/persons")).status_code == 401
    problem(await implementer.get(f"{url}/persons"), 403)
    assert len((await gw.get(f"{url}/persons")).json()["items"]) == 2

    # Erasing: a stranger may not, another theme's person id is not found, then it is gone.
    problem(await implementer.delete(f"{url}/persons/{ely['id']}"), 403)
    problem(await gw.delete(f"/themes/{other['id']}/persons/{ely['id']}"), 404)
    problem(await gw.delete(f"{url}/persons/{uuid.uuid4()}"), 404)
    assert len((await gw.get(f"{url}/persons")).json()["items"]) == 2
    assert (await gw.delete(f"{url}/persons/{ely['id']}")).status_code == 204
    left = (await gw.get(url)).json()
    assert [p["id"] for p in left["persons"]] == [ministry_person["id"]]
    assert left["version"] == 4  # created, two persons added, one erased
    db = stack.db_urls["registry"]
    assert await scalar(db, "SELECT count(*) FROM theme_person WHERE name = 'Liisa Esimerkki'") == 0
    hist = await scalar(db, "SELECT count(*) FROM history WHERE entity_id = :t AND "
                        "(CAST(after AS TEXT) LIKE '%Liisa%' OR CAST(after AS TEXT) LIKE '%Matti%')",
                        t=theme["id"])
    assert hist == 0
    events = await wait_events(nats_server, "theme.updated", theme["id"], 3)
    assert all(e["data"]["changed_fields"] == ["persons"] for e in events)
    assert "Liisa" not in json.dumps(events) and "Matti" not in json.dumps(events)


async def test_project_kind_create_patch_filter_facet_export_event(gw, client_for, nats_server):
    tag = uuid.uuid4().hex[:8]
    pilot = await new_project(gw, "pilot", name={"fi": f"Kokeilu {tag}"}, published=True)
    dev = await new_project(gw, name={"fi": f"Kehitys {tag}"}, published=True)
    assert pilot["kind"] == "pilot" and dev["kind"] == "development"
    problem(await gw.post("/projects", json={"code": code("TR"), "name": {"fi": "x"},
                                             "kind": "research"}), 422)
    r = await gw.patch(f"/projects/{dev['id']}", json={"kind": "coordination"})
    assert r.status_code == 200 and r.json()["kind"] == "coordination", r.text
    problem(await gw.patch(f"/projects/{dev['id']}", json={"kind": "big"}), 422)

    public = client_for()
    r = await public.get("/projects", params={"q": tag, "kind": "pilot", "facets": "true"})
    page = r.json()
    assert [p["id"] for p in page["items"]] == [pilot["id"]] and page["items"][0]["kind"] == "pilot"
    kinds = {f["value"]: f for f in page["facets"]["kind"]}
    assert kinds["pilot"]["count"] == 1 and kinds["coordination"]["count"] == 1
    assert kinds["pilot"]["label"] == "Kokeilu tai pilotti"
    assert "status" in page["facets"]
    problem(await public.get("/projects", params={"kind": "other"}), 422)
    r = await public.get("/projects/export", params={"q": tag, "format": "json", "lang": "en"})
    assert sorted(i["kind"] for i in r.json()["items"]) == ["Coordination project", "Pilot or trial"]

    created = await wait_events(nats_server, "project.created", pilot["id"], 1)
    assert created[0]["data"]["kind"] == "pilot"
    updated = await wait_events(nats_server, "project.updated", dev["id"], 1)
    assert updated[-1]["data"]["kind"] == "coordination"
    assert "kind" in updated[-1]["data"]["changed_fields"]


async def test_project_kind_in_bulk_import(gw):
    c1, c2 = code("IMP"), code("IMP")
    r = await gw.post("/projects/import", json=[
        {"code": c1, "name": {"fi": "Tuotu kokeilu"}, "kind": "pilot"},
        {"code": c2, "name": {"fi": "Tuotu"}}])
    assert r.status_code in (200, 201), r.text
    page = (await gw.get("/projects", params={"kind": "pilot", "limit": 200,
                                              "sort": "-updated_at"})).json()
    assert c1 in {p["code"] for p in page["items"]} and c2 not in {p["code"] for p in page["items"]}
    bad = code("IMP")
    r = await gw.post("/projects/import", params={"mode": "all_or_nothing"},
                      json=[{"code": bad, "name": {"fi": "x"}, "kind": "nonsense"}])
    assert r.status_code == 422, r.text
    assert (await gw.get("/projects", params={"q": bad})).json()["total"] == 0


async def test_joint_call_counted_under_each_theme_money_once(gw, nats_server):
    work = await new_theme(gw, budget="1000000.00")
    learning = await new_theme(gw, ministries=["OKM"])
    r = await gw.post("/calls", json={"code": code("CALL"), "name": {"fi": "Yhteishaku"},
                                      "theme_ids": [work["id"], learning["id"]],
                                      "budget": "400000.00"})
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["theme_id"] == work["id"] and call["theme_ids"] == [work["id"], learning["id"]]
    solo = (await gw.post("/calls", json={"code": code("CALL"), "name": {"fi": "Oma haku"},
                                          "theme_id": work["id"], "budget": "100000.00"})).json()
    assert solo["theme_ids"] == [work["id"]]
    for theme, amount in ((work, "150000.00"), (learning, "90000.00")):
        await new_project(gw, theme_id=theme["id"], call_id=call["id"], status="active",
                          budget=[{"source": "esf_plus", "amount": amount}])

    w = (await gw.get(f"/funding/themes/{work['id']}")).json()
    assert w["granted"] == "150000.00"
    by_id = {c["call_id"]: c for c in w["calls"]}
    assert by_id[call["id"]]["shared_with"] == [learning["id"]]
    assert by_id[call["id"]]["granted_in_theme"] == "150000.00"
    assert by_id[solo["id"]]["shared_with"] == []
    assert w["calls_budget"] == "500000.00" and w["joint_calls_budget"] == "400000.00"
    assert w["by_call"] == [{"call_id": call["id"], "granted": "150000.00",
                             "call_budget": "400000.00"}]
    lrn = (await gw.get(f"/funding/themes/{learning['id']}")).json()
    assert lrn["granted"] == "90000.00" and lrn["calls_budget"] == "400000.00"
    assert [c["shared_with"] for c in lrn["calls"]] == [[work["id"]]]
    listed = {t: (await gw.get(f"/themes/{t}/calls")).json()["items"]
              for t in (work["id"], learning["id"])}
    assert {c["id"] for c in listed[work["id"]]} == {call["id"], solo["id"]}
    assert [(c["id"], c["shared_with"]) for c in listed[learning["id"]]] == \
        [(call["id"], [work["id"]])]
    problem(await gw.get(f"/themes/{uuid.uuid4()}/calls"), 404)

    # Refusals: an unknown theme, a theme twice; nothing changes.
    body = problem(await gw.patch(f"/calls/{call['id']}", json={"theme_ids": [str(uuid.uuid4())]}),
                   422)
    assert body["errors"][0]["field"] == "body/theme_ids/0"
    problem(await gw.patch(f"/calls/{call['id']}", json={"theme_ids": [work["id"], work["id"]]}), 422)
    assert (await gw.get(f"/calls/{call['id']}")).json()["theme_ids"] == [work["id"], learning["id"]]

    # Reordered: the first theme is theme_id; the event carries both.
    r = await gw.patch(f"/calls/{call['id']}", json={"theme_ids": [learning["id"], work["id"]]})
    assert r.status_code == 200 and r.json()["theme_id"] == learning["id"], r.text
    events = await wait_events(nats_server, "call.updated", call["id"], 1)
    assert events[-1]["data"]["theme_ids"] == [learning["id"], work["id"]]
    assert set(events[-1]["data"]["changed_fields"]) == {"theme_id", "theme_ids"}
