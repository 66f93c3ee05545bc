"""Theme evaluations with recommendations followed to their outcome, follow-ups of ended projects
and the continuation figure, through the gateway: the data, the events, and the refusals."""

from __future__ import annotations

import datetime as dt
import json

import nats
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts import CATALOGUE
from shared.contracts import coordination as cc
from shared.jsonutil import loads
from tests.conftest import eventually, scalar
from tests.registry.conftest import code, new_org, problem

TODAY = dt.date.today()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


async def _theme(gw) -> dict:
    r = await gw.post("/themes", json={"code": code("TH"), "name": {"fi": "Työelämän kehittäminen"}})
    assert r.status_code == 201, r.text
    return r.json()


async def _project(gw, org_id: str, theme_id: str, **extra) -> dict:
    r = await gw.post("/projects", json={"code": code("EV"), "name": {"fi": "Hanke"},
                                         "organisation_id": org_id, "theme_id": theme_id,
                                         "published": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def _practice(gw, project_id: str, **extra) -> dict:
    r = await gw.post("/practices", json={"name": {"fi": f"Malli {code()}"},
                                          "project_ids": [project_id], "published": True, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def _outbox(stack, entity_id: str) -> list[dict]:
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT envelope FROM outbox WHERE entity_id = :i ORDER BY seq"), {"i": entity_id})).all()
    finally:
        await engine.dispose()
    envelopes = [loads(e) for (e,) in rows]
    for env in envelopes:  # every payload is what its contract says
        CATALOGUE[env["type"]].model_validate(env["data"])
    return envelopes


async def _on_stream(nats_url: str, subject: str, entity_id: str) -> list[dict]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(subject, durable=None)
        found = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=1.0)
            except TimeoutError:
                break
            found += [e for e in (json.loads(m.data) for m in msgs) if e["subject"] == entity_id]
            if len(msgs) < 500:
                break
        return found
    finally:
        await nc.close()


async def _count(stack, table: str) -> int:
    return await scalar(stack.db_urls["registry"], f"SELECT count(*) FROM {table}")  # noqa: S608


async def test_evaluation_recommendations_followed_to_their_outcome(gw, client_for, stack,
                                                                    nats_server):
    theme = await _theme(gw)
    org = await new_org(gw)
    p = await _project(gw, org["id"], theme["id"])
    pr = await _practice(gw, p["id"])
    coord = client_for("coordinator")
    r = await coord.post("/theme-evaluations", json={
        "theme_id": theme["id"], "kind": "mid_term", "evaluator": "Arviointi Oy",
        "title": {"fi": "Väliarviointi", "en": "Mid-term evaluation"}, "started": days_ago(200),
        "questions": [{"fi": "Ovatko hyvät käytännöt jääneet elämään?"}]})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert (ev["status"], ev["version"], ev["recommendations"]) == ("ongoing", 1, [])
    assert "created_by" not in ev and r.headers["ETag"] == f'"{ev["id"]}:1"'

    public = client_for()
    assert (await public.get("/theme-evaluations", params={"theme_id": theme["id"]})).json()[
        "total"] == 0  # ongoing: not public yet
    problem(await public.get(f"/theme-evaluations/{ev['id']}"), 404)
    funder = client_for("funder", (await new_org(gw))["id"])
    assert (await funder.get("/theme-evaluations", params={"theme_id": theme["id"]})).json()[
        "total"] == 1

    r = await coord.post(f"/theme-evaluations/{ev['id']}/recommendations", json={
        "text": {"fi": "Kootaan hyvät käytännöt kansalliseen palveluvalikoimaan."},
        "project_ids": [p["id"]], "addressee": "TEM"})
    assert r.status_code == 201, r.text
    rec1 = r.json()
    assert (rec1["number"], rec1["status"], rec1["project_ids"], rec1["theme_id"]) == \
        (1, "proposed", [p["id"]], theme["id"])
    rec2 = (await coord.post(f"/theme-evaluations/{ev['id']}/recommendations", json={
        "text": {"fi": "Mallin levitys muille alueille."}, "practice_ids": [pr["id"]]})).json()
    assert rec2["number"] == 2 and rec2["practice_ids"] == [pr["id"]]

    for to, ago in (("accepted", 30), ("in_progress", 20)):
        r = await coord.post(f"/recommendations/{rec1['id']}/transitions",
                             json={"to": to, "note": f"ohjausryhmä: {to}", "date": days_ago(ago)})
        assert r.status_code == 200, r.text
    r = await coord.post(f"/recommendations/{rec1['id']}/transitions",
                         json={"to": "implemented", "note": "palvelu käytössä", "date": days_ago(1)})
    done = r.json()
    assert done["status"] == "implemented" and done["status_date"] == days_ago(1)
    assert [(s["from_status"], s["to_status"]) for s in done["steps"]] == [
        ("proposed", "accepted"), ("accepted", "in_progress"), ("in_progress", "implemented")]
    assert all(s["actor"] for s in done["steps"])

    # An outcome is final; a rejection needs its reason; neither writes anything.
    steps = await _count(stack, "recommendation_step")
    err = problem(await coord.post(f"/recommendations/{rec1['id']}/transitions",
                                   json={"to": "rejected", "note": "x"}), 409)
    assert err["errors"][0]["field"] == "body/to"
    err = problem(await coord.post(f"/recommendations/{rec2['id']}/transitions",
                                   json={"to": "rejected"}), 422)
    assert err["errors"][0]["field"] == "body/note"
    problem(await coord.post(f"/recommendations/{rec2['id']}/transitions",
                             json={"to": "implemented"}), 409)
    problem(await coord.post(f"/recommendations/{rec2['id']}/transitions",
                             json={"to": "accepted", "date": (TODAY + dt.timedelta(days=2)).isoformat()}),
            422)
    problem(await client_for("implementer", org["id"]).post(
        f"/recommendations/{rec2['id']}/transitions", json={"to": "accepted"}), 404)  # not public yet
    assert await _count(stack, "recommendation_step") == steps

    # Completing needs the findings; then the public reads it, without who did what.
    err = problem(await coord.patch(f"/theme-evaluations/{ev['id']}",
                                    json={"completed": days_ago(5)}), 422)
    assert err["errors"][0]["field"] == "body/findings"
    problem(await coord.patch(f"/theme-evaluations/{ev['id']}", headers={"If-Match": '"x:9"'},
                              json={"completed": days_ago(5), "findings": {"fi": "Hyvä."}}), 412)
    r = await coord.patch(f"/theme-evaluations/{ev['id']}", headers={"If-Match": f'"{ev["id"]}:1"'},
                          json={"completed": days_ago(5),
                                "findings": {"fi": "Käytännöt leviävät hitaasti."}})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["status"] == "completed"
    listed = (await public.get("/theme-evaluations", params={"theme_id": theme["id"],
                                                            "limit": 20})).json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert [(x["number"], x["status"]) for x in item["recommendations"]] == \
        [(1, "implemented"), (2, "proposed")]
    assert "actor" not in str(item) and "created_by" not in str(item)
    implementer = client_for("implementer", org["id"])
    r = await implementer.post(f"/recommendations/{rec2['id']}/transitions", json={"to": "accepted"})
    problem(r, 403)

    # The recommendations that concern the project: linked to it or to its practice.
    concern = (await public.get(f"/projects/{p['id']}/recommendations")).json()["items"]
    assert [x["id"] for x in concern] == [rec1["id"], rec2["id"]]

    # Events: recorded, updated, recommendation recorded and transitioned, valid and on the stream.
    types = [e["type"] for e in await _outbox(stack, ev["id"])]
    assert types == [cc.THEME_EVALUATION_RECORDED, cc.THEME_EVALUATION_UPDATED]
    updated = (await _outbox(stack, ev["id"]))[1]["data"]
    assert set(updated["changed_fields"]) == {"completed", "findings"}
    rec_events = await _outbox(stack, rec1["id"])
    assert [e["type"] for e in rec_events] == [cc.RECOMMENDATION_RECORDED] + \
        [cc.RECOMMENDATION_TRANSITIONED] * 3
    assert rec_events[-1]["data"]["to_status"] == "implemented"
    assert "actor" not in str(rec_events)
    async def three_on_stream():
        found = await _on_stream(nats_server.url, "teke.registry.recommendation.transitioned",
                                 rec1["id"])
        return found if len(found) == 3 else None

    await eventually(three_on_stream)

    # The theme view carries the evaluations with their recommendations.
    view = (await gw.get(f"/views/themes/{theme['id']}")).json()
    assert view["evaluations"]["items"][0]["recommendations"][0]["status"] == "implemented"


async def test_evaluation_refusals_change_nothing(gw, client_for, stack):
    theme = await _theme(gw)
    org = await new_org(gw)
    p = await _project(gw, org["id"], theme["id"])
    body = {"theme_id": theme["id"], "kind": "final", "evaluator": "Arvio Oy",
            "started": days_ago(10)}
    before = await _count(stack, "theme_evaluation")
    problem(await client_for("implementer", org["id"]).post("/theme-evaluations", json=body), 403)
    problem(await client_for("funder", org["id"]).post("/theme-evaluations", json=body), 403)
    problem(await client_for().post("/theme-evaluations", json=body), 401)
    for bad, field in [({**body, "theme_id": "no-such-theme"}, "body/theme_id"),
                       ({**body, "kind": "annual"}, "body/kind"),
                       ({k: v for k, v in body.items() if k != "evaluator"}, "body/evaluator"),
                       ({**body, "completed": days_ago(20), "findings": {"fi": "x"}}, "body/completed"),
                       ({**body, "evaluator": "x" * 201}, "body/evaluator"),
                       ({**body, "questions": [{"fi": "k"}] * 51}, "body/questions"),
                       ({**body, "report_url": "javascript:alert(1)"}, "body/report_url"),
                       ({**body, "started": 20240101}, "body/started")]:
        err = problem(await gw.post("/theme-evaluations", json=bad), 422)
        assert err["errors"][0]["field"] == field, (bad, err)
    assert await _count(stack, "theme_evaluation") == before

    ev = (await gw.post("/theme-evaluations", json=body)).json()
    problem(await gw.patch(f"/theme-evaluations/{ev['id']}", json={"theme_id": "other"}), 422)
    problem(await client_for("implementer", org["id"]).patch(
        f"/theme-evaluations/{ev['id']}", json={"evaluator": "Minä"}), 404)
    problem(await gw.get("/theme-evaluations/no-such-evaluation"), 404)
    problem(await gw.get("/theme-evaluations", params={"theme_id": "no-such-theme"}), 404)

    # A recommendation linked to a project or practice that does not exist writes nothing.
    recs, links = await _count(stack, "recommendation"), await _count(stack, "recommendation_link")
    url = f"/theme-evaluations/{ev['id']}/recommendations"
    err = problem(await gw.post(url, json={"text": {"fi": "t"},
                                           "project_ids": [p["id"], "no-such-project"]}), 422)
    assert err["errors"][0]["field"] == "body/project_ids/1"
    err = problem(await gw.post(url, json={"text": {"fi": "t"}, "practice_ids": ["nope"]}), 422)
    assert err["errors"][0]["field"] == "body/practice_ids/0"
    err = problem(await gw.post(url, json={"text": {"fi": "t"}, "project_ids": [p["id"], p["id"]]}),
                  422)
    assert err["errors"][0]["field"] == "body/project_ids/1"
    problem(await gw.post(url, json={"text": {"fi": ""}}), 422)
    problem(await gw.post(url, json={"text": {"fi": "t"}, "project_ids": ["x"] * 101}), 422)
    problem(await client_for("implementer", org["id"]).post(url, json={"text": {"fi": "t"}}), 404)
    problem(await gw.post("/theme-evaluations/nope/recommendations", json={"text": {"fi": "t"}}),
            404)
    problem(await gw.post("/recommendations/nope/transitions", json={"to": "accepted"}), 404)
    problem(await gw.post("/recommendations/nope/transitions", json={"to": "done"}), 422)
    assert (await _count(stack, "recommendation"), await _count(stack, "recommendation_link")) == \
        (recs, links)
    problem(await gw.get("/projects/no-such-project/recommendations"), 404)


async def test_follow_ups_of_ended_projects_and_the_continuation_figure(gw, client_for, stack,
                                                                       nats_server):
    theme = await _theme(gw)
    org, user, stranger = (await new_org(gw)), (await new_org(gw)), (await new_org(gw))
    ended = {"status": "ended", "start_date": "2021-01-01"}
    p1 = await _project(gw, org["id"], theme["id"], **ended, end_date=days_ago(800))
    p2 = await _project(gw, org["id"], theme["id"], **ended, end_date=days_ago(380),
                        published=False)
    p3 = await _project(gw, org["id"], theme["id"], status="active", start_date="2023-01-01",
                        end_date=(TODAY + dt.timedelta(days=90)).isoformat())
    p4 = await _project(gw, org["id"], theme["id"], **ended, end_date=days_ago(20))
    await _project(gw, org["id"], theme["id"], **ended, end_date=days_ago(900))  # due, not followed
    x1, x2 = (await _practice(gw, p1["id"])), (await _practice(gw, p1["id"]))
    y1 = await _practice(gw, p2["id"])
    z1 = await _practice(gw, p3["id"])
    w1 = await _practice(gw, p4["id"])
    own = client_for("implementer", org["id"])

    r = await own.post(f"/projects/{p1['id']}/follow-ups", json={
        "months": 12, "date": days_ago(30), "practices": [
            {"practice_id": x1["id"], "in_use": True, "note": "osa perehdytystä",
             "used_by": [{"organisation_id": user["id"]}, {"name": "Pohjoisen kunta"}]},
            {"practice_id": x2["id"], "in_use": False}]})
    assert r.status_code == 201, r.text
    fu = r.json()
    assert (fu["months"], fu["theme_id"], len(fu["practices"])) == (12, theme["id"], 2)
    assert fu["practices"][0]["used_by"] == [
        {"organisation_id": user["id"], "name": user["name"]["fi"]},
        {"organisation_id": None, "name": "Pohjoisen kunta"}]
    assert (await own.post(f"/projects/{p1['id']}/follow-ups", json={
        "months": 6, "date": days_ago(200), "practices": [
            {"practice_id": x1["id"], "in_use": True, "used_by": [{"name": "Oma yksikkö"}]},
            {"practice_id": x2["id"], "in_use": True, "used_by": [{"name": "Oma yksikkö"}]}]})
            ).status_code == 201
    assert (await gw.post(f"/projects/{p2['id']}/follow-ups", json={
        "months": 12, "date": days_ago(10), "practices": [
            {"practice_id": y1["id"], "in_use": True, "used_by": [{"organisation_id": org["id"]}]}]})
            ).status_code == 201

    # Refusals: each a clear 4xx problem, nothing written.
    before = (await _count(stack, "follow_up"), await _count(stack, "follow_up_practice"))
    one = [{"practice_id": z1["id"], "in_use": False}]
    err = problem(await own.post(f"/projects/{p3['id']}/follow-ups",
                                 json={"months": 6, "date": days_ago(1), "practices": one}), 409)
    assert "not ended" in err["detail"]
    err = problem(await own.post(f"/projects/{p4['id']}/follow-ups", json={
        "months": 6, "date": days_ago(1), "practices": [{"practice_id": w1["id"], "in_use": False}]}),
        422)
    assert err["errors"][0]["field"] == "body/date" and "due from" in err["detail"]
    fu_ok = {"months": 24, "date": days_ago(1),
             "practices": [{"practice_id": x1["id"], "in_use": False}]}
    for body, field in [
            ({**fu_ok, "date": (TODAY + dt.timedelta(days=1)).isoformat()}, "body/date"),
            ({**fu_ok, "date": days_ago(200)}, "body/date"),
            ({**fu_ok, "months": 18}, "body/months"),
            ({**fu_ok, "practices": [{"practice_id": y1["id"], "in_use": False}]},
             "body/practices/0/practice_id"),
            ({**fu_ok, "practices": [{"practice_id": x1["id"], "in_use": True}]},
             "body/practices/0/used_by"),
            ({**fu_ok, "practices": [{"practice_id": x1["id"], "in_use": True,
                                      "used_by": [{"organisation_id": "nope"}]}]},
             "body/practices/0/used_by/0/organisation_id"),
            ({**fu_ok, "practices": []}, "body/practices"),
            ({**fu_ok, "practices": [{"practice_id": x1["id"], "in_use": False}] * 2},
             "body/practices/1/practice_id")]:
        err = problem(await own.post(f"/projects/{p1['id']}/follow-ups", json=body), 422)
        assert err["errors"][0]["field"] == field, (body, err)
    err = problem(await own.post(f"/projects/{p1['id']}/follow-ups", json={
        "months": 12, "date": days_ago(1), "practices": [{"practice_id": x1["id"], "in_use": False}]}),
        409)
    assert err["errors"][0]["field"] == "body/months"
    stranger_client = client_for("implementer", stranger["id"])
    problem(await stranger_client.post(f"/projects/{p1['id']}/follow-ups", json=fu_ok), 403)
    problem(await stranger_client.post(f"/projects/{p2['id']}/follow-ups", json=fu_ok), 404)
    problem(await stranger_client.get(f"/projects/{p2['id']}/follow-ups"), 404)
    problem(await client_for().post(f"/projects/{p1['id']}/follow-ups", json=fu_ok), 401)
    problem(await gw.post("/projects/no-such-project/follow-ups", json=fu_ok), 404)
    assert (await _count(stack, "follow_up"), await _count(stack, "follow_up_practice")) == before

    # The project's follow-ups: in month order; notes only for those who see its private parts.
    mine = (await own.get(f"/projects/{p1['id']}/follow-ups")).json()["items"]
    assert [f["months"] for f in mine] == [6, 12]
    assert any(x.get("note") for x in mine[1]["practices"])
    public = (await client_for().get(f"/projects/{p1['id']}/follow-ups")).json()["items"]
    assert "note" not in str(public) and len(public[1]["practices"]) == 2

    # The figure: of 4 ended projects (p4 ended 20 days ago), 2 followed at 12 months, 3
    # practices followed, 2 still in use; the one that ended 900 days ago is due.
    c = (await gw.get("/continuation", params={"theme_id": theme["id"], "months": 12})).json()
    assert {k: c[k] for k in ("months", "ended_projects", "projects_followed", "projects_due",
                              "practices_followed", "practices_in_use", "share_in_use")} == \
        {"months": 12, "ended_projects": 4, "projects_followed": 2, "projects_due": 1,
         "practices_followed": 3, "practices_in_use": 2, "share_in_use": 0.667}
    assert {(i["practice_id"], i["in_use"], i["users"]) for i in c["items"]} == \
        {(x1["id"], True, 2), (x2["id"], False, 0), (y1["id"], True, 1)}
    # The practices followed a page at a time, by next_cursor, in the same order.
    params = {"theme_id": theme["id"], "months": 12, "limit": 2}
    page1 = (await gw.get("/continuation", params=params)).json()
    page2 = (await gw.get("/continuation", params={**params, "cursor": page1["next_cursor"]})).json()
    assert (len(page1["items"]), page1["total"], len(page2["items"]), page2["next_cursor"]) == \
        (2, 3, 1, None)
    assert page1["items"] + page2["items"] == c["items"] and page2["practices_followed"] == 3
    problem(await gw.get("/continuation", params={**params, "cursor": "bm90LWEtY3Vyc29y"}), 422)
    six = (await gw.get("/continuation", params={"theme_id": theme["id"], "months": 6})).json()
    assert (six["projects_followed"], six["practices_followed"], six["practices_in_use"],
            six["share_in_use"]) == (1, 2, 2, 1.0)
    # The public does not see the unpublished p2 (nor count it).
    pub = (await client_for().get("/continuation", params={"theme_id": theme["id"]})).json()
    assert (pub["ended_projects"], pub["projects_followed"], pub["practices_followed"],
            pub["practices_in_use"], pub["share_in_use"]) == (3, 1, 2, 1, 0.5)
    problem(await gw.get("/continuation", params={"months": 7}), 422)
    problem(await gw.get("/continuation", params={"theme_id": "no-such-theme"}), 404)
    view = (await gw.get(f"/views/themes/{theme['id']}")).json()
    assert view["continuation"]["practices_in_use"] == 2

    # follow_up.recorded: valid, without notes or names of users, and on the stream.
    events = await _outbox(stack, fu["id"])
    assert [e["type"] for e in events] == [cc.FOLLOW_UP_RECORDED]
    data = events[0]["data"]
    assert data["practices"][0] == {"practice_id": x1["id"], "in_use": True,
                                    "organisation_ids": [user["id"]], "users": 2}
    assert "osa perehdytystä" not in str(data)
    assert await eventually(lambda: _on_stream(nats_server.url, "teke.registry.follow_up.recorded",
                                               fu["id"]))
