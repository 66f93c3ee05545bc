"""Exports of organisations and good practices: CSV, XLSX, JSON contents, labels, visibility."""

from __future__ import annotations

import csv
import io
import uuid

from openpyxl import load_workbook

from tests.registry.conftest import code, new_org, problem


async def test_organisation_export_csv_xlsx_json_with_labels(gw, client_for):
    tag = uuid.uuid4().hex[:8]
    await gw.post("/organisations", json={"name": {"fi": f"=Vienti {tag}", "sv": f"Export {tag}"},
                                          "kind": "company", "sector": "private",
                                          "size_class": "micro", "region_code": "21"})
    await new_org(gw, name={"fi": f"Toinen {tag}"}, kind="association", region_code="06")
    public = client_for()
    r = await public.get("/organisations/export", params={"q": tag, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="organisations.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    by_name = {x["Nimi"]: x for x in rows}
    assert set(by_name) == {f"'=Vienti {tag}", f"Toinen {tag}"}  # formula-safe
    first = by_name[f"'=Vienti {tag}"]
    assert (first["Tyyppi"], first["Sektori"], first["Kokoluokka"], first["Maakunta"]) == \
        ("Yritys", "Yksityinen", "Mikroyritys", "Ahvenanmaa")
    assert by_name[f"Toinen {tag}"]["Tyyppi"] == "Yhdistys"

    r = await public.get("/organisations/export", params={"q": tag, "format": "xlsx", "lang": "sv",
                                                          "kind": "company"})
    values = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert values[0][:4] == ("Namn", "FO-nummer", "Typ", "Sektor")
    assert len(values) == 2
    assert values[1][0] == f"Export {tag}" and values[1][2] == "Företag" and values[1][5] == "Åland"

    r = await public.get("/organisations/export", params={"q": tag, "format": "json", "lang": "en"})
    items = r.json()["items"]
    assert sorted(i["kind"] for i in items) == ["Association", "Company"]
    assert {i["size_class"] for i in items} == {"Micro", None}


async def test_organisation_export_bad_parameters_are_422(client_for):
    public = client_for()
    for params in ({"format": "pdf"}, {"lang": "de"}, {"kind": "pirate"}, {"max_rows": 0},
                   {"region": "123"}):
        body = problem(await public.get("/organisations/export", params=params), 422)
        assert body["errors"] and body["errors"][0]["field"].startswith("query/"), body


async def test_practice_export_visibility_labels_and_formats(gw, client_for):
    lead = await new_org(gw)
    p = (await gw.post("/projects", json={"code": code("PEX"), "name": {"fi": "Alkuperä"},
                                          "organisation_id": lead["id"]})).json()
    own = client_for("implementer", lead["id"])
    pub = (await own.post("/practices", json={
        "name": {"fi": "Julkinen malli", "en": "Public model"}, "project_ids": [p["id"]],
        "kind": "service_model", "sub_themes": ["wellbeing"], "published": True})).json()
    draft = (await own.post("/practices", json={"name": {"fi": "Luonnos"},
                                                "project_ids": [p["id"]]})).json()
    assert pub["published"] and not draft["published"]

    public = client_for()
    r = await public.get("/practices/export", params={"project_id": p["id"], "format": "csv"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["Nimi"] for x in rows] == ["Julkinen malli"]  # the draft is not public
    assert rows[0]["Tyyppi"] == "Palvelumalli" and rows[0]["Kypsyys"] == "Idea"
    assert rows[0]["Alateemat"] == "Työhyvinvointi ja työssä jaksaminen"

    r = await own.get("/practices/export", params={"project_id": p["id"], "format": "xlsx",
                                                   "lang": "en"})
    values = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert values[0][:3] == ("Name", "Kind", "Maturity")
    assert sorted(v[0] for v in values[1:]) == ["Luonnos", "Public model"]  # owner sees drafts
    assert {v[1] for v in values[1:]} == {"Service model", "Good practice"}

    r = await public.get("/practices/export", params={"project_id": p["id"], "format": "json",
                                                      "lang": "sv"})
    assert [(i["id"], i["sub_themes"]) for i in r.json()["items"]] == \
        [(pub["id"], ["Välbefinnande i arbetet"])]


async def test_practice_export_bad_parameters_are_422(client_for):
    public = client_for()
    for params in ({"format": "docx"}, {"lang": "xx"}, {"maturity": "ancient"},
                   {"max_rows": 100_001}):
        body = problem(await public.get("/practices/export", params=params), 422)
        assert body["errors"][0]["field"].startswith("query/"), body
