"""Registry events into the projections; analyses: spread, well-being x productivity,
rollups, the EU report; every emitted event payload checked against its contract."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from indicators.common import period_of
from shared.contracts import indicators as ic
from shared.contracts import registry as rc
from tests.conftest import eventually, scalar
from tests.indicators.helpers import client, gender, new_project, problem, publish, uid

TODAY = dt.date.today()


async def test_registry_events_build_projections(stack, nats_server, gw):
    db, url = stack.db_urls["indicators"], nats_server.url
    org = uid()
    org_v2 = {"id": org, "version": 2, "name": {"fi": "Oy Uusi"}, "kind": "company", "region_code": "11"}
    await publish(url, rc.ORGANISATION_UPDATED, org_v2)
    await publish(url, rc.ORGANISATION_CREATED, {**org_v2, "version": 1, "name": {"fi": "Oy Vanha"},
                                                 "region_code": "06"})
    await eventually(lambda: scalar(db, "SELECT count(*) FROM inbox WHERE type=:t",
                                    t=rc.ORGANISATION_CREATED))
    await asyncio.sleep(0.5)
    assert await scalar(db, "SELECT region_code FROM organisation_projection WHERE id=:i", i=org) == "11"
    succ = uid()
    await publish(url, rc.ORGANISATION_SUCCEEDED, {"id": org, "successor_id": succ, "date": "2026-01-01"})
    await eventually(lambda: scalar(db, "SELECT successor_id=:s FROM organisation_projection WHERE id=:i",
                                    i=org, s=succ))
    # Workplace joined then left.
    p = await new_project(url, gw, org=uid(), funder=uid())
    wp = uid()
    await publish(url, rc.WORKPLACE_JOINED, {"id": wp, "project_id": p["id"], "organisation_id": org,
                                             "joined_on": "2025-01-01", "region_code": "11"})
    await publish(url, rc.WORKPLACE_LEFT, {"id": wp, "project_id": p["id"], "organisation_id": org,
                                           "left_on": "2025-06-30"})
    await eventually(lambda: scalar(db, "SELECT left_on IS NOT NULL FROM participation WHERE id=:i", i=wp))
    # Status change with a newer version moves the status; an archived project takes no reports.
    await publish(url, rc.PROJECT_STATUS_CHANGED, {"id": p["id"], "version": 2, "code": p["code"],
                                                   "from_status": "active", "to_status": "ended",
                                                   "date": "2026-01-01"})
    await eventually(lambda: scalar(db, "SELECT status='ended' FROM project_projection WHERE id=:i",
                                    i=p["id"]))
    await publish(url, rc.PROJECT_ARCHIVED, {"id": p["id"], "version": 3, "code": p["code"]})
    await eventually(lambda: scalar(db, "SELECT archived FROM project_extra WHERE id=:i", i=p["id"]))
    problem(await gw.post("/reports", json={"project_id": p["id"], "period": "2025H1"}), 409)


async def test_spread_of_practices_from_adoption_events(stack, nats_server, gw):
    db, url = stack.db_urls["indicators"], nats_server.url
    pr = uid()
    await publish(url, rc.PRACTICE_PUBLISHED, {"id": pr, "version": 1, "name": {"fi": "Työn imu -malli"},
                                               "maturity": "piloted", "published": True})
    adoptions = [("2024-03-01", "06", True, "unit"), ("2024-09-01", "06", False, "organisation"),
                 ("2025-02-01", "11", False, "regional_service")]
    first = None
    for day, region, within, scope in adoptions:
        env = await publish(url, rc.ADOPTION_RECORDED, {
            "id": uid(), "practice_id": pr, "organisation_id": uid(), "adopted_on": day,
            "scope": scope, "region_code": region, "within_origin": within})
        first = first or env
    # The same adoption again under a new message id (a re-publish): counted once.
    await publish(url, rc.ADOPTION_RECORDED, first["data"], msg_id=first["id"] + "-again")
    await eventually(lambda: scalar(db, "SELECT count(*)=3 FROM adoption WHERE practice_id=:p", p=pr))
    await asyncio.sleep(1.0)
    async with client(stack, None) as public:
        r = await public.get("/analyses/spread", params={"practice_id": pr})
        assert r.status_code == 200, r.text
        item = r.json()["items"][0]
        assert item["adoptions"] == 3 and item["organisations_reached"] == 3
        assert item["regions"] == ["06", "11"] and item["regions_reached"] == 2
        assert (item["within_origin"], item["beyond_origin"]) == (1, 2)
        assert item["by_scope"] == {"unit": 1, "organisation": 1, "regional_service": 1}
        assert item["over_time"] == [{"period": "2024", "adoptions": 2, "cumulative": 2},
                                     {"period": "2025", "adoptions": 1, "cumulative": 3}]
        assert item["name"] == {"fi": "Työn imu -malli"}
        q = (await public.get("/analyses/spread", params={"practice_id": pr, "interval": "half"})).json()
        assert [x["period"] for x in q["items"][0]["over_time"]] == ["2024H1", "2024H2", "2025H1"]
        csv = await public.get("/analyses/spread", params={"practice_id": pr, "format": "csv"})
        assert pr in csv.text
        # format=json is the operation's typed body (the contract), not a bare file of rows.
        as_json = await public.get("/analyses/spread", params={"practice_id": pr, "format": "json"})
        assert as_json.headers["content-type"].startswith("application/json")
        assert as_json.json() == r.json() and as_json.json()["total"] == 1


async def _round(gw, org, project, label, opens, closes, values):
    r = await gw.post("/surveys/rounds", json={"instrument_code": "UWES-9", "organisation_id": org,
                                               "project_id": project, "label": label,
                                               "opens_on": opens, "closes_on": closes})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    resp = [{"answers": {f"q{i}": v for i in range(1, 10)}} for v in values]
    assert (await gw.post(f"/surveys/rounds/{rid}/responses", json={"responses": resp})).status_code == 201
    assert (await gw.post(f"/surveys/rounds/{rid}/close")).status_code == 200
    return rid


async def test_wellbeing_and_productivity_together(stack, nats_server, gw):
    url = nats_server.url
    theme = uid()
    p1 = await new_project(url, gw, org=uid(), funder=uid(), theme=theme, regions=["02"])
    p2 = await new_project(url, gw, org=uid(), funder=uid(), theme=theme, regions=["02"])
    t0_close = "2025-04-30"
    t1_close = (TODAY + dt.timedelta(days=3)).isoformat()
    h0, h1 = "2025H1", period_of(TODAY + dt.timedelta(days=3), "H")
    low, high = [2, 3, 4] * 3, [3, 4, 5] * 3
    orgs = {"both": (uid(), p1, low, high, 100, 110), "wb": (uid(), p1, low, high, 100, 100.5),
            "neither": (uid(), p2, low, low, 100, 95), "small": (uid(), p2, low, high[:3], 100, 120),
            "one_round": (uid(), p2, low, None, 100, 120)}
    figures = []
    for org, project, before, after, f0, f1 in orgs.values():
        await _round(gw, org, project["id"], "T0", "2025-03-01", t0_close, before)
        if after:
            await _round(gw, org, project["id"], "T1", (TODAY - dt.timedelta(days=1)).isoformat(),
                         t1_close, after)
        figures += [{"organisation_id": org, "indicator_code": "PROD_VALUE_ADDED_FTE", "period": h,
                     "value": v} for h, v in ((h0, f0), (h1, f1))]
    r = await gw.put("/indicators/organisation-figures", json={"figures": figures})
    assert r.status_code == 200 and r.json()["stored"] == 10, r.text
    # The XLSX export holds the figures; its times (UTC instants) are ISO 8601 text with the
    # offset, since Excel has no time zones (once a 500 found by schemathesis).
    sheet = await gw.get("/indicators/organisation-figures",
                         params={"organisation_id": orgs["both"][0], "format": "xlsx"})
    assert sheet.status_code == 200, sheet.text
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("organisation_id", "indicator_code", "period", "value", "updated_at")
    assert sorted((r[2], r[3]) for r in rows[1:]) == [(h0, 100), (h1, 110)]
    assert all(dt.datetime.fromisoformat(r[4]).utcoffset() == dt.timedelta(0) for r in rows[1:])
    problem(await gw.put("/indicators/organisation-figures", json={"figures": [
        {**figures[0], "indicator_code": "PROD_TURNOVER_PCT", "value": 140}]}), 422)
    async with client(stack, "implementer", uid()) as stranger:
        problem(await stranger.put("/indicators/organisation-figures", json={"figures": figures[:1]}), 403)
    res = (await gw.get("/analyses/wellbeing-productivity", params={"group_by": "project"})).json()
    mine = {o["organisation_id"]: o["classification"] for o in res["organisations"]}
    assert mine.get(orgs["both"][0]) == "both_improved"
    assert mine.get(orgs["wb"][0]) == "wellbeing_only"
    assert mine.get(orgs["neither"][0]) == "neither"
    assert orgs["small"][0] not in mine and orgs["one_round"][0] not in mine
    assert res["thresholds"]["wellbeing_min_effect_size_d"] == 0.2
    groups = {g["project"]: g for g in res["groups"]}
    assert groups[p1["id"]]["organisations"] == 2 and groups[p1["id"]]["both_improved_share"] == 0.5
    assert groups[p2["id"]]["neither"] == 1
    # A stricter productivity threshold moves "both" to well-being only.
    strict = (await gw.get("/analyses/wellbeing-productivity",
                           params={"productivity_min_change_pct": 15})).json()
    assert {o["organisation_id"]: o["classification"] for o in strict["organisations"]}[orgs["both"][0]] \
        == "wellbeing_only"
    by_theme = (await gw.get("/analyses/wellbeing-productivity", params={"group_by": "theme"})).json()
    assert {g["theme"]: g["organisations"] for g in by_theme["groups"]}[theme] == 3
    async with client(stack, None) as public:
        pub = (await public.get("/analyses/wellbeing-productivity")).json()
        assert "organisations" not in pub and pub["groups"]
    xlsx = await gw.get("/analyses/wellbeing-productivity", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def _approve(impl, fund, project_id: str, period: str, values: list[dict]) -> None:
    r = await impl.post("/reports", json={"project_id": project_id, "period": period, "values": values})
    assert r.status_code == 201, r.text
    assert (await impl.post(f"/reports/{r.json()['id']}/submit")).status_code == 200
    assert (await fund.post(f"/reports/{r.json()['id']}/approve")).status_code == 200


async def test_rollup_progress_and_eu_report(stack, nats_server, gw):
    funder, org = uid(), uid()
    p = await new_project(nats_server.url, gw, org=org, funder=funder, regions=["21"],
                          programme="PRG-" + uid()[:4], specific_objective="ESO4.7",
                          start="2025-01-01", end="2026-12-31")
    # Same funder: one project whose event names no specific objective (an older registry).
    p_unknown = await new_project(nats_server.url, gw, org=org, funder=funder, regions=["21"],
                                  start="2025-01-01", end="2026-12-31")
    async with client(stack, "implementer", org) as impl, client(stack, "funder", funder) as fund:
        t = await impl.post("/targets", json={"project_id": p["id"], "indicator_code": "EECO01",
                                              "baseline_value": 0, "target_value": 40,
                                              "target_date": "2026-12-31"})
        assert t.status_code == 201
        for period, n, qwl in (("2025H1", 10, 60), ("2025H2", 6, 70)):
            await _approve(impl, fund, p["id"], period, [
                {"indicator_code": "EECO01", "value": n, "disaggregations": gender(n, n // 2)},
                {"indicator_code": "EECO10", "value": n - 2, "disaggregations": gender(n - 2, 1)},
                {"indicator_code": "EECO11", "value": 2, "disaggregations": gender(2, 2)},
                {"indicator_code": "QWL_INDEX", "value": qwl}])
        await _approve(impl, fund, p_unknown["id"], "2025H1", [
            {"indicator_code": "EECO01", "value": 3, "disaggregations": gender(3, 1)}])
        prog = (await impl.get("/analyses/progress", params={"project_id": p["id"]})).json()["items"][0]
        assert prog["achieved"] == 16 and prog["progress_pct"] == 40.0

        # EU report as the funder (sees exactly these two projects): by specific objective.
        async def eu(cutoff):
            r = await fund.get("/analyses/eu-report", params={"cutoff": cutoff})
            assert r.status_code == 200, r.text
            return {(i["specific_objective"], i["indicator_code"]): i for i in r.json()["items"]}

        h1 = await eu("202506")
        assert {so for so, _ in h1} == {"ESO4.7", "unknown"}
        assert (h1[("ESO4.7", "EECO01")]["total"], h1[("ESO4.7", "EECO01")]["women"],
                h1[("ESO4.7", "EECO01")]["men"]) == (10, 5, 5)
        assert (h1[("unknown", "EECO01")]["total"], h1[("unknown", "EECO01")]["women"]) == (3, 1)
        full = await eu("202512")
        assert full[("ESO4.7", "EECO01")]["total"] == 16
        assert full[("ESO4.7", "EECO10+EECO11")]["total"] == 16
        assert full[("unknown", "EECO01")]["total"] == 3
        assert not any(code == "QWL_INDEX" for _, code in full)
        csv = (await fund.get("/analyses/eu-report", params={"cutoff": "202512", "format": "csv"})).text
        header, *lines = csv.strip().splitlines()
        assert "specific_objective" in header.lstrip("\ufeff")
        assert any(line.startswith("ESO4.7,EECO01,") for line in lines), csv
        assert any(line.startswith("unknown,EECO01,") for line in lines), csv

    # A later project.updated naming the objective moves that project's figures out of "unknown".
    await publish(nats_server.url, rc.PROJECT_UPDATED, {
        **p_unknown, "version": 2, "specific_objective": "ESO4.1", "changed_fields": ["theme_id"]})
    db = stack.db_urls["indicators"]
    await eventually(lambda: scalar(db, "SELECT specific_objective='ESO4.1' FROM project_extra "
                                        "WHERE id=:i", i=p_unknown["id"]))
    async with client(stack, "funder", funder) as fund:
        moved = (await fund.get("/analyses/eu-report", params={"cutoff": "202512"})).json()["items"]
        assert {(i["specific_objective"], i["indicator_code"]): i["total"] for i in moved
                if i["indicator_code"] == "EECO01"} == {("ESO4.7", "EECO01"): 16, ("ESO4.1", "EECO01"): 3}

    async with client(stack, None) as public:
        r = await public.get("/analyses/rollup", params={"funder": funder})
        items = {(i["region"], i["indicator"], i["year"]): i for i in r.json()["items"]}
        assert items[("21", "EECO01", 2025)]["value"] == 19
        assert items[("21", "QWL_INDEX", 2025)]["value"] == 65  # an average, not a sum
        series = (await public.get("/analyses/rollup", params={
            "funder": funder, "group_by": "period", "indicator_code": "EECO01"})).json()
        assert [(i["period"], i["value"]) for i in series["items"]] == [("2025H1", 13), ("2025H2", 6)]
        err = problem(await public.get("/analyses/rollup", params={"group_by": "region,colour"}), 422)
        assert err["errors"][0]["field"] == "query/group_by"
        problem(await public.get("/analyses/eu-report", params={"cutoff": "202512"}), 401)
    problem(await gw.get("/analyses/eu-report", params={"cutoff": "202503"}), 422)
    xlsx = await gw.get("/analyses/eu-report", params={"cutoff": "202512", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


async def test_every_emitted_event_matches_its_contract(stack):
    engine = create_async_engine(stack.db_urls["indicators"])
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT type, envelope FROM outbox"))).all()
    finally:
        await engine.dispose()
    seen = set()
    for typ, envelope in rows:
        env = json.loads(envelope)
        assert env["type"] == typ and env["source"]
        ic.EVENTS[typ].model_validate(env["data"])
        seen.add(typ)
    assert {ic.REPORT_SUBMITTED, ic.REPORT_APPROVED, ic.SURVEY_ROUND_CLOSED} <= seen


@pytest.mark.parametrize("status", ["submitted", "approved"])
def test_report_event_payload_validates(status):
    from indicators.events.payloads import report_event as event_data
    from indicators.models import Report
    r = Report(id=uid(), project_id=uid(), period="2025H1", revision=1, status=status)
    data = event_data(r, ["EECO01", "EECO01", "EECO05"], "someone", None)
    model = ic.EVENTS[ic.REPORT_SUBMITTED if status == "submitted" else ic.REPORT_APPROVED]
    assert model.model_validate(data).indicator_codes == ["EECO01", "EECO05"]
    assert ic.ReportReopenedV1.model_validate({**data, "reason": "fix"}).reason == "fix"


async def test_undefined_effect_size_is_null_and_left_unclassified(stack, nats_server, gw):
    """Everyone answered alike in both rounds: every SD is 0, so Cohen's d is undefined. It
    was 4.2e15 once; now it is null in /surveys/change and the organisation is listed as
    unclassified rather than counted as improved."""
    org = uid()
    project = await new_project(nats_server.url, gw, org=org, funder=uid())
    t1_close = (TODAY + dt.timedelta(days=3)).isoformat()
    a = await _round(gw, org, project["id"], "T0", "2025-03-01", "2025-04-30", [3] * 6)
    b = await _round(gw, org, project["id"], "T1", (TODAY - dt.timedelta(days=1)).isoformat(),
                     t1_close, [4] * 6)
    ch = (await gw.get("/surveys/change", params={"from_round": a, "to_round": b})).json()
    assert ch["total"]["difference"] == 1.0 and ch["total"]["effect_size_d"] is None
    assert all(d["effect_size_d"] is None for d in ch["dimensions"].values())
    h1 = period_of(TODAY + dt.timedelta(days=3), "H")
    figures = [{"organisation_id": org, "indicator_code": "PROD_VALUE_ADDED_FTE", "period": p,
                "value": v} for p, v in (("2025H1", 100), (h1, 120))]
    assert (await gw.put("/indicators/organisation-figures", json={"figures": figures})).status_code == 200
    res = (await gw.get("/analyses/wellbeing-productivity")).json()
    assert org not in {o["organisation_id"] for o in res["organisations"]}
    flat = [o for o in res["unclassified"] if o["organisation_id"] == org]
    assert flat and flat[0]["effect_size_d"] is None and "undefined" in flat[0]["reason"]
    assert res["organisations_unclassified"] >= 1
