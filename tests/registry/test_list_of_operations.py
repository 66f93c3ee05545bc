"""The EU list of operations (CPR Article 49(3)) and the fields it needs: co_financing_rate and
intervention_type through create, patch, read, import, export, events and history; the public
export read back (CSV, XLSX) field by field in fi, sv and en; drafts and archived projects left
out; code labels in the JSON read; every code list at /reference/code-lists."""

from __future__ import annotations

import csv
import io
import uuid

from openpyxl import load_workbook

from tests.registry.conftest import code, new_org, problem
from tests.registry.test_theme_record import wait_events

HEADINGS = {
    "fi": ["Toimen tunnus (hankenumero)", "Tuensaaja", "Toimen nimi",
           "Toimen tarkoitus ja odotetut tai toteutuneet tulokset", "Alkamispäivä",
           "Odotettu tai toteutunut päättymispäivä", "Kokonaiskustannukset (EUR)", "Rahasto",
           "Erityistavoite", "EU:n osarahoitusosuus (%)", "Sijainti", "Maa", "Toimenpidetyyppi",
           "Viimeisin päivitys"],
    "sv": ["Insatsens kod (projektnummer)", "Stödmottagare", "Insatsens namn",
           "Insatsens syfte och förväntade eller faktiska resultat", "Startdatum",
           "Förväntat eller faktiskt slutdatum", "Totala kostnader (EUR)", "Fond", "Specifikt mål",
           "Unionens medfinansieringsandel (%)", "Plats", "Land", "Typ av åtgärd",
           "Senaste uppdatering"],
    "en": ["Operation code", "Beneficiary", "Name of the operation",
           "Purpose of the operation and its expected or actual achievements", "Start date",
           "Expected or actual end date", "Total cost (EUR)", "Fund", "Specific objective",
           "Union co-financing rate (%)", "Location", "Country", "Type of intervention",
           "Date of last update"],
}


async def _world(gw, client_for):
    """A theme (ESO4.7), a lead organisation named in three languages, and three projects of
    it: one public, one draft, one public and then archived."""
    tag = uuid.uuid4().hex[:8]
    theme = (await gw.post("/themes", json={"code": code("LOT"), "name": {"fi": "Teema"},
                                            "specific_objective": "ESO4.7"})).json()
    lead = await new_org(gw, name={"fi": f"Toteuttaja {tag}", "sv": f"Genomförare {tag}",
                                   "en": f"Implementer {tag}"})
    public = {"code": code("LOP"), "name": {"fi": f"Hanke {tag}", "sv": f"Projekt {tag}",
                                             "en": f"Project {tag}"},
              "goals": {"fi": "Parempi työelämä", "sv": "Bättre arbetsliv", "en": "Better work"},
              "organisation_id": lead["id"], "theme_id": theme["id"],
              "start_date": "2024-03-01", "end_date": "2026-08-31", "region_codes": ["06", "02"],
              "budget": [{"source": "esf_plus", "amount": "120000.50"},
                         {"source": "state", "amount": "30000"}],
              "co_financing_rate": "60", "intervention_type": "146", "published": True,
              "contact_persons": [{"name": "Maija Meikäläinen", "email": "maija@example.fi"}]}
    r = await gw.post("/projects", json=public)
    assert r.status_code == 201, r.text
    draft = (await gw.post("/projects", json={"code": code("LOD"), "name": {"fi": f"Luonnos {tag}"},
                                              "organisation_id": lead["id"],
                                              "intervention_type": "144"})).json()
    gone = (await gw.post("/projects", json={"code": code("LOA"), "name": {"fi": f"Arkisto {tag}"},
                                             "organisation_id": lead["id"],
                                             "published": True})).json()
    assert (await gw.post(f"/projects/{gone['id']}/archive")).status_code == 200
    return tag, theme, lead, r.json(), draft, gone


def _csv(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


async def test_list_of_operations_csv_and_xlsx_field_by_field(gw, client_for):
    tag, _theme, lead, p, draft, gone = await _world(gw, client_for)
    anyone = client_for()  # no token: the list is public
    expected = {
        "fi": [p["code"], f"Toteuttaja {tag}", f"Hanke {tag}", "Parempi työelämä", "2024-03-01",
               "2026-08-31", "150000.50", "Euroopan sosiaalirahasto plus (ESR+)",
               "ESO4.7 Uutta osaamista työelämään", "60.00", "Varsinais-Suomi, Pirkanmaa", "FI",
               "146 Työntekijöiden, yritysten ja yrittäjien muutokseen sopeutumisen tukeminen"],
        "sv": [p["code"], f"Genomförare {tag}", f"Projekt {tag}", "Bättre arbetsliv", "2024-03-01",
               "2026-08-31", "150000.50", "Europeiska socialfonden+ (ESF+)",
               "ESO4.7 Ny kompetens för arbetslivet", "60.00", "Egentliga Finland, Birkaland", "FI",
               "146 Stöd för arbetstagares, företags och företagares anpassning till förändringar"],
        "en": [p["code"], f"Implementer {tag}", f"Project {tag}", "Better work", "2024-03-01",
               "2026-08-31", "150000.50", "European Social Fund Plus (ESF+)",
               "ESO4.7 New competence to working life", "60.00", "Southwest Finland, Pirkanmaa",
               "FI", "146 Support for adaptation of workers, enterprises and entrepreneurs to change"],
    }
    for lang in ("fi", "sv", "en"):
        r = await anyone.get("/operations/export", params={"format": "csv", "lang": lang})
        assert f'filename="list-of-operations-{lang}.csv"' in r.headers["content-disposition"]
        rows = _csv(r)
        assert list(rows[0]) == HEADINGS[lang]
        by_code = {x[HEADINGS[lang][0]]: x for x in rows}
        assert draft["code"] not in by_code and gone["code"] not in by_code
        got = by_code[p["code"]]
        assert [got[h] for h in HEADINGS[lang][:-1]] == expected[lang]
        # The list's date: the latest change of any project listed (every row carries it).
        assert {x[HEADINGS[lang][-1]] for x in rows} == {max(x[HEADINGS[lang][-1]] for x in rows)}
        assert got[HEADINGS[lang][-1]] >= p["updated_at"][:10]
        # Natural persons are never named.
        assert "Maija" not in r.text and "maija@" not in r.text

        r = await anyone.get("/operations/export", params={"format": "xlsx", "lang": lang})
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/vnd.openxmlformats")
        values = list(load_workbook(io.BytesIO(r.content)).active.values)
        assert list(values[0]) == HEADINGS[lang]
        xrows = {v[0]: v for v in values[1:]}
        assert draft["code"] not in xrows and gone["code"] not in xrows
        assert list(xrows[p["code"]][:-1]) == expected[lang]
        assert len(values) - 1 == len(rows)

    # The headings and what was verified are data: the reference endpoint serves the same.
    ref = (await anyone.get("/reference/list-of-operations")).json()
    assert [f["en"] for f in ref["fields"]] == HEADINGS["en"]
    assert all(isinstance(f["verified"], bool) and f["reason"] for f in ref["fields"])
    assert {f["key"]: f["verified"] for f in ref["fields"]}["last_updated"] is False

    # Published later: it appears; the draft's own owner still does not make it public.
    owner = client_for("implementer", lead["id"])
    r = await owner.patch(f"/projects/{draft['id']}", json={"published": True})
    assert r.status_code == 200, r.text
    codes = {x["Operation code"] for x in _csv(await anyone.get(
        "/operations/export", params={"lang": "en"}))}
    assert draft["code"] in codes and gone["code"] not in codes


async def test_list_of_operations_bad_parameters_are_422(client_for):
    anyone = client_for()
    for params in ({"format": "json"}, {"format": "pdf"}, {"lang": "de"}):
        body = problem(await anyone.get("/operations/export", params=params), 422)
        assert body["errors"][0]["field"].startswith("query/"), body


async def test_new_fields_create_patch_read_labels_history_events(gw, client_for, nats_server):
    lead = await new_org(gw)
    theme = (await gw.post("/themes", json={"code": code("LOT"), "name": {"fi": "Teema"},
                                            "specific_objective": "ESO4.7"})).json()
    r = await gw.post("/projects", json={"code": code("NF"), "name": {"fi": "Uusi"},
                                         "organisation_id": lead["id"], "theme_id": theme["id"],
                                         "co_financing_rate": 12.5, "intervention_type": "144",
                                         "region_codes": ["06"], "target_groups": ["employees"],
                                         "published": True})
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["co_financing_rate"], p["intervention_type"]) == ("12.50", "144")
    assert p["labels"]["intervention_type"].startswith("Terveellinen")  # fi by default

    public = client_for()
    read = (await public.get(f"/projects/{p['id']}", params={"lang": "sv"})).json()
    assert (read["co_financing_rate"], read["intervention_type"]) == ("12.50", "144")
    assert read["status"] == "planned" and read["region_codes"] == ["06"]  # codes stay
    assert read["labels"] == {
        "status": "Planerat", "kind": "Utvecklingsprojekt", "region_codes": ["Birkaland"],
        "target_groups": ["Arbetstagare"], "sub_themes": [],
        "intervention_type": "Åtgärder för en sund och väl anpassad arbetsmiljö som motverkar "
                             "hälsorisker",
        "specific_objective": "Ny kompetens för arbetslivet"}
    en = (await public.get(f"/projects/{p['id']}", params={"lang": "en"})).json()
    assert en["labels"]["status"] == "Planned"
    problem(await public.get(f"/projects/{p['id']}", params={"lang": "de"}), 422)

    r = await gw.patch(f"/projects/{p['id']}", json={"co_financing_rate": "70.25",
                                                     "intervention_type": "147"})
    assert r.status_code == 200, r.text
    assert (r.json()["co_financing_rate"], r.json()["intervention_type"]) == ("70.25", "147")
    history = (await gw.get(f"/projects/{p['id']}/history")).json()["items"]
    assert history[0]["after"]["co_financing_rate"] == "12.50"
    assert history[-1]["before"] == {"co_financing_rate": "12.50", "intervention_type": "144"}
    assert history[-1]["after"] == {"co_financing_rate": "70.25", "intervention_type": "147"}

    created = await wait_events(nats_server, "project.created", p["id"], 1)
    assert (created[0]["data"]["co_financing_rate"], created[0]["data"]["intervention_type"]) == \
        ("12.50", "144")
    updated = await wait_events(nats_server, "project.updated", p["id"], 1)
    assert (updated[-1]["data"]["co_financing_rate"], updated[-1]["data"]["intervention_type"]) \
        == ("70.25", "147")
    assert set(updated[-1]["data"]["changed_fields"]) == {"co_financing_rate", "intervention_type"}

    # Cleared with null.
    r = await gw.patch(f"/projects/{p['id']}", json={"co_financing_rate": None})
    assert r.status_code == 200 and r.json()["co_financing_rate"] is None


async def test_bad_rate_or_unknown_intervention_code_is_422_and_writes_nothing(gw):
    lead = await new_org(gw)
    for bad, field in ((100.01, "co_financing_rate"), (-1, "co_financing_rate"),
                       ("12.345", "co_financing_rate"), ("lots", "co_financing_rate"),
                       (True, "co_financing_rate"), ("999", "intervention_type"),
                       ("x" * 500, "intervention_type"), (146, "intervention_type")):
        c = code("BAD")
        body = problem(await gw.post("/projects", json={
            "code": c, "name": {"fi": "x"}, "organisation_id": lead["id"], field: bad}), 422)
        assert any(e["field"] == f"body/{field}" for e in body["errors"]), (bad, body)
        assert (await gw.get("/projects", params={"q": c})).json()["total"] == 0
    p = (await gw.post("/projects", json={"code": code("BAD"), "name": {"fi": "x"},
                                          "co_financing_rate": "50"})).json()
    for patch in ({"co_financing_rate": 101}, {"intervention_type": "000"}):
        problem(await gw.patch(f"/projects/{p['id']}", json=patch), 422)
    after = (await gw.get(f"/projects/{p['id']}")).json()
    assert (after["version"], after["co_financing_rate"], after["intervention_type"]) == \
        (1, "50.00", None)
    # The import checks them the same way, row by row.
    good, bad = code("IMPLO"), code("IMPLO")
    r = await gw.post("/projects/import", json=[
        {"code": good, "name": {"fi": "a"}, "co_financing_rate": "40", "intervention_type": "146"},
        {"code": bad, "name": {"fi": "b"}, "intervention_type": "999"}])
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["rows"]] == ["created", "rejected"]
    assert r.json()["rows"][1]["errors"][0]["field"] == "intervention_type"
    found = (await gw.get("/projects", params={"q": good})).json()["items"]
    read = (await gw.get(f"/projects/{found[0]['id']}")).json()
    assert (read["co_financing_rate"], read["intervention_type"]) == ("40.00", "146")
    assert (await gw.get("/projects", params={"q": bad})).json()["total"] == 0
    # CSV import too.
    c = code("IMPCSV")
    r = await gw.post("/projects/import", content=(
        f"code,name_fi,co_financing_rate,intervention_type\n{c},Csv,33.3,143\n").encode(),
        headers={"content-type": "text/csv"})
    assert r.json()["rows"][0]["result"] == "created", r.text
    read = (await gw.get(f"/projects/{r.json()['rows'][0]['id']}")).json()
    assert (read["co_financing_rate"], read["intervention_type"]) == ("33.30", "143")


async def test_project_export_names_organisations_and_labels_new_fields(gw, client_for):
    tag = uuid.uuid4().hex[:8]
    lead = await new_org(gw, name={"fi": f"Vetäjä {tag}", "en": f"Lead {tag}"})
    funder = await new_org(gw, name={"fi": f"Rahoittaja {tag}"}, kind="funding_authority")
    p = (await gw.post("/projects", json={
        "code": code("ONX"), "name": {"fi": f"Nimetty {tag}"}, "organisation_id": lead["id"],
        "funder_id": funder["id"], "co_financing_rate": "60", "intervention_type": "146",
        "published": True})).json()
    public = client_for()
    rows = _csv(await public.get("/projects/export", params={"q": tag, "format": "csv"}))
    assert len(rows) == 1
    row = rows[0]
    assert (row["Toteuttaja"], row["Rahoittaja"]) == (f"Vetäjä {tag}", f"Rahoittaja {tag}")
    assert (row["Toteuttajan tunniste"], row["Rahoittajan tunniste"]) == (lead["id"], funder["id"])
    assert row["EU:n osarahoitusosuus (%)"] == "60.00"
    assert row["Toimenpidetyyppi"].startswith("146 Työntekijöiden")
    r = await public.get("/projects/export", params={"q": tag, "format": "xlsx", "lang": "en"})
    values = list(load_workbook(io.BytesIO(r.content)).active.values)
    head = list(values[0])
    got = dict(zip(head, values[1], strict=True))
    assert (got["Implementer"], got["Implementer ID"], got["Funder"]) == \
        (f"Lead {tag}", lead["id"], f"Rahoittaja {tag}")  # Finnish when no English name
    items = (await public.get("/projects/export", params={"q": tag, "format": "json",
                                                          "lang": "sv"})).json()["items"]
    assert (items[0]["organisation"], items[0]["organisation_id"], items[0]["code"]) == \
        (f"Vetäjä {tag}", lead["id"], p["code"])


async def test_organisation_and_practice_exports_name_organisations(gw, client_for):
    tag = uuid.uuid4().hex[:8]
    old = await new_org(gw, name={"fi": f"Vanha {tag}"})
    new = await new_org(gw, name={"fi": f"Uusi {tag}", "sv": f"Ny {tag}"})
    r = await gw.post(f"/organisations/{old['id']}/succession",
                      json={"successor_id": new["id"], "date": "2026-01-01"})
    assert r.status_code == 200, r.text
    rows = _csv(await client_for().get("/organisations/export", params={"q": f"Vanha {tag}"}))
    assert [(x["Nimi"], x["Seuraaja"], x["Seuraajan tunniste"]) for x in rows] == \
        [(f"Vanha {tag}", f"Uusi {tag}", new["id"])]

    p = (await gw.post("/projects", json={"code": code("PRN"), "name": {"fi": "Alku"},
                                          "organisation_id": new["id"]})).json()
    owner = client_for("implementer", new["id"])
    r = await owner.post("/practices", json={"name": {"fi": f"Malli {tag}"},
                                             "project_ids": [p["id"]], "published": True})
    assert r.status_code == 201, r.text
    rows = _csv(await client_for().get("/practices/export", params={"project_id": p["id"],
                                                                      "lang": "sv"}))
    assert [(x["Namn"], x["Ägare"], x["Ägarens identifierare"]) for x in rows] == \
        [(f"Malli {tag}", f"Ny {tag}", new["id"])]


async def test_every_code_list_with_labels(client_for):
    anyone = client_for()
    lists = {x["name"]: x["items"] for x in (await anyone.get("/reference/code-lists")).json()["items"]}
    for name in ("regions", "strategies", "target_groups", "sub_themes", "specific_objectives",
                 "organisation_kinds", "statuses", "budget_sources", "project_kinds", "ministries",
                 "intervention_types", "organisation_sectors", "organisation_size_classes",
                 "practice_kinds", "practice_maturities", "output_kinds", "lesson_topics",
                 "overlap_reason_kinds"):
        assert lists[name], name
        assert all(i["code"] and i["fi"] and i["sv"] and i["en"] for i in lists[name]
                   if name != "strategies"), name
    assert all(i["verified"] is False for i in lists["intervention_types"])
    assert {"144", "146", "147"} <= {i["code"] for i in lists["intervention_types"]}
    one = (await anyone.get("/reference/intervention_types")).json()["items"]
    assert one == lists["intervention_types"]
    problem(await anyone.get("/reference/nonsense"), 404)
