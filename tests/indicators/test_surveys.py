"""Surveys: instruments as data, rounds, responses (API and CSV), scores, and privacy:
no figure about fewer than k respondents leaves, not even by subtraction."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from shared.contracts import indicators as ic
from tests.conftest import eventually, scalar
from tests.indicators.helpers import client, problem, uid
from tests.support.attacker import leaks, round_figures

ORG, OTHER = uid(), uid()
K = 5
TODAY = dt.date.today()


@pytest.fixture
async def impl(stack):
    async with client(stack, "implementer", ORG) as c:
        yield c


async def new_round(c, label="T0", units=None, instrument="UWES-9", org=ORG) -> dict:
    r = await c.post("/surveys/rounds", json={
        "instrument_code": instrument, "organisation_id": org, "label": label,
        "opens_on": (TODAY - dt.timedelta(days=3)).isoformat(),
        "closes_on": (TODAY + dt.timedelta(days=3)).isoformat(), "units": units or []})
    assert r.status_code == 201, r.text
    return r.json()


def uwes(value: float, unit: str | None = None) -> dict:
    return {"unit": unit, "answers": {f"q{i}": value for i in range(1, 10)}}


def all_counts(obj) -> list[int]:
    """Every respondent count anywhere in a result (n fields and band counts)."""
    found = []
    if isinstance(obj, dict):
        for key, v in obj.items():
            if key == "n" and isinstance(v, int):
                found.append(v)
            elif key == "bands" and isinstance(v, dict):
                found += [x for x in v.values() if isinstance(x, int)]
            else:
                found += all_counts(v)
    elif isinstance(obj, list):
        for v in obj:
            found += all_counts(v)
    return found


async def test_instruments_ship_structure_without_wording(gw, stack):
    items = {i["code"]: i for i in (await gw.get("/surveys/instruments")).json()["items"]}
    u, q = items["UWES-9"], items["QWL-15"]
    assert (u["scale_min"], u["scale_max"], len(u["items"])) == (0, 6, 9)
    assert {d["code"] for d in u["dimensions"]} == {"vigor", "dedication", "absorption"}
    assert len(q["items"]) == 15 and {d["code"] for d in q["dimensions"]} == {"FE", "YI", "PL"}
    assert all(i["wording"] is None for i in u["items"] + q["items"])
    # An organisation holding the licence loads its wording; others still see none.
    async with client(stack, "implementer", ORG) as mine, client(stack, "implementer", OTHER) as other:
        r = await mine.put("/surveys/instruments/UWES-9/wording",
                           json={"items": {"q1": {"fi": "(lisensoitu teksti 1)"}}})
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["wording"] == {"fi": "(lisensoitu teksti 1)"}

        async def loaded():
            got = (await mine.get("/surveys/instruments/UWES-9")).json()["items"][0]["wording"]
            return got == {"fi": "(lisensoitu teksti 1)"}

        await eventually(loaded, timeout=5)
        assert (await other.get("/surveys/instruments/UWES-9")).json()["items"][0]["wording"] is None
        problem(await mine.put("/surveys/instruments/UWES-9/wording",
                               json={"items": {"q99": {"fi": "x"}}}), 422)


async def test_custom_instrument_with_reverse_item_is_scored_server_side(stack, impl):
    code = "INS-" + uid()[:6]
    async with client(stack, "coordinator") as coord:
        body = {"code": code, "name": {"fi": "Testi"}, "scale_min": 1, "scale_max": 5,
                "items": [{"id": "a", "dimension": "d1"}, {"id": "b", "dimension": "d1", "reverse": True},
                          {"id": "c", "dimension": "d2"}],
                "dimensions": [{"code": "d1"}, {"code": "d2"}]}
        problem(await impl.post("/surveys/instruments", json=body), 403)
        assert (await coord.post("/surveys/instruments", json=body)).status_code == 201
        err = problem(await coord.post("/surveys/instruments", json={
            **body, "code": code + "x", "items": [{"id": "a", "dimension": "nope"}]}), 422)
        assert "unknown dimensions" in json.dumps(err)
    rnd = await new_round(impl, instrument=code)
    # a=5, b=1 reversed -> 5, c=2: d1 = 5, d2 = 2, total = 4.
    r = await impl.post(f"/surveys/rounds/{rnd['id']}/responses",
                        json={"responses": [{"answers": {"a": 5, "b": 1, "c": 2}}] * 6})
    assert r.status_code == 201, r.text
    assert (await impl.post(f"/surveys/rounds/{rnd['id']}/close")).status_code == 200
    res = (await impl.get(f"/surveys/rounds/{rnd['id']}/results")).json()
    assert res["total"]["n"] == 6 and res["total"]["mean"] == 4.0 and res["total"]["sd"] == 0.0
    assert res["total"]["dimensions"]["d1"]["mean"] == 5.0
    assert res["total"]["dimensions"]["d2"]["mean"] == 2.0


@pytest.mark.parametrize(("responses", "field"), [
    ([{"answers": {f"q{i}": 7 for i in range(1, 10)}}], "body/responses/0/answers"),
    ([{"answers": {f"q{i}": 3 for i in range(1, 9)}}], "body/responses/0/answers"),
    ([{"answers": {**{f"q{i}": 3 for i in range(1, 10)}, "q10": 1}}], "body/responses/0/answers"),
    ([{"answers": {f"q{i}": "x" for i in range(1, 10)}}], "body/responses/0/answers/q1"),
    ([{"answers": {f"q{i}": 3 for i in range(1, 10)}, "name": "Matti"}], "body/responses/0/name"),
])
async def test_bad_responses_are_422_and_store_nothing(stack, gw, responses, field):
    rnd = await new_round(gw, label="T0", org=uid())  # an organisation of its own per case
    err = problem(await gw.post(f"/surveys/rounds/{rnd['id']}/responses",
                                  json={"responses": responses}), 422)
    assert any(e["field"].startswith(field) for e in err["errors"]), err
    assert await scalar(stack.db_urls["indicators"],
                        "SELECT count(*) FROM survey_response WHERE round_id=:r", r=rnd["id"]) == 0


async def test_round_rules_and_access(stack, impl):
    base = {"instrument_code": "UWES-9", "organisation_id": ORG, "label": "T5",
            "opens_on": "2026-01-10", "closes_on": "2026-01-01"}
    problem(await impl.post("/surveys/rounds", json=base), 422)
    problem(await impl.post("/surveys/rounds", json={**base, "label": "X1", "closes_on": "2026-02-01"}), 422)
    problem(await impl.post("/surveys/rounds", json={**base, "instrument_code": "NOPE",
                                                     "closes_on": "2026-02-01"}), 404)
    async with client(stack, "implementer", OTHER) as other, client(stack, None) as public:
        problem(await other.post("/surveys/rounds", json={**base, "closes_on": "2026-02-01"}), 403)
        rnd = await new_round(impl, label="T6")
        problem(await impl.post("/surveys/rounds", json={
            **base, "label": "T6", "opens_on": rnd["opens_on"], "closes_on": rnd["closes_on"]}), 409)
        problem(await other.post(f"/surveys/rounds/{rnd['id']}/responses",
                                 json={"responses": [uwes(3)]}), 403)
        problem(await other.get(f"/surveys/rounds/{rnd['id']}/results"), 403)
        problem(await public.get(f"/surveys/rounds/{rnd['id']}/results"), 401)
        assert rnd["id"] not in {x["id"] for x in (await other.get("/surveys/rounds")).json()["items"]}


async def test_breakdown_with_complementary_suppression(stack, impl):
    """Units A (10), B (3), C (8): B is below k; hiding only B would leave
    B = total - A - C, so C is hidden too. No shown figure concerns fewer than k people."""
    rnd = await new_round(impl, label="T1", units=["A", "B", "C"])
    resp = [uwes(4, "A")] * 10 + [uwes(1, "B")] * 3 + [uwes(5, "C")] * 8
    assert (await impl.post(f"/surveys/rounds/{rnd['id']}/responses",
                            json={"responses": resp})).status_code == 201
    # While responses still arrive, no results: two reads could differ by one person.
    err = problem(await impl.get(f"/surveys/rounds/{rnd['id']}/results"), 409)
    assert "closed" in err["detail"]
    assert (await impl.post(f"/surveys/rounds/{rnd['id']}/close")).status_code == 200
    res = (await impl.get(f"/surveys/rounds/{rnd['id']}/results", params={"breakdown": True})).json()
    cells = {c["unit"]: c for c in res["breakdown"]}
    assert res["total"]["n"] == 21 and not res["total"]["suppressed"]
    assert cells["A"]["n"] == 10 and cells["A"]["mean"] == 4.0
    assert cells["B"]["suppressed"] and cells["B"]["n"] is None and cells["B"]["mean"] is None
    assert cells["C"]["suppressed"] and cells["C"]["mean"] is None
    # Subtraction leaves at least two hidden cells holding at least k people together.
    shown = sum(c["n"] for c in res["breakdown"] if not c["suppressed"])
    assert res["total"]["n"] - shown >= K
    assert sum(c["suppressed"] for c in res["breakdown"]) >= 2
    assert all(n == 0 or n >= K for n in all_counts(res)), res
    # Band distribution: B's three "very low" answers are a band of 3 -> hidden, with a partner.
    bands = res["total"]["bands"]
    assert bands["very_low"] is None and sum(v is None for v in bands.values()) >= 2
    # Exports carry the same suppression.
    csv = (await impl.get(f"/surveys/rounds/{rnd['id']}/results",
                          params={"breakdown": True, "format": "csv"})).text
    lines = {ln.split(",")[2]: ln.split(",") for ln in csv.splitlines()[1:]}
    assert lines["B"][4] == "" and lines["C"][4] == "" and lines["A"][4] == "10"
    assert (await impl.get(f"/surveys/rounds/{rnd['id']}/results",
                           params={"breakdown": True, "format": "xlsx"})).status_code == 200


async def test_small_round_is_suppressed_everywhere_and_close_says_so(stack, impl):
    rnd = await new_round(impl, label="T2", units=["A"])
    await impl.post(f"/surveys/rounds/{rnd['id']}/responses", json={"responses": [uwes(3, "A")] * 4})
    r = await impl.post(f"/surveys/rounds/{rnd['id']}/close")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    res = (await impl.get(f"/surveys/rounds/{rnd['id']}/results", params={"breakdown": True})).json()
    assert res["total"]["suppressed"] and res["total"]["mean"] is None
    assert all(c["suppressed"] for c in res["breakdown"])
    assert all_counts(res) == []
    # Even the response count is withheld while below k (the list and its export).
    listed = {x["id"]: x for x in (await impl.get("/surveys/rounds")).json()["items"]}
    assert listed[rnd["id"]]["responses"] is None and listed[rnd["id"]]["responses_below_threshold"]
    csv = (await impl.get("/surveys/rounds", params={"format": "csv"})).text
    assert [ln for ln in csv.splitlines() if rnd["id"] in ln][0].endswith(",")
    big = await new_round(impl, label="T3")
    await impl.post(f"/surveys/rounds/{big['id']}/responses", json={"responses": [uwes(4)] * 8})
    problem(await impl.get("/surveys/change", params={"from_round": rnd["id"], "to_round": big["id"]}), 409)
    await impl.post(f"/surveys/rounds/{big['id']}/close")
    change = (await impl.get("/surveys/change", params={"from_round": rnd["id"],
                                                         "to_round": big["id"]})).json()
    assert change["suppressed"] and change["total"] is None
    problem(await impl.post(f"/surveys/rounds/{rnd['id']}/responses", json={"responses": [uwes(3)]}), 409)
    problem(await impl.post(f"/surveys/rounds/{rnd['id']}/close"), 409)
    env = json.loads(await scalar(stack.db_urls["indicators"],
                                  "SELECT envelope FROM outbox WHERE type=:t AND entity_id=:e",
                                  t=ic.SURVEY_ROUND_CLOSED, e=rnd["id"]))
    assert env["data"]["results_available"] is False and env["data"]["label"] == "T2"
    assert "mean" not in json.dumps(env["data"])


async def test_csv_upload_of_many_rows_and_change_with_effect_size(stack, impl):
    rng = np.random.default_rng(7)
    t0, t1 = await new_round(impl, label="T7", units=["A", "B"]), await new_round(impl, label="T8")
    a0 = rng.integers(0, 7, size=(20000, 9))
    header = "unit," + ",".join(f"q{i}" for i in range(1, 10))
    body = header + "\n" + "\n".join(("A" if i % 2 else "B") + "," + ",".join(map(str, row))
                                     for i, row in enumerate(a0))
    r = await impl.post(f"/surveys/rounds/{t0['id']}/upload", content=body.encode(),
                        headers={"content-type": "text/csv"})
    assert r.status_code == 201 and r.json()["stored"] == 20000, r.text
    a1 = np.clip(a0 + 1, 0, 6)
    body1 = ",".join(f"q{i}" for i in range(1, 10)) + "\n" + "\n".join(",".join(map(str, row)) for row in a1)
    assert (await impl.post(f"/surveys/rounds/{t1['id']}/upload", content=body1.encode())).status_code == 201
    # Malformed uploads: 422 and nothing stored.
    before = await scalar(stack.db_urls["indicators"], "SELECT count(*) FROM survey_response")
    for bad in (header + "\nA,1,2,3,4,5,6,7,1,2", header + "\nA,1,2,3,4,5,6,1,1,x",
                "unit,q1,q2\nA,1,2", header + "\nZ,1,1,1,1,1,1,1,1,1", ""):
        problem(await impl.post(f"/surveys/rounds/{t0['id']}/upload", content=bad.encode()), 422)
    assert await scalar(stack.db_urls["indicators"], "SELECT count(*) FROM survey_response") == before
    for rnd in (t0, t1):
        assert (await impl.post(f"/surveys/rounds/{rnd['id']}/close")).status_code == 200
    res = (await impl.get(f"/surveys/rounds/{t0['id']}/results")).json()["total"]
    assert res["n"] == 20000 and res["mean"] == pytest.approx(a0.mean(), abs=1e-4)
    assert res["sd"] == pytest.approx(a0.mean(axis=1).std(ddof=1), abs=1e-3)
    assert res["ci95_low"] < res["mean"] < res["ci95_high"]
    ch = (await impl.get("/surveys/change", params={"from_round": t0["id"], "to_round": t1["id"]})).json()
    assert ch["total"]["difference"] == pytest.approx(a1.mean() - a0.mean(), abs=1e-3)
    assert ch["total"]["effect_size_d"] > 0.5


UWES_BANDS = ["very_low", "fairly_low", "average", "fairly_high", "high"]


async def test_band_counts_do_not_subtract_across_units(stack, impl):
    """Issue 11, reproduced through the gateway: total very_low 10, U0 6 of 6, U1 0 of 5, U2 7
    with very_low withheld gave U2's 4 as 10 - 6 - 0. The table is now protected as a whole:
    an attacker solving the published relations pins nothing, in JSON and in the export."""
    rnd = await new_round(impl, label="T11", units=["U0", "U1", "U2"])
    resp = [uwes(1, "U0")] * 6 + [uwes(3, "U1")] * 5 + [uwes(1, "U2")] * 4 + [uwes(5, "U2")] * 3
    assert (await impl.post(f"/surveys/rounds/{rnd['id']}/responses",
                            json={"responses": resp})).status_code == 201
    assert (await impl.post(f"/surveys/rounds/{rnd['id']}/close")).status_code == 200
    res = (await impl.get(f"/surveys/rounds/{rnd['id']}/results", params={"breakdown": True})).json()
    figs, n_cells = round_figures(res, UWES_BANDS)
    assert leaks(figs, n_cells, K) == [], res
    assert res["privacy"]["audited"] and res["privacy"]["withheld"] >= 3
    assert {r["unit"]: r["bands"]["very_low"] for r in res["breakdown"]}["U2"] is None
    alone = (await impl.get(f"/surveys/rounds/{rnd['id']}/results")).json()
    assert alone["total"] == res["total"]
    csv = (await impl.get(f"/surveys/rounds/{rnd['id']}/results",
                          params={"breakdown": True, "format": "csv"})).text
    lines = {ln.split(",")[2]: ln.split(",") for ln in csv.splitlines()[1:]}
    for row in res["breakdown"]:
        assert lines[row["unit"]][4] == ("" if row["n"] is None else str(row["n"]))


async def test_answers_are_whole_numbers_on_the_scale(stack, impl):
    """Issue 11: 1.9995 on every item fell between bands 0-1.999 and 2-; n minus the bands then
    counted those respondents. Answers are now integers on the item's scale, nothing else."""
    rnd = await new_round(impl, label="T12")
    before = await scalar(stack.db_urls["indicators"],
                          "SELECT count(*) FROM survey_response WHERE round_id=:r", r=rnd["id"])
    err = problem(await impl.post(f"/surveys/rounds/{rnd['id']}/responses",
                                  json={"responses": [uwes(1.9995)] * 5}), 422)
    assert any(e["field"] == "body/responses/0/answers/q1" for e in err["errors"]), err
    problem(await impl.post(f"/surveys/rounds/{rnd['id']}/responses",
                            json={"responses": [uwes(-1)] * 5}), 422)
    header = ",".join(f"q{i}" for i in range(1, 10))
    err = problem(await impl.post(f"/surveys/rounds/{rnd['id']}/upload",
                                  content=(header + "\n" + ",".join(["1.9995"] * 9)).encode()), 422)
    assert err["errors"][0]["field"] == "body/line/2", err
    # A field over Python's csv limit, and a body of 10 MB: refused, not a 500.
    huge = header + "\n" + "1" * 140_000 + ",1,1,1,1,1,1,1,1"
    problem(await impl.post(f"/surveys/rounds/{rnd['id']}/upload", content=huge.encode()), 422)
    ten_mb = header + "\n" + ("1,1,1,1,1,1,1,1,1\n" * 600_000)
    err = problem(await impl.post(f"/surveys/rounds/{rnd['id']}/upload", content=ten_mb.encode()), 413)
    assert "100000" in err["detail"] or "100,000" in err["detail"] or "100_000" in err["detail"], err
    assert await scalar(stack.db_urls["indicators"],
                        "SELECT count(*) FROM survey_response WHERE round_id=:r", r=rnd["id"]) == before
    # Bands are data that must cover the score range without gaps.
    async with client(stack, "coordinator") as coord:
        body = {"code": "GAP-" + uid()[:6], "name": {"fi": "Aukko"}, "scale_min": 0, "scale_max": 6,
                "items": [{"id": "a", "dimension": "d"}], "dimensions": [{"code": "d"}],
                "bands": [{"code": "lo", "min": 0, "max": 1.999, "label": {"fi": "matala"}},
                          {"code": "hi", "min": 2, "max": 6, "label": {"fi": "korkea"}}]}
        err = problem(await coord.post("/surveys/instruments", json=body), 422)
        assert "contiguous" in json.dumps(err)
        body["bands"][0]["max"] = 2
        assert (await coord.post("/surveys/instruments", json=body)).status_code == 201
    got = {i["code"]: i for i in (await impl.get("/surveys/instruments")).json()["items"]}["UWES-9"]
    assert [(b["min"], b["max"]) for b in got["bands"]] == [(0, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
