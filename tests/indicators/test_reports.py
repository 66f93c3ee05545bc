"""Targets and reported values: workflow, revisions, validation, access, rollup, events."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared.contracts import indicators as ic
from tests.conftest import eventually, scalar
from tests.indicators.helpers import client, gender, new_project, problem, uid

ORG, FUNDER, OTHER = uid(), uid(), uid()


@pytest.fixture(scope="module")
async def project(stack, nats_server):
    async with client(stack, "admin") as admin:
        return await new_project(nats_server.url, admin, org=ORG, funder=FUNDER,
                                 start="2024-01-01", end="2025-12-31", regions=["06", "11"],
                                 theme="theme-1", programme="prog-1")


@pytest.fixture
async def impl(stack):
    async with client(stack, "implementer", ORG) as c:
        yield c


@pytest.fixture
async def funder(stack):
    async with client(stack, "funder", FUNDER) as c:
        yield c


def values_ok():
    return [{"indicator_code": "EECO01", "value": 10, "disaggregations": gender(10, 6)},
            {"indicator_code": "EECO05", "value": 8, "disaggregations": gender(8, 5)},
            {"indicator_code": "EECO19", "value": 3}]


async def test_catalogue_ships_esf_and_wellbeing_indicators(gw):
    r = await gw.get("/indicators/definitions")
    codes = {d["code"] for d in r.json()["items"]}
    assert {f"EECO{i:02d}" for i in range(1, 20)} <= codes
    assert {"EECR01", "EECR02", "EECR03", "EECR04", "QWL_INDEX", "UWES_TOTAL", "UWES_VIGOR",
            "PROD_VALUE_ADDED_FTE", "PROD_TURNOVER_PCT", "DISS_ADOPTIONS"} <= codes
    qwl = (await gw.get("/indicators/definitions/QWL_INDEX")).json()["current"]
    assert qwl["min_value"] == 1 and qwl["max_value"] == 100
    assert [b["code"] for b in qwl["bands"]][0] == "very_much_to_develop"
    comp = (await gw.get("/indicators/definitions/EECO10+EECO11")).json()["current"]
    assert comp["parts"] == ["EECO10", "EECO11"]
    csv = await gw.get("/indicators/definitions", params={"format": "csv", "family": "esf_result"})
    assert csv.status_code == 200 and "EECR03" in csv.text and "EECO01" not in csv.text


async def test_coordinator_adds_custom_indicator_and_versions_it(stack):
    code = "TYO2030_" + uid()[:6].upper()
    async with client(stack, "coordinator") as coord, client(stack, "implementer", ORG) as impl:
        body = {"code": code, "name": {"fi": "Työ2030-mittari"}, "family": "programme_specific",
                "measure": "score", "aggregation": "average", "min_value": 0, "max_value": 10,
                "valid_from": "2024-01-01"}
        problem(await impl.post("/indicators/definitions", json=body), 403)
        r = await coord.post("/indicators/definitions", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 1
        problem(await coord.post("/indicators/definitions", json=body), 409)
        r = await coord.post("/indicators/definitions", json={**body, "max_value": 5,
                                                              "valid_from": "2025-01-01"})
        assert r.status_code == 201 and r.json()["version"] == 2
        hist = (await coord.get(f"/indicators/definitions/{code}")).json()
        assert [v["valid_to"] for v in hist["versions"]] == ["2024-12-31", None]
        assert hist["current"]["max_value"] == 5
        err = problem(await coord.post("/indicators/definitions", json={
            **body, "code": code + "X", "family": "esf_output"}), 422)
        assert err["errors"][0]["field"] == "body/family"
        problem(await coord.post("/indicators/definitions", json={**body, "code": code + "Y",
                                                                   "min_value": 5, "max_value": 1}), 422)


async def test_full_workflow_with_revisions_rollup_and_events(stack, project, impl, funder, gw):
    pid = project["id"]
    t = await impl.post("/targets", json={"project_id": pid, "indicator_code": "EECO01",
                                          "baseline_value": 0, "baseline_date": "2024-01-01",
                                          "target_value": 25, "target_date": "2025-12-31"})
    assert t.status_code == 201, t.text
    r = await impl.post("/reports", json={"project_id": pid, "period": "2024H1", "values": values_ok()})
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["status"] == "draft" and rep["revision"] == 1
    assert rep["period_start"] == "2024-01-01" and rep["period_end"] == "2024-06-30"
    # A second report for the same period is a conflict.
    problem(await impl.post("/reports", json={"project_id": pid, "period": "2024H1", "values": []}), 409)
    # The funder cannot submit, the implementer cannot approve a draft or its own report.
    problem(await funder.post(f"/reports/{rep['id']}/submit"), 403)
    problem(await impl.post(f"/reports/{rep['id']}/approve"), 403)
    # Drafts change; the new values replace the old.
    vals = values_ok()
    vals[0] = {"indicator_code": "EECO01", "value": 12, "disaggregations": gender(12, 7)}
    r = await impl.put(f"/reports/{rep['id']}/values", json={"values": vals})
    assert r.status_code == 200 and r.json()["values"][0]["value"] == 12
    r = await impl.post(f"/reports/{rep['id']}/submit")
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    problem(await impl.put(f"/reports/{rep['id']}/values", json={"values": vals}), 409)
    problem(await impl.post(f"/reports/{rep['id']}/approve"), 403)
    r = await funder.post(f"/reports/{rep['id']}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    db = stack.db_urls["indicators"]
    # Rollup updated in the approving transaction: one row per region of the project.
    assert await scalar(db, "SELECT sum(total) FROM rollup WHERE indicator_code='EECO01' "
                            "AND funder_id=:f", f=FUNDER) == 24.0
    # Reopen needs a reason; it keeps revision 1 and returns revision 2 as a draft.
    problem(await funder.post(f"/reports/{rep['id']}/reopen", json={}), 422)
    problem(await impl.post(f"/reports/{rep['id']}/reopen", json={"reason": "typo"}), 403)
    r = await funder.post(f"/reports/{rep['id']}/reopen", json={"reason": "EECO01 double counted"})
    assert r.status_code == 201, r.text
    rev2 = r.json()
    assert rev2["revision"] == 2 and rev2["status"] == "draft" and rev2["previous_id"] == rep["id"]
    assert rev2["values"][0]["value"] == 12
    assert await scalar(db, "SELECT coalesce(sum(total),0) FROM rollup WHERE indicator_code='EECO01' "
                            "AND funder_id=:f", f=FUNDER) == 0.0
    vals[0] = {"indicator_code": "EECO01", "value": 11, "disaggregations": gender(11, 7)}
    assert (await impl.put(f"/reports/{rev2['id']}/values", json={"values": vals})).status_code == 200
    assert (await impl.post(f"/reports/{rev2['id']}/submit")).status_code == 200
    assert (await funder.post(f"/reports/{rev2['id']}/approve")).status_code == 200
    hist = (await impl.get(f"/reports/{rev2['id']}/history")).json()["items"]
    assert [(h["revision"], h["status"], h["values"][0]["value"]) for h in hist] == [
        (1, "superseded", 12), (2, "approved", 11)]
    assert hist[1]["reopen_reason"] == "EECO01 double counted"
    assert await scalar(db, "SELECT sum(total) FROM rollup WHERE indicator_code='EECO01' "
                            "AND funder_id=:f AND region_code='06'", f=FUNDER) == 11.0
    # Lock: only an admin may reopen a locked report.
    assert (await funder.post(f"/reports/{rev2['id']}/lock")).json()["status"] == "locked"
    problem(await funder.post(f"/reports/{rev2['id']}/reopen", json={"reason": "late fix"}), 403)
    # Second period reaches the target (11 + 14 = 25): target.reached is emitted once.
    r = await impl.post("/reports", json={"project_id": pid, "period": "2024H2", "values": [
        {"indicator_code": "EECO01", "value": 14, "disaggregations": gender(14, 4)}]})
    await impl.post(f"/reports/{r.json()['id']}/submit")
    await funder.post(f"/reports/{r.json()['id']}/approve")
    targets = (await impl.get("/targets", params={"project_id": pid})).json()["items"]
    assert targets[0]["reached_value"] == 25 and targets[0]["reached_on"]
    csv = (await impl.get("/targets", params={"project_id": pid, "format": "csv"})).text
    assert "EECO01" in csv and "25" in csv

    async def events(kind):
        n = await scalar(db, "SELECT count(*) FROM outbox WHERE type=:t AND envelope LIKE :p",
                         t=kind, p=f"%{pid}%")
        return n
    assert await events(ic.REPORT_SUBMITTED) == 3
    assert await events(ic.REPORT_APPROVED) == 3
    assert await events(ic.REPORT_REOPENED) == 1
    assert await events(ic.TARGET_REACHED) == 1
    reopened = json.loads(await scalar(db, "SELECT envelope FROM outbox WHERE type=:t AND envelope LIKE :p",
                                       t=ic.REPORT_REOPENED, p=f"%{pid}%"))
    assert reopened["data"]["reason"] == "EECO01 double counted" and reopened["data"]["revision"] == 2
    # Relayed to JetStream: the outbox drains.
    await eventually(lambda: scalar(db, "SELECT count(*)=0 FROM outbox WHERE published_at IS NULL"))


BAD_VALUES = [
    ([{"indicator_code": "NOPE", "value": 1}], "body/values/0/indicator_code", "unknown"),
    ([{"indicator_code": "EECO01", "value": -1, "disaggregations": gender(-1)}],
     "body/values/0/value", "out_of_bounds"),
    ([{"indicator_code": "QWL_INDEX", "value": 101}], "body/values/0/value", "out_of_bounds"),
    ([{"indicator_code": "EECO01", "value": 10}], "body/values/0/disaggregations", "missing"),
    ([{"indicator_code": "EECO01", "value": 10, "disaggregations": {"gender": {"women": 4, "men": 5}}}],
     "body/values/0/disaggregations/gender", "sum"),
    ([{"indicator_code": "EECO01", "value": 10, "disaggregations": {"gender": {"women": 5, "other": 5}}}],
     "body/values/0/disaggregations/gender", "unknown"),
    ([{"indicator_code": "EECO01", "value": 1, "disaggregations": gender(1)}] * 2,
     "body/values/1/indicator_code", "duplicate"),
    ([{"indicator_code": "EECO10", "value": 3, "disaggregations": gender(3)},
      {"indicator_code": "EECO11", "value": 4, "disaggregations": gender(4)},
      {"indicator_code": "EECO10+EECO11", "value": 8, "disaggregations": gender(8)}],
     "body/values/2/value", "composite"),
    ([{"indicator_code": "EECO05", "value": 2, "disaggregations": gender(2),
       "counted_ids": ["1234567-8", "2"]},
      {"indicator_code": "EECO19", "value": 1, "counted_ids": ["1234567-8"]}],
     "body/values/0/counted_ids", "counted_twice"),
    ([{"indicator_code": "EECO01", "value": "ten"}], "body/values/0/value", None),
    ([{"indicator_code": "EECO01", "value": 1, "bogus": True}], "body/values/0/bogus", None),
]


@pytest.mark.parametrize(("values", "field", "kind"), BAD_VALUES)
async def test_bad_values_are_422_and_store_nothing(stack, project, impl, values, field, kind):
    db = stack.db_urls["indicators"]
    before = await scalar(db, "SELECT count(*) FROM report")
    err = problem(await impl.post("/reports", json={"project_id": project["id"], "period": "2025Q1",
                                                    "values": values}), 422)
    assert any(e["field"] == field and (kind is None or e["type"] == kind) for e in err["errors"]), err
    assert await scalar(db, "SELECT count(*) FROM report") == before


async def test_composite_and_counting_rule_accept_consistent_values(project, impl):
    r = await impl.post("/reports", json={"project_id": project["id"], "period": "2025Q2", "values": [
        {"indicator_code": "EECO10", "value": 3, "disaggregations": gender(3)},
        {"indicator_code": "EECO11", "value": 4, "disaggregations": gender(4)},
        {"indicator_code": "EECO10+EECO11", "value": 7, "disaggregations": gender(7)},
        {"indicator_code": "EECO05", "value": 2, "disaggregations": gender(2), "counted_ids": ["A"]},
        {"indicator_code": "EECO19", "value": 1, "counted_ids": ["B"]}]})
    assert r.status_code == 201, r.text
    assert len(r.json()["values"]) == 5


@pytest.mark.parametrize(("period", "kind"), [
    ("2023H2", "out_of_term"), ("2026Q1", "out_of_term"), ("2024H3", None), ("24H1", None),
    # Year 0 has no calendar date: it was a 500 (found by schemathesis in CI).
    ("0000", None), ("0000Q1", None)])
async def test_periods_outside_term_or_malformed(project, impl, period, kind):
    err = problem(await impl.post("/reports", json={"project_id": project["id"], "period": period,
                                                    "values": []}), 422)
    assert err["errors"][0]["field"] == "body/period"
    if kind:
        assert err["errors"][0]["type"] == kind


async def test_unknown_and_foreign_projects(stack, project, nats_server):
    async with client(stack, "implementer", OTHER) as other, client(stack, "funder", OTHER) as ofund, \
            client(stack, None) as public:
        problem(await other.post("/reports", json={"project_id": uid(), "period": "2024H1"}), 404)
        problem(await other.post("/reports", json={"project_id": project["id"], "period": "2025H1"}), 403)
        problem(await other.post("/targets", json={"project_id": project["id"], "indicator_code": "EECO01",
                                                   "target_value": 5, "target_date": "2025-12-31"}), 403)
        problem(await other.get("/targets", params={"project_id": project["id"]}), 403)
        listed = (await other.get("/reports", params={"project_id": project["id"]})).json()
        assert listed["total"] == 0 and listed["items"] == []
        async with client(stack, "implementer", ORG) as mine_client:
            mine = (await mine_client.get("/reports", params={"project_id": project["id"]})).json()
        assert mine["total"] >= 1
        rid = mine["items"][0]["id"]
        problem(await other.get(f"/reports/{rid}"), 403)
        problem(await ofund.post(f"/reports/{rid}/approve"), 403)
        problem(await public.get(f"/reports/{rid}"), 401)


async def test_target_validation(project, impl):
    base = {"project_id": project["id"], "indicator_code": "QWL_INDEX", "target_value": 70,
            "target_date": "2025-12-31", "baseline_value": 55, "baseline_date": "2024-01-01"}
    assert (await impl.post("/targets", json=base)).status_code == 201
    problem(await impl.post("/targets", json=base), 409)
    err = problem(await impl.post("/targets", json={**base, "target_value": 170,
                                                    "target_date": "2025-06-30"}), 422)
    assert err["errors"][0]["field"] == "body/target_value"
    err = problem(await impl.post("/targets", json={**base, "baseline_date": "2026-01-01",
                                                    "target_date": "2025-06-29"}), 422)
    assert err["errors"][0]["type"] == "date_order"


async def test_report_list_exports(project, impl):
    for fmt, ctype in (("csv", "text/csv"), ("xlsx", "spreadsheetml"), ("json", "json")):
        r = await impl.get("/reports", params={"project_id": project["id"], "format": fmt})
        assert r.status_code == 200 and ctype in r.headers["content-type"]
        if fmt == "csv":
            assert project["id"] in r.text and "approved" in r.text


async def test_bulk_import_is_all_or_nothing(stack, nats_server, gw):
    db = stack.db_urls["indicators"]
    org = uid()
    projects = [await new_project(nats_server.url, gw, org=org, funder=uid(), start="2024-01-01",
                                  end="2025-12-31") for _ in range(2)]
    reports = [{"project_id": p["id"], "period": per, "values": [
        {"indicator_code": "EECO01", "value": 5, "disaggregations": gender(5, 2)},
        {"indicator_code": "PROD_TURNOVER_PCT", "value": 12.5}]}
        for p in projects for per in ("2024H1", "2024H2", "2025Q1")]
    async with client(stack, "implementer", org) as impl:
        before = await scalar(db, "SELECT count(*) FROM reported_value")
        bad = [*reports[:-1], {**reports[-1], "values": [{"indicator_code": "EECO01", "value": 1}]}]
        err = problem(await impl.post("/reports/import", json={"reports": bad}), 422)
        assert err["errors"][0]["field"] == "body/reports/5/values/0/disaggregations"
        problem(await impl.post("/reports/import", json={"reports": [reports[0], reports[0]]}), 422)
        # Every kind of bad row is named, and nothing is written for any of them.
        foreign = await new_project(nats_server.url, gw, org=uid(), funder=uid())
        last = len(reports) - 1

        def with_last(**change):
            return {"reports": [*reports[:-1], {**reports[-1], **change}]}

        def with_value(**change):
            return with_last(values=[reports[-1]["values"][0], {**reports[-1]["values"][1], **change}])

        cases = [
            (with_value(value="12.5"), 422, f"body/reports/{last}/values/1/value"),
            (with_value(value=True), 422, f"body/reports/{last}/values/1/value"),
            (with_value(extra=1), 422, f"body/reports/{last}/values/1/extra"),
            (with_value(value=1e9), 422, f"body/reports/{last}/values/1/value"),
            (with_value(indicator_code="NOPE"), 422, f"body/reports/{last}/values/1/indicator_code"),
            (with_value(indicator_code="EECO01\u0000"), 422,
             f"body/reports/{last}/values/1/indicator_code"),
            (with_last(period="2023H2"), 422, f"body/reports/{last}/period"),
            (with_last(period="2024H3"), 422, f"body/reports/{last}/period"),
        ]
        for body, status, field in cases:
            err = problem(await impl.post("/reports/import", json=body), status)
            assert field in [e["field"] for e in err["errors"]], (field, err)
        unknown = problem(await impl.post("/reports/import", json=with_last(project_id=uid())), 404)
        assert f"reports/{last}" in unknown["detail"]
        theirs = problem(await impl.post("/reports/import", json=with_last(project_id=foreign["id"])), 403)
        assert f"reports/{last}" in theirs["detail"] and foreign["id"] in theirs["detail"]
        assert await scalar(db, "SELECT count(*) FROM reported_value") == before
        assert await scalar(db, "SELECT count(*) FROM report WHERE project_id=:p",
                            p=projects[0]["id"]) == 0
        r = await impl.post("/reports/import", json={"reports": reports, "submit": True})
        assert r.status_code == 201, r.text
        assert r.json()["created"] == 6 and r.json()["values"] == 12
        assert await scalar(db, "SELECT count(*) FROM reported_value") == before + 12
        listed = (await impl.get("/reports", params={"project_id": projects[0]["id"]})).json()
        assert {x["status"] for x in listed["items"]} == {"submitted"} and listed["total"] == 3
        problem(await impl.post("/reports/import", json={"reports": reports[:1]}), 409)


async def test_report_list_pages_by_cursor_without_skips_or_repeats(stack, nats_server, gw):
    org = uid()
    projects = [await new_project(nats_server.url, gw, org=org, funder=uid(), start="2023-01-01",
                                  end="2025-12-31") for _ in range(3)]

    def reports(periods):
        return {"reports": [{"project_id": p["id"], "period": per, "values": [
            {"indicator_code": "PROD_TURNOVER_PCT", "value": 1.0}]}
            for p in projects for per in periods]}

    # Several periods share an end day (2024Q2 / 2024H1, 2024Q4 / 2024H2 / 2024).
    start = ["2024Q1", "2024Q2", "2024H1", "2024Q4", "2024H2", "2024"]
    async with client(stack, "implementer", org) as impl:
        r = await impl.post("/reports/import", json=reports(start))
        assert r.status_code == 201, r.text
        initial = set(r.json()["ids"])
        seen: list[str] = []
        added_before, added_after = set(), set()
        cursor, pages = None, 0
        inserts = iter([["2025Q3"], ["2023Q1"], ["2025H2"], ["2023H2"]])
        while True:
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = (await impl.get("/reports", params=params)).json()
            assert len(page["items"]) <= 4
            seen += [x["id"] for x in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            # Between pages, reports that sort before the cursor (newer periods) and after it.
            periods = next(inserts, None)
            if periods:
                r = await impl.post("/reports/import", json=reports(periods))
                assert r.status_code == 201, r.text
                (added_after if periods[0].startswith("2023") else added_before).update(r.json()["ids"])
        assert len(seen) == len(set(seen)), "a report was listed twice"
        assert initial <= set(seen), "a report was skipped"
        assert added_after <= set(seen)  # added behind the cursor: reached later
        assert not (added_before & set(seen))  # added ahead of it: not on later pages
        assert page["total"] == len(initial) + len(added_before) + len(added_after)
        assert pages >= 5
        # The order is newest period end first, then project, period, revision.
        every = (await impl.get("/reports", params={"limit": 200})).json()
        keys = [(x["period_end"], x["project_id"], x["period"]) for x in every["items"]]
        assert keys == sorted(keys, key=lambda k: (-dt.date.fromisoformat(k[0]).toordinal(), k[1], k[2]))
        err = problem(await impl.get("/reports", params={"cursor": "bm90LWEtY3Vyc29y"}), 422)
        assert err["errors"][0]["field"] == "query/cursor"
        problem(await impl.get("/reports", params={"limit": 201}), 422)
