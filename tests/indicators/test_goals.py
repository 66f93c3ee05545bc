"""A theme's goals (issue 14): goals and their indicators with history and events, progress
computed from approved values and closed survey rounds only, survey figures under the privacy
threshold withheld at theme level, the gaps in measuring, and the refusals."""

from __future__ import annotations

import json

import nats

from shared.contracts import indicators as ic
from shared.contracts import registry as rc
from tests.conftest import eventually, scalar
from tests.indicators.helpers import client, gender, new_project, problem, publish, uid

PERIOD = "2021-2027"


async def new_theme(stack, nats_url: str) -> str:
    """A theme as the registry announces it (theme.created on its stream)."""
    tid = uid()
    await publish(nats_url, rc.THEME_CREATED, {
        "id": tid, "version": 1, "code": "T-" + tid[:8], "name": {"fi": "Teema " + tid[:6]},
        "period_start": "2021-01-01", "period_end": "2027-12-31"})
    await eventually(lambda: scalar(stack.db_urls["indicators"],
                                    "SELECT count(*) FROM theme_projection WHERE id=:i", i=tid))
    return tid


async def new_goal(c, theme_id: str, code: str, indicators: list[dict] | None = None) -> dict:
    r = await c.post("/goals", json={"theme_id": theme_id, "code": code,
                                     "name": {"fi": f"Tavoite {code}", "en": f"Goal {code}"}})
    assert r.status_code == 201, r.text
    goal = r.json()
    if indicators is not None:
        r = await c.put(f"/goals/{goal['id']}/indicators", json=indicators)
        assert r.status_code == 200, r.text
        goal = r.json()
    return goal


def indicator(code: str, baseline: float | None, target: float, period: str = PERIOD) -> dict:
    return {"indicator_code": code, "period": period, "baseline": baseline, "target": target}


async def outbox_events(db: str, goal_id: str) -> list[dict]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT envelope FROM outbox WHERE entity_id=:i ORDER BY seq"), {"i": goal_id})).all()
    finally:
        await engine.dispose()
    return [json.loads(e) for (e,) in rows]


async def stream_events(nats_url: str, goal_id: str) -> list[dict]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe("teke.indicators.goal.>", durable=None)
        found = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except TimeoutError:
                break
            found += [env for env in (json.loads(m.data) for m in msgs)
                      if env["subject"] == goal_id]
            if len(msgs) < 500:
                break
        return found
    finally:
        await nc.close()


async def theme_goals(c, theme_id: str) -> dict:
    r = await c.get(f"/analyses/themes/{theme_id}/goals")
    assert r.status_code == 200, r.text
    return r.json()


def measured(view: dict, goal_code: str, indicator_code: str) -> dict:
    goal = next(g for g in view["goals"] if g["code"] == goal_code)
    return next(i for i in goal["indicators"] if i["indicator_code"] == indicator_code)


async def test_goal_with_indicators_history_and_events(stack, nats_server):
    db = stack.db_urls["indicators"]
    theme = await new_theme(stack, nats_server.url)
    async with client(stack, "coordinator") as coord, client(stack, None) as public:
        goal = await new_goal(coord, theme, "LEARNING_CLIMATE")
        assert goal["version"] == 1 and goal["indicators"] == []
        body = [indicator("EECO01", 0, 1500),
                {**indicator("QWL_INDEX", 65, 70), "unverified": True, "note": "placeholder"}]
        r = await coord.put(f"/goals/{goal['id']}/indicators", json=body)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["version"] == 2
        assert [(i["indicator_code"], i["period_start"], i["period_end"], i["unit"])
                for i in got["indicators"]] == [("EECO01", "2021-01-01", "2027-12-31", "participants"),
                                                ("QWL_INDEX", "2021-01-01", "2027-12-31", "%")]
        assert got["indicators"][1]["unverified"] is True
        # The same list again changes nothing: no new version, no event.
        assert (await coord.put(f"/goals/{goal['id']}/indicators", json=body)).json()["version"] == 2
        r = await coord.patch(f"/goals/{goal['id']}", json={
            "name": {"fi": "Oppimismyönteinen ilmapiiri", "sv": "Lärandevänligt klimat"}})
        assert r.status_code == 200 and r.json()["version"] == 3, r.text
        # Public reads: the goal, the theme's list, the history (without who made each change).
        r = await public.get("/goals", params={"theme_id": theme})
        assert [g["code"] for g in r.json()["items"]] == ["LEARNING_CLIMATE"]
        assert r.json()["items"][0]["name"]["sv"] == "Lärandevänligt klimat"
        assert (await public.get(f"/goals/{goal['id']}")).json()["indicators"][0]["target"] == 1500
        hist = (await public.get(f"/goals/{goal['id']}/history")).json()["items"]
        assert [(h["version"], h["action"], h["changed_fields"]) for h in hist] == [
            (1, "create", []), (2, "indicators", ["indicators"]), (3, "update", ["name"])]
        assert hist[0]["state"]["indicators"] == [] and len(hist[1]["state"]["indicators"]) == 2
        assert hist[1]["state"]["name"]["fi"] == "Tavoite LEARNING_CLIMATE"
        assert "actor" not in hist[0]
        hist = (await coord.get(f"/goals/{goal['id']}/history")).json()["items"]
        assert hist[0]["actor"] == "coordinator-x"
    # Events: created once, updated twice, each its contract; relayed to JetStream.
    events = await outbox_events(db, goal["id"])
    assert [e["type"] for e in events] == [ic.GOAL_CREATED, ic.GOAL_UPDATED, ic.GOAL_UPDATED]
    for e in events:
        ic.EVENTS[e["type"]].model_validate(e["data"])
    assert events[0]["data"]["theme_id"] == theme and events[0]["data"]["version"] == 1
    assert events[1]["data"]["changed_fields"] == ["indicators"]
    assert [i["indicator_code"] for i in events[1]["data"]["indicators"]] == ["EECO01", "QWL_INDEX"]
    assert events[2]["data"]["changed_fields"] == ["name"] and events[2]["data"]["version"] == 3
    await eventually(lambda: scalar(db, "SELECT count(*)=0 FROM outbox WHERE entity_id=:i "
                                        "AND published_at IS NULL", i=goal["id"]))
    on_stream = await stream_events(nats_server.url, goal["id"])
    assert [e["id"] for e in on_stream] == [e["id"] for e in events]


async def _approved_report(impl, funder, project_id: str, period: str, value: float,
                           approve: bool = True, submit: bool = True) -> None:
    r = await impl.post("/reports", json={"project_id": project_id, "period": period, "values": [
        {"indicator_code": "EECO01", "value": value, "disaggregations": gender(value)}]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    if submit:
        assert (await impl.post(f"/reports/{rid}/submit")).status_code == 200
    if approve:
        r = await funder.post(f"/reports/{rid}/approve")
        assert r.status_code == 200, r.text


async def test_progress_from_approved_values_only_and_gaps(stack, nats_server, gw):
    url = nats_server.url
    theme, other_theme = await new_theme(stack, url), await new_theme(stack, url)
    org, fund = uid(), uid()
    a = await new_project(url, gw, org=org, funder=fund, theme=theme, start="2023-01-01")
    b = await new_project(url, gw, org=org, funder=fund, theme=theme, start="2023-01-01")
    elsewhere = await new_project(url, gw, org=org, funder=fund, theme=other_theme, start="2023-01-01")
    async with client(stack, "coordinator") as coord:
        await new_goal(coord, theme, "G1", [indicator("EECO01", 0, 100),
                                            indicator("EECO01", 0, 20, period="2025")])
        await new_goal(coord, theme, "G2")
        await new_goal(coord, theme, "G3", [indicator("EECO13", 0, 50)])
    async with client(stack, "implementer", org) as impl, client(stack, "funder", fund) as funder, \
            client(stack, None) as public:
        await _approved_report(impl, funder, a["id"], "2024H1", 30)
        await _approved_report(impl, funder, a["id"], "2024H2", 20, approve=False, submit=False)
        await _approved_report(impl, funder, b["id"], "2025H1", 10, approve=False)
        await _approved_report(impl, funder, elsewhere["id"], "2024H1", 50)
        view = await theme_goals(public, theme)
        item = next(i for i in view["goals"][0]["indicators"] if i["period"] == PERIOD)
        # Only the approved value of the theme's own project: draft, submitted and the other
        # theme's approved figures do not count.
        assert (item["current"], item["progress_share"], item["projects_reporting"]) == (30, 0.3, 1)
        assert item["source"] == "reports" and item["latest_period"] == "2024H1"
        in_2025 = next(i for i in view["goals"][0]["indicators"] if i["period"] == "2025")
        assert in_2025["current"] is None and in_2025["progress_share"] is None
        gaps = view["gaps"]
        assert [g["code"] for g in gaps["goals_without_indicators"]] == ["G2"]
        assert sorted((g["goal_code"], g["indicator_code"], g["period"])
                      for g in gaps["indicators_not_reported"]) == [
            ("G1", "EECO01", "2025"), ("G3", "EECO13", PERIOD)]
        # The submitted report approved: it counts now, in both periods it falls in.
        rid = (await impl.get("/reports", params={"project_id": b["id"]})).json()["items"][0]["id"]
        assert (await funder.post(f"/reports/{rid}/approve")).status_code == 200
        view = await theme_goals(public, theme)
        item = next(i for i in view["goals"][0]["indicators"] if i["period"] == PERIOD)
        assert (item["current"], item["progress_share"], item["projects_reporting"]) == (40, 0.4, 2)
        in_2025 = next(i for i in view["goals"][0]["indicators"] if i["period"] == "2025")
        assert (in_2025["current"], in_2025["progress_share"]) == (10, 0.5)
        assert [g["indicator_code"] for g in view["gaps"]["indicators_not_reported"]] == ["EECO13"]
        # Through the gateway's theme view path as the public sees it: same numbers.
        assert view["theme_id"] == theme and view["k"] == 5


async def _round(gw, org: str, project_id: str, label: str, values: list[int]) -> str:
    r = await gw.post("/surveys/rounds", json={"instrument_code": "UWES-9", "organisation_id": org,
                                               "project_id": project_id, "label": label,
                                               "opens_on": "2025-03-01", "closes_on": "2025-04-30"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    resp = [{"answers": {f"q{i}": v for i in range(1, 10)}} for v in values]
    r = await gw.post(f"/surveys/rounds/{rid}/responses", json={"responses": resp})
    assert r.status_code == 201, r.text
    assert (await gw.post(f"/surveys/rounds/{rid}/close")).status_code == 200
    return rid


async def test_survey_figure_under_k_is_withheld_at_theme_level(stack, nats_server, gw):
    url = nats_server.url
    theme = await new_theme(stack, url)
    p = await new_project(url, gw, org=uid(), funder=uid(), theme=theme)
    async with client(stack, "coordinator") as coord:
        await new_goal(coord, theme, "WELLBEING", [indicator("UWES_TOTAL", 3, 4),
                                                   indicator("UWES_VIGOR", 3, 5)])
    # Three respondents: under k = 5, never shown, not even pooled with others later.
    await _round(gw, uid(), p["id"], "T0", [2, 2, 3])
    async with client(stack, None) as public, client(stack, "coordinator") as coord:
        for c in (public, coord):
            view = await theme_goals(c, theme)
            item = measured(view, "WELLBEING", "UWES_TOTAL")
            assert item["suppressed"] is True and item["current"] is None
            assert item["withheld_reason"] == "privacy_threshold"
            assert item["respondents"] is None and item["progress_share"] is None
            assert item["rounds_withheld"] == 1 and item["source"] == "surveys"
            # Measured, only withheld: not a gap.
            assert view["gaps"]["indicators_not_reported"] == []
        await _round(gw, uid(), p["id"], "T0", [4, 4, 4, 4, 4, 4])
        view = await theme_goals(coord, theme)
        item = measured(view, "WELLBEING", "UWES_TOTAL")
        assert (item["suppressed"], item["current"], item["respondents"], item["rounds"],
                item["rounds_withheld"]) == (False, 4.0, 6, 1, 1)
        assert item["progress_share"] == 1.0 and item["instrument"] == "UWES-9"
        vigor = measured(view, "WELLBEING", "UWES_VIGOR")
        assert (vigor["current"], vigor["dimension"], vigor["progress_share"]) == (4.0, "vigor", 0.5)
        # One organisation's result, in effect: the public sees it withheld.
        item = measured(await theme_goals(public, theme), "WELLBEING", "UWES_TOTAL")
        assert (item["suppressed"], item["current"], item["withheld_reason"]) == (
            True, None, "organisations")
        # Pooled from three organisations (the round under k still left out): public.
        await _round(gw, uid(), p["id"], "T0", [5, 5, 5, 5, 5])
        await _round(gw, uid(), p["id"], "T0", [3, 3, 3, 3, 3])
        item = measured(await theme_goals(public, theme), "WELLBEING", "UWES_TOTAL")
        assert (item["suppressed"], item["current"], item["respondents"], item["rounds"],
                item["rounds_withheld"], item["withheld_reason"]) == (False, 4.0, 16, 3, 1, None)


async def test_refusals_change_nothing(stack, nats_server):
    db = stack.db_urls["indicators"]
    theme = await new_theme(stack, nats_server.url)
    org = uid()
    async with client(stack, "coordinator") as coord, client(stack, "implementer", org) as impl, \
            client(stack, "funder", org) as funder, client(stack, None) as public:
        goal = await new_goal(coord, theme, "MOBILITY", [indicator("EECO01", 0, 10)])

        async def state():
            return (await scalar(db, "SELECT count(*) FROM goal"),
                    await scalar(db, "SELECT count(*) FROM goal_indicator"),
                    await scalar(db, "SELECT count(*) FROM goal_revision"),
                    await scalar(db, "SELECT count(*) FROM outbox"),
                    await scalar(db, "SELECT version FROM goal WHERE id=:i", i=goal["id"]))

        before = await state()
        gid = goal["id"]
        new = {"theme_id": theme, "code": "X1", "name": {"fi": "X"}}
        # Wrong role, or nobody.
        for c in (impl, funder):
            problem(await c.post("/goals", json=new), 403)
            problem(await c.put(f"/goals/{gid}/indicators", json=[indicator("EECO01", 0, 1)]), 403)
            problem(await c.patch(f"/goals/{gid}", json={"name": {"fi": "Y"}}), 403)
        problem(await public.post("/goals", json=new), 401)
        # An indicator the catalogue does not have: 422 naming the field.
        err = problem(await coord.put(f"/goals/{gid}/indicators", json=[
            indicator("EECO01", 0, 5), indicator("NO_SUCH_INDICATOR", 0, 1)]), 422)
        assert [(e["field"], e["type"]) for e in err["errors"]] == [("body/1/indicator_code", "unknown")]
        # Other bad indicator lists.
        for body, field, kind in (
            ([indicator("QWL_INDEX", 50, 150)], "body/0/target", "out_of_bounds"),
            ([indicator("EECO01", 0, 5), indicator("EECO01", 0, 6)], "body/1/period", "duplicate"),
            ([indicator("EECO01", 0, 5, period="2027-2021")], "body/0/period", "period"),
            ([indicator("EECO01", 0, 5, period="21-27")], "body/0/period", None),
            ([{**indicator("EECO01", 0, 5), "bogus": 1}], "body/0/bogus", None),
            ([indicator("EECO01", 0, 5)] * 51, "body", None),
        ):
            err = problem(await coord.put(f"/goals/{gid}/indicators", json=body), 422)
            assert any(e["field"] == field and (kind is None or e["type"] == kind)
                       for e in err["errors"]), (field, err)
        # An unknown theme: a reference in the body is 422 naming it; a path is 404.
        err = problem(await coord.post("/goals", json={**new, "theme_id": uid()}), 422)
        assert err["errors"][0]["field"] == "body/theme_id"
        problem(await public.get(f"/analyses/themes/{uid()}/goals"), 404)
        # A goal that does not exist, a code the theme has, a name without Finnish.
        missing = uid()
        problem(await coord.put(f"/goals/{missing}/indicators", json=[]), 404)
        problem(await coord.patch(f"/goals/{missing}", json={"position": 2}), 404)
        problem(await public.get(f"/goals/{missing}"), 404)
        problem(await public.get(f"/goals/{missing}/history"), 404)
        problem(await coord.post("/goals", json={**new, "code": "MOBILITY"}), 409)
        problem(await coord.post("/goals", json={**new, "name": {"en": "X"}}), 422)
        problem(await coord.patch(f"/goals/{gid}", json={"name": None}), 422)
        problem(await coord.post("/goals", json={**new, "code": "X" * 65}), 422)
        assert await state() == before


async def test_seed_goals_loads_the_theme_cards_six_goals_once(stack, nats_server):
    theme = await new_theme(stack, nats_server.url)
    assert "6 goals" in stack.run_cli("indicators", "seed-goals", "--theme-id", theme)
    assert "0 goals" in stack.run_cli("indicators", "seed-goals", "--theme-id", theme)
    async with client(stack, None) as public:
        view = await theme_goals(public, theme)
    assert [g["code"] for g in view["goals"]] == [
        "LEARNING_CLIMATE", "COMPETENCE_WELLBEING_PRODUCTIVITY", "READINESS_FOR_CHANGE",
        "PROFESSIONAL_MOBILITY", "INTERNATIONAL_EXPERTS", "BUSINESS_SERVICES_COOPERATION"]
    assert all(g["name"]["fi"] and g["name"]["sv"] and g["name"]["en"] for g in view["goals"])
    items = [i for g in view["goals"] for i in g["indicators"]]
    # Every number is a placeholder, and marked so; with no projects every indicator is a gap.
    assert items and all(i["unverified"] for i in items)
    assert {"UWES_TOTAL", "QWL_INDEX", "TYO2030_TOOLS", "EECO13"} <= {i["indicator_code"] for i in items}
    assert len(view["gaps"]["indicators_not_reported"]) == len(items)
    assert view["gaps"]["goals_without_indicators"] == []
