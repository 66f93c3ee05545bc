"""Lists (filters, search, facets, cursors), bulk import, the change feed, funding and exports."""

from __future__ import annotations

import io
import uuid

from openpyxl import load_workbook

from tests.registry.conftest import code, new_org, problem


async def _theme(gw, budget="1000.00") -> dict:
    r = await gw.post("/themes", json={"code": code("T"), "name": {"fi": "Teema"}, "budget": budget,
                                       "sub_themes": ["wellbeing"], "ministries": ["TEM", "STM"]})
    assert r.status_code == 201, r.text
    return r.json()


async def test_import_json_upserts_reports_and_is_idempotent(gw):
    org = await new_org(gw)
    tag = uuid.uuid4().hex[:6].upper()
    rows = [{"code": f"IMP-{tag}-{i}", "name": {"fi": f"Tuonti {i}"}, "organisation_id": org["id"],
             "region_codes": ["17"], "budget": [{"source": "esf_plus", "amount": "1000.50"}],
             "published": True} for i in range(50)]
    rows.append({"code": f"IMP-{tag}-bad", "name": {"fi": "x"}, "region_codes": ["03"]})
    rows.append({"code": f"IMP-{tag}-0", "name": {"fi": "kaksoiskappale"}})
    key = {"Idempotency-Key": f"k-{tag}"}
    r = await gw.post("/projects/import", json={"projects": rows}, headers=key)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["summary"] == {"created": 50, "updated": 0, "unchanged": 0, "rejected": 2}
    bad = [x for x in result["rows"] if x["result"] == "rejected"]
    assert bad[0]["row"] == 50 and bad[0]["errors"][0]["field"] == "region_codes"
    assert bad[1]["errors"][0]["type"] == "duplicate"
    # The same key and body: the first result, nothing changed.
    again = await gw.post("/projects/import", json={"projects": rows}, headers=key)
    assert again.json() == result and again.headers.get("idempotent-replay") == "true"
    # The same key with another body is refused.
    problem(await gw.post("/projects/import", json={"projects": rows[:3]}, headers=key), 422)
    listed = await gw.get("/projects", params={"implementer": org["id"], "limit": 1})
    assert listed.json()["total"] == 50
    # Upsert: an update by code; a forbidden status jump is rejected with its reason.
    r = await gw.post("/projects/import", json=[
        {"code": f"IMP-{tag}-1", "name": {"fi": "Päivitetty"}, "status": "active"},
        {"code": f"IMP-{tag}-2", "name": {"fi": "Tuonti 2"}, "status": "ended"}])
    res = r.json()
    assert [x["result"] for x in res["rows"]] == ["updated", "rejected"]
    assert res["rows"][1]["errors"][0]["type"] == "transition"
    p = (await gw.get(f"/projects/{res['rows'][0]['id']}")).json()
    assert p["name"]["fi"] == "Päivitetty" and p["status"] == "active" and p["version"] == 2
    assert p["budget_total"] == "1000.50" and p["region_codes"] == ["17"]  # untouched fields kept


async def test_import_all_or_nothing_and_csv(gw, client_for):
    tag = uuid.uuid4().hex[:6].upper()
    rows = [{"code": f"AON-{tag}-1", "name": {"fi": "a"}},
            {"code": f"AON-{tag}-2", "name": {"fi": "b"}, "start_date": "2025-02-01",
             "end_date": "2025-01-01"}]
    r = await gw.post("/projects/import", params={"mode": "all_or_nothing"}, json=rows)
    assert r.status_code == 422 and r.json()["written"] is False
    assert r.json()["rows"][0]["result"] == "created"  # would have been created
    assert (await gw.get("/projects", params={"q": f"AON-{tag}-1"})).json()["total"] == 0
    csv_body = ("code,name_fi,name_sv,region_codes,target_groups,budget_esf_plus,budget_state,published\n"
                f"CSV-{tag}-1,Työhyvinvointi Lapissa,Välbefinnande i Lappland,19;18,companies,100.25,"
                "50.25,true\n"
                f"CSV-{tag}-2,Toinen,,01,aliens,1,,true\n")
    r = await gw.post("/projects/import", content=csv_body.encode(),
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert rows[0]["result"] == "created" and rows[1]["result"] == "rejected"
    assert rows[1]["errors"][0]["field"] == "target_groups"
    p = (await gw.get(f"/projects/{rows[0]['id']}")).json()
    assert p["region_codes"] == ["18", "19"] and p["budget_total"] == "150.50"
    assert p["name"]["sv"] == "Välbefinnande i Lappland"
    # An implementer imports only its own organisation's projects.
    impl = client_for("implementer", "org-imp")
    r = await impl.post("/projects/import", json=[
        {"code": f"IMPL-{tag}", "name": {"fi": "oma"}},
        {"code": f"IMPL-{tag}-x", "name": {"fi": "vieras"}, "organisation_id": "org-other"}])
    assert [x["result"] for x in r.json()["rows"]] == ["created", "rejected"]
    problem(await client_for().post("/projects/import", json=rows), 401)
    problem(await gw.post("/projects/import", content=b"<xml/>",
                          headers={"Content-Type": "application/xml"}), 415)


async def test_filters_search_facets_and_cursor(gw, client_for):
    theme = await _theme(gw)
    tag = uuid.uuid4().hex[:6].upper()
    rows = [{"code": f"LST-{tag}-{i:02d}", "theme_id": theme["id"], "published": True,
             "name": {"fi": f"Ikäjohtaminen pk-yrityksissä {i}" if i % 2 else f"Digitaalinen työ {i}",
                      "sv": "Åldersledning" if i % 2 else "Digitalt arbete",
                      "en": "Age management" if i % 2 else "Digital work"},
             "region_codes": ["06"] if i < 6 else ["17"], "sub_themes": ["age_management"],
             "start_date": f"202{3 + i % 3}-01-01", "end_date": f"202{4 + i % 3}-12-31",
             "budget": [{"source": "esf_plus", "amount": str(1000 * (i + 1))}],
             "status": "active" if i % 3 else "planned"} for i in range(10)]
    assert (await gw.post("/projects/import", json=rows)).json()["summary"]["created"] == 10
    base = {"theme": theme["id"]}
    r = (await gw.get("/projects", params={**base, "facets": "true", "lang": "sv"})).json()
    assert r["total"] == 10
    regions = {f["value"]: (f["count"], f["label"]) for f in r["facets"]["region"]}
    assert regions == {"06": (6, "Birkaland"), "17": (4, "Norra Österbotten")}
    assert {f["value"]: f["count"] for f in r["facets"]["status"]} == {"active": 6, "planned": 4}
    # Kohesio-style facets: each facet's counts apply every filter but its own.
    r = (await gw.get("/projects", params={**base, "region": "06", "status": "active",
                                           "facets": "true"})).json()
    assert r["total"] == 4 and len(r["items"]) == 4
    counts = {k: {f["value"]: f["count"] for f in v} for k, v in r["facets"].items()}
    assert counts["region"] == {"06": 4, "17": 2}  # status=active applied, region=06 not
    assert counts["status"] == {"active": 4, "planned": 2}  # region=06 applied, status not
    assert counts["sub_theme"] == {"age_management": 4}  # both applied
    assert counts["theme"] == {theme["id"]: 4}
    r = (await gw.get("/projects", params={**base, "region": ["06", "17"], "q": "ikäjohtaminen",
                                           "facets": "true"})).json()
    counts = {k: {f["value"]: f["count"] for f in v} for k, v in r["facets"].items()}
    assert r["total"] == 5 and counts["region"] == {"06": 3, "17": 2}
    assert counts["status"] == {"active": 3, "planned": 2}
    r = (await gw.get("/projects", params={**base, "budget_min": "3000", "budget_max": "5000"})).json()
    assert sorted(p["budget_total"] for p in r["items"]) == ["3000.00", "4000.00", "5000.00"]
    r = (await gw.get("/projects", params={**base, "active_from": "2026-01-01",
                                           "active_to": "2026-06-30"})).json()
    assert r["total"] == 3 and all(p["end_date"] >= "2026-01-01" for p in r["items"])
    # Full-text search in each language, ranked.
    for q, lang in (("ikäjohtaminen", "fi"), ("åldersledning", "sv"), ("age management", "en")):
        r = (await gw.get("/projects", params={**base, "q": q, "search_lang": lang})).json()
        assert r["total"] == 5, (q, r["total"])
        assert all(p["rank"] is not None for p in r["items"])
    r = (await gw.get("/projects", params={**base, "q": "digital"})).json()
    assert r["total"] == 5 and all("Digi" in p["name"]["fi"] for p in r["items"])
    # Cursor pages cover everything once, in order, with the total on every page.
    for sort in ("code", "-budget_total", "start_date"):
        seen, cursor = [], None
        while True:
            page = (await gw.get("/projects", params={**base, "limit": 3, "sort": sort,
                                                      **({"cursor": cursor} if cursor else {})})).json()
            assert page["total"] == 10
            seen += [p["code"] for p in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(x["code"] for x in rows) and len(seen) == 10, sort
        if sort == "code":
            assert seen == sorted(seen)
    problem(await gw.get("/projects", params={"sort": "colour"}), 422)
    problem(await gw.get("/projects", params={"cursor": "!!notacursor"}), 422)


async def test_change_feed_in_commit_order(gw, client_for):
    start = (await gw.get("/changes", params={"since": 0, "limit": 1})).json()
    last = start["next_since"]
    # read to the end
    while True:
        page = (await gw.get("/changes", params={"since": last, "limit": 5000})).json()
        if not page["items"]:
            break
        last = page["next_since"]
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "syöte"}})).json()
    await gw.patch(f"/projects/{p['id']}", json={"name": {"fi": "syöte 2"}})
    await gw.post(f"/projects/{p['id']}/archive")
    feed = (await gw.get("/changes", params={"since": last})).json()
    mine = [c for c in feed["items"] if c["entity_id"] == p["id"]]
    assert [(c["action"], c["version"]) for c in mine] == [("create", 1), ("update", 2), ("archive", 3)]
    seqs = [c["seq"] for c in feed["items"]]
    assert seqs == sorted(seqs) and feed["next_since"] == seqs[-1]
    assert mine[1]["state"]["name"] == {"fi": "syöte 2"}
    # The same a page at a time by next_cursor (null once a page is not full).
    one = (await gw.get("/changes", params={"since": last, "limit": 2})).json()
    two = (await gw.get("/changes", params={"cursor": one["next_cursor"], "limit": 2})).json()
    assert one["items"] + two["items"] == feed["items"][:4] and two["next_since"] == seqs[:4][-1]
    assert feed["next_cursor"] is None
    problem(await gw.get("/changes", params={"cursor": "WyJ4Il0"}), 422)
    # Unpublished changes are not in another organisation's feed; anonymous callers get 401.
    other = (await client_for("implementer", "org-feed").get("/changes", params={"since": last})).json()
    assert p["id"] not in {c["entity_id"] for c in other["items"]}
    problem(await client_for().get("/changes"), 401)


async def test_funding_overview_by_region_funder_and_call(gw):
    theme = await _theme(gw, budget="27700000.00")
    funder = await new_org(gw, kind="funding_authority")
    call = (await gw.post("/calls", json={"code": code("C"), "name": {"fi": "Haku 1"},
                                          "theme_id": theme["id"], "budget": "500.00",
                                          "open_date": "2024-01-01", "close_date": "2024-03-01"})).json()
    problem(await gw.post("/calls", json={"code": code("C"), "name": {"fi": "x"},
                                          "open_date": "2024-03-01", "close_date": "2024-01-01"}), 422)
    for i, (regions, amount) in enumerate([(["01", "06"], "100.01"), (["06"], "200.00")]):
        r = await gw.post("/projects", json={
            "code": code(), "name": {"fi": f"R{i}"}, "theme_id": theme["id"], "call_id": call["id"],
            "funder_id": funder["id"], "region_codes": regions,
            "budget": [{"source": "esf_plus", "amount": amount}]})
        assert r.status_code == 201, r.text
    r = (await gw.get(f"/funding/themes/{theme['id']}")).json()
    assert r["budget_frame"] == "27700000.00" and r["granted"] == "300.01"
    assert r["remaining"] == "27699699.99"
    assert {x["region_code"]: x["granted"] for x in r["by_region"]} == {"01": "50.01", "06": "250.00"}
    assert r["by_funder"] == [{"funder_id": funder["id"], "granted": "300.01"}]
    assert r["by_call"] == [{"call_id": call["id"], "granted": "300.01", "call_budget": "500.00"}]


async def test_exports_csv_xlsx_json(gw):
    theme = await _theme(gw)
    await gw.post("/projects", json={"code": code("EXP"), "name": {"fi": "=Vienti", "en": "Export"},
                                     "theme_id": theme["id"], "region_codes": ["21"],
                                     "target_groups": ["municipalities"]})
    r = await gw.get("/projects/export", params={"theme": theme["id"], "format": "xlsx", "lang": "en"})
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    values = list(ws.values)
    assert values[0][:3] == ("Project code", "Name", "Status")
    assert values[1][1] == "Export" and values[1][2] == "Planned" and values[1][5] == "Åland"
    r = await gw.get("/projects/export", params={"theme": theme["id"], "format": "csv"})
    assert "'=Vienti" in r.text and "Kunnat" in r.text  # formula-safe; labels in Finnish
    r = await gw.get("/projects/export", params={"theme": theme["id"], "format": "json"})
    assert r.json()["items"][0]["regions"] == ["Ahvenanmaa"]


async def test_practices_maturity_adoptions_and_workplaces(gw, client_for):
    lead, company = await new_org(gw), await new_org(gw, size_class="micro", region_code="12")
    p = (await gw.post("/projects", json={"code": code(), "name": {"fi": "Alkuperä"},
                                          "organisation_id": lead["id"], "start_date": "2025-01-01",
                                          "end_date": "2026-12-31"})).json()
    problem(await gw.post(f"/projects/{p['id']}/workplaces",
                          json={"organisation_id": company["id"], "joined_on": "2024-01-01"}), 422)
    w = (await gw.post(f"/projects/{p['id']}/workplaces",
                       json={"organisation_id": company["id"], "joined_on": "2025-03-01"})).json()
    problem(await gw.post(f"/projects/{p['id']}/workplaces",
                          json={"organisation_id": company["id"], "joined_on": "2025-04-01"}), 409)
    problem(await gw.post(f"/projects/{p['id']}/workplaces/{w['id']}/leave",
                          json={"left_on": "2025-01-01"}), 422)
    # The workplaces a page at a time, in joining order; the whole list by default.
    later = await new_org(gw, size_class="small")
    w2 = (await gw.post(f"/projects/{p['id']}/workplaces",
                        json={"organisation_id": later["id"], "joined_on": "2025-05-01"})).json()
    page1 = (await gw.get(f"/projects/{p['id']}/workplaces", params={"limit": 1})).json()
    page2 = (await gw.get(f"/projects/{p['id']}/workplaces",
                          params={"limit": 1, "cursor": page1["next_cursor"]})).json()
    assert [x["id"] for x in page1["items"] + page2["items"]] == [w["id"], w2["id"]]
    assert (page1["total"], page2["next_cursor"]) == (2, None)
    whole = (await gw.get(f"/projects/{p['id']}/workplaces")).json()
    assert [x["organisation_id"] for x in whole["items"]] == [company["id"], later["id"]]
    assert whole["items"][0] == {"id": w["id"], "project_id": p["id"],
                                 "organisation_id": company["id"], "joined_on": "2025-03-01",
                                 "left_on": None}
    own = client_for("implementer", lead["id"])
    pr = (await own.post("/practices", json={"name": {"fi": "Työhyvinvointimalli"},
                                             "project_ids": [p["id"]], "kind": "service_model"})).json()
    assert pr["organisation_id"] == lead["id"] and pr["maturity"] == "idea"
    problem(await client_for().get(f"/practices/{pr['id']}"), 404)  # not published yet
    err = problem(await own.patch(f"/practices/{pr['id']}", json={"maturity": "evaluated"}), 422)
    assert err["errors"][0]["field"] == "body/evidence"
    r = await own.patch(f"/practices/{pr['id']}", json={
        "maturity": "evaluated", "published": True,
        "evidence": [{"link": "https://example.fi/arviointi", "description": "loppuarviointi"}]})
    assert r.status_code == 200 and r.json()["maturity"] == "evaluated", r.text
    problem(await own.patch(f"/practices/{pr['id']}", json={"maturity": "piloted"}), 422)
    problem(await client_for("implementer", "stranger").patch(
        f"/practices/{pr['id']}", json={"name": {"fi": "x"}}), 403)
    assert (await client_for().get(f"/practices/{pr['id']}")).status_code == 200
    a = await gw.post(f"/practices/{pr['id']}/adoptions", json={
        "organisation_id": company["id"], "adopted_on": "2026-02-01", "scope": "organisation"})
    assert a.status_code == 201 and a.json()["within_origin"] is True  # a workplace of the project
    assert a.json()["region_code"] == "12"
    problem(await gw.post(f"/practices/{pr['id']}/adoptions", json={
        "organisation_id": company["id"], "adopted_on": "2026-02-01", "scope": "everywhere"}), 422)
    listed = (await client_for().get("/adoptions", params={"practice_id": pr["id"]})).json()
    assert listed["total"] == 1 and listed["items"][0]["scope"] == "organisation"


async def test_reference_endpoints_are_public(client_for):
    anon = client_for()
    regions = (await anon.get("/reference/regions")).json()["items"]
    assert {"code": "17", "fi": "Pohjois-Pohjanmaa", "sv": "Norra Österbotten",
            "en": "North Ostrobothnia"} in regions
    auth = (await anon.get("/reference/funding-authorities")).json()["items"]
    assert any(a["fi"] == "Pohjois-Suomen elinvoimakeskus" and a["regions"] == ["17", "18", "19"]
               for a in auth)
    assert len((await anon.get("/reference/sub_themes")).json()["items"]) >= 10
    problem(await anon.get("/reference/nonsense"), 404)


async def test_list_follows_every_write_partners_text_visibility(gw, client_for):
    """The list reads a search table on PostgreSQL, kept by triggers: every kind of write
    (create, partner change, text change, unpublish, archive, import) shows at once."""
    a, b = await new_org(gw), await new_org(gw)
    tag = uuid.uuid4().hex[:8]
    p = (await gw.post("/projects", json={
        "code": code("SYNC"), "name": {"fi": f"Kumppanuus{tag}"}, "published": True,
        "partners": [{"organisation_id": a["id"], "role": "co_implementer"}]})).json()
    public = client_for()

    async def ids(**params) -> list[str]:
        r = await public.get("/projects", params={"facets": "true", **params})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids(partner=a["id"]) == [p["id"]]
    r = (await public.get("/projects", params={"q": f"kumppanuus{tag}", "facets": "true"})).json()
    assert [x["id"] for x in r["items"]] == [p["id"]] and r["total"] == 1
    assert r["facets"]["partner"] == [{"value": a["id"], "count": 1, "label": a["name"]["fi"]}]
    await gw.patch(f"/projects/{p['id']}", json={
        "partners": [{"organisation_id": b["id"], "role": "co_implementer"}],
        "name": {"fi": f"Yhteistyö{tag}"}})
    assert await ids(partner=a["id"]) == [] and await ids(partner=b["id"]) == [p["id"]]
    assert await ids(q=f"kumppanuus{tag}") == [] and await ids(q=f"yhteistyö{tag}") == [p["id"]]
    await gw.patch(f"/projects/{p['id']}", json={"published": False})
    assert await ids(partner=b["id"]) == []  # public: published only
    assert [x["id"] for x in (await gw.get("/projects", params={"partner": b["id"]})).json()[
        "items"]] == [p["id"]]  # a coordinator still sees it
    await gw.post(f"/projects/{p['id']}/archive")
    assert (await gw.get("/projects", params={"partner": b["id"]})).json()["items"] == []
    rows = [{"code": f"SYNC-{tag}-{i}", "name": {"fi": f"Tuotu{tag}"}, "published": True,
             "partners": [{"organisation_id": a["id"], "role": "co_implementer"}]}
            for i in range(3)]
    assert (await gw.post("/projects/import", json=rows)).json()["summary"]["created"] == 3
    r = (await public.get("/projects", params={"q": f"tuotu{tag}", "partner": a["id"],
                                               "facets": "true"})).json()
    assert r["total"] == 3 and sorted(x["code"] for x in r["items"]) == [x["code"] for x in rows]


async def test_hostile_search_text_is_answered_not_a_500(gw):
    """Quotes, operators, stop words only, phrases, emoji, 300 letters: a list or a 422, never a
    server error, on either database's search path; the same words ranked alike twice."""
    from tests.registry.test_text_index import HOSTILE

    theme = await _theme(gw)
    tag = uuid.uuid4().hex[:6].upper()
    rows = [{"code": f"HOS-{tag}-{i}", "theme_id": theme["id"], "published": True,
             "name": {"fi": f"Työhyvinvointi pk-yrityksissä {i}", "en": "Digital work o'neil"}}
            for i in range(3)]
    assert (await gw.post("/projects/import", json=rows)).json()["summary"]["created"] == 3
    for q in [*HOSTILE, "työhyvinvointi", "digital work"]:
        for params in ({}, {"search_lang": "en", "sort": "-rank", "facets": "true"}):
            r = await gw.get("/projects", params={"q": q, "theme": theme["id"], **params})
            assert r.status_code in (200, 422), (q, r.status_code, r.text)
            if r.status_code == 422:
                assert r.headers["content-type"].startswith("application/problem+json")
                continue
            again = await gw.get("/projects", params={"q": q, "theme": theme["id"], **params})
            assert again.json()["items"] == r.json()["items"]
    found = (await gw.get("/projects", params={"q": "työhyvinvointi", "theme": theme["id"],
                                              "sort": "-rank"})).json()
    assert found["total"] == 3 and all(p["rank"] > 0 for p in found["items"])
