"""Project outputs (tuotokset) and lessons learned / recommendations: data, versions, history,
the change feed, events on JetStream, refusals that write nothing, theme filter and exports."""

from __future__ import annotations

import csv
import io
import uuid

import nats
from openpyxl import load_workbook
from sqlalchemy import text

from registry import demo
from registry.cli import MIGRATIONS
from shared.contracts import CATALOGUE
from shared.contracts import coordination as contracts
from shared.db import create_engine, make_sessionmaker
from shared.jsonutil import loads
from shared.migrate import upgrade
from tests.conftest import eventually, scalar
from tests.registry.conftest import code, new_org, problem
from tests.support import databases

REPORT = {"kind": "report", "title": {"fi": "Loppuraportti", "sv": "Slutrapport"},
          "language": "fi", "url": "https://example.fi/raportti.pdf", "date": "2020-12-31",
          "description": {"fi": "Hankkeen tulokset."}}
RECOMMENDATION = {"kind": "recommendation", "audience": "next_programme_period",
                  "topic": "administration",
                  "text": {"fi": "Rahoittajien yhteistyö seuraavalla ohjelmakaudella."}}


async def _theme(gw) -> dict:
    r = await gw.post("/themes", json={"code": code("T"), "name": {"fi": "Teema"}})
    assert r.status_code == 201, r.text
    return r.json()


async def _project(gw, org: dict, *, theme: dict | None = None, published: bool = True) -> dict:
    body = {"code": code("OUT"), "name": {"fi": "Hanke"}, "organisation_id": org["id"],
            "published": published}
    if theme:
        body["theme_id"] = theme["id"]
    r = await gw.post("/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def _events(nats_url: str, entity: str, ids: set[str]) -> list[dict]:
    """The envelopes on the registry's stream about `ids`, in stream order."""
    nc = await nats.connect(nats_url)
    found = []
    try:
        sub = await nc.jetstream().subscribe(f"teke.registry.{entity}.>", stream="TEKE_REGISTRY",
                                             ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                break
            env = loads(msg.data)
            if env["subject"] in ids:
                found.append(env)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def _rows(stack, table: str, project_id: str) -> int:
    return await scalar(stack.db_urls["registry"],
                        f"SELECT count(*) FROM {table} WHERE project_id = :p", p=project_id)  # noqa: S608


async def _outbox_about(stack, project_id: str) -> int:
    return await scalar(stack.db_urls["registry"],
                        "SELECT count(*) FROM outbox WHERE envelope LIKE :p", p=f"%{project_id}%")


async def test_output_lifecycle_history_feed_and_events(gw, stack, client_for, nats_server):
    org = await new_org(gw)
    theme = await _theme(gw)
    p = await _project(gw, org, theme=theme)
    own = client_for("implementer", org["id"])
    r = await own.post(f"/projects/{p['id']}/outputs", json=REPORT)
    assert r.status_code == 201, r.text
    o = r.json()
    assert {k: o[k] for k in REPORT} == REPORT
    assert o["project_id"] == p["id"] and o["version"] == 1
    assert r.headers["etag"] == f'"{o["id"]}:1"'

    # Public reads it (the project is published), one by one and in the project's list.
    public = client_for()
    got = await public.get(f"/projects/{p['id']}/outputs/{o['id']}")
    assert got.status_code == 200 and got.json()["title"] == REPORT["title"]
    listed = (await public.get(f"/projects/{p['id']}/outputs")).json()
    assert listed["total"] == 1 and listed["items"][0]["project_code"] == p["code"]

    # A stale If-Match is refused; a current one changes it; the same values change nothing.
    stale = await own.patch(f"/projects/{p['id']}/outputs/{o['id']}", json={"kind": "toolkit"},
                            headers={"If-Match": f'"{o["id"]}:9"'})
    problem(stale, 412)
    r = await own.patch(f"/projects/{p['id']}/outputs/{o['id']}",
                        json={"kind": "toolkit", "description": None, "language": "sv"},
                        headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    assert (r.json()["kind"], r.json()["description"], r.json()["version"]) == ("toolkit", None, 2)
    same = await own.patch(f"/projects/{p['id']}/outputs/{o['id']}", json={"kind": "toolkit"})
    assert same.json()["version"] == 2

    assert (await own.delete(f"/projects/{p['id']}/outputs/{o['id']}")).status_code == 204
    problem(await public.get(f"/projects/{p['id']}/outputs/{o['id']}"), 404)
    assert (await public.get(f"/projects/{p['id']}/outputs")).json()["total"] == 0

    # History keeps all three steps; the change feed has them too.
    hist = await scalar(stack.db_urls["registry"],
                        "SELECT count(*) FROM history WHERE entity_type = 'project_output' "
                        "AND entity_id = :e", e=o["id"])
    assert hist == 3
    feed = (await gw.get("/changes", params={"entity_type": "project_output",
                                             "limit": 5000})).json()["items"]
    assert [c["action"] for c in feed if c["entity_id"] == o["id"]] == ["create", "update", "delete"]

    envs = await eventually(lambda: _ready(_events(nats_server.url, "project_output", {o["id"]}), 3))
    assert [e["type"] for e in envs] == [contracts.PROJECT_OUTPUT_RECORDED,
                                         contracts.PROJECT_OUTPUT_UPDATED,
                                         contracts.PROJECT_OUTPUT_REMOVED]
    for e in envs:
        CATALOGUE[e["type"]].model_validate(e["data"])
        assert e["data"]["project_id"] == p["id"] and e["data"]["theme_id"] == theme["id"]
    assert envs[0]["data"]["url"] == REPORT["url"] and envs[0]["data"]["project_published"] is True
    assert sorted(envs[1]["data"]["changed_fields"]) == ["description", "kind", "language"]
    assert envs[2]["data"]["version"] == 2


async def _ready(found_coro, n: int):
    found = await found_coro
    return found if len(found) >= n else None


async def test_lesson_lifecycle_and_events(gw, stack, client_for, nats_server):
    org = await new_org(gw)
    p = await _project(gw, org, published=False)
    coordinator = client_for("coordinator")
    r = await coordinator.post(f"/projects/{p['id']}/lessons", json=RECOMMENDATION)
    assert r.status_code == 201, r.text
    lesson = r.json()
    assert {k: lesson[k] for k in RECOMMENDATION} == RECOMMENDATION
    own = client_for("implementer", org["id"])
    second = (await own.post(f"/projects/{p['id']}/lessons", json={
        "kind": "lesson", "audience": "projects", "text": {"fi": "Pilotit ensin."}})).json()
    r = await own.patch(f"/projects/{p['id']}/lessons/{lesson['id']}",
                        json={"topic": None, "text": {"fi": "Uusi", "en": "New"}})
    assert r.status_code == 200 and r.json()["topic"] is None and r.json()["version"] == 2
    # The project is not published: its lessons are not public, but its implementer sees them.
    problem(await client_for().get(f"/projects/{p['id']}/lessons"), 404)
    mine = (await own.get(f"/projects/{p['id']}/lessons", params={"kind": "lesson"})).json()
    assert [x["id"] for x in mine["items"]] == [second["id"]]
    assert (await own.delete(f"/projects/{p['id']}/lessons/{second['id']}")).status_code == 204

    envs = await eventually(lambda: _ready(_events(nats_server.url, "lesson",
                                                   {lesson["id"], second["id"]}), 4))
    assert [(e["type"], e["subject"]) for e in envs] == [
        (contracts.LESSON_RECORDED, lesson["id"]), (contracts.LESSON_RECORDED, second["id"]),
        (contracts.LESSON_UPDATED, lesson["id"]), (contracts.LESSON_REMOVED, second["id"])]
    for e in envs:
        CATALOGUE[e["type"]].model_validate(e["data"])
    assert envs[0]["data"]["project_published"] is False
    assert sorted(envs[2]["data"]["changed_fields"]) == ["text", "topic"]
    hist = await scalar(stack.db_urls["registry"],
                        "SELECT count(*) FROM history WHERE entity_type = 'lesson' "
                        "AND entity_id IN (:a, :b)", a=lesson["id"], b=second["id"])
    assert hist == 4


async def test_refusals_name_the_field_and_write_nothing(gw, stack, client_for):
    org, other = await new_org(gw), await new_org(gw)
    p = await _project(gw, org)
    hidden = await _project(gw, org, published=False)
    own = client_for("implementer", org["id"])
    url = f"/projects/{p['id']}/outputs"
    bad_bodies = [
        ({**REPORT, "url": "javascript:alert(1)"}, "body/url"),
        ({**REPORT, "url": "ftp://example.fi/x"}, "body/url"),
        ({**REPORT, "url": "https://" + "a" * 2000}, "body/url"),
        ({**REPORT, "url": "https://user:pw@example.fi/"}, "body/url"),
        ({**REPORT, "kind": "poster"}, "body/kind"),
        ({**REPORT, "language": "xx"}, "body/language"),
        ({**REPORT, "language": "fin"}, "body/language"),
        ({**REPORT, "title": {"sv": "utan finska"}}, "body/title/fi"),
        ({**REPORT, "date": "31.12.2020"}, "body/date"),
        ({**REPORT, "owner": "x"}, "body/owner"),
    ]
    for body, field in bad_bodies:
        errors = problem(await own.post(url, json=body), 422)["errors"]
        assert any(e["field"] == field for e in errors), (field, errors)
    lesson_url = f"/projects/{p['id']}/lessons"
    for body, field in [({**RECOMMENDATION, "kind": "wish"}, "body/kind"),
                        ({**RECOMMENDATION, "audience": "everyone"}, "body/audience"),
                        ({**RECOMMENDATION, "text": {"fi": "x" * 20_001}}, "body/text/fi")]:
        errors = problem(await own.post(lesson_url, json=body), 422)["errors"]
        assert any(e["field"] == field for e in errors), (field, errors)

    # A stranger's (nonexistent) project, another organisation's implementer, wrong roles.
    problem(await own.post(f"/projects/{uuid.uuid4()}/outputs", json=REPORT), 404)
    problem(await gw.get(f"/projects/{uuid.uuid4()}/outputs"), 404)
    stranger = client_for("implementer", other["id"])
    problem(await stranger.post(url, json=REPORT), 403)  # sees the published project
    problem(await stranger.post(f"/projects/{hidden['id']}/outputs", json=REPORT), 404)
    problem(await stranger.get(f"/projects/{hidden['id']}/outputs"), 404)
    problem(await client_for("viewer").post(lesson_url, json=RECOMMENDATION), 403)
    problem(await client_for().post(url, json=REPORT), 401)

    # Records of one project are not reachable through another; nulls for required fields.
    o = (await own.post(url, json=REPORT)).json()
    other_project = await _project(gw, org)
    problem(await own.patch(f"/projects/{other_project['id']}/outputs/{o['id']}",
                            json={"kind": "toolkit"}), 404)
    problem(await own.delete(f"/projects/{other_project['id']}/outputs/{o['id']}"), 404)
    problem(await stranger.patch(f"{url}/{o['id']}", json={"kind": "toolkit"}), 403)
    problem(await stranger.delete(f"{url}/{o['id']}"), 403)
    errors = problem(await own.patch(f"{url}/{o['id']}", json={"title": None}), 422)["errors"]
    assert errors[0]["field"] == "body/title"
    errors = problem(await own.patch(f"{url}/{o['id']}", json={"url": "data:text/html,x"}),
                     422)["errors"]
    assert errors[0]["field"] == "body/url"
    assert (await own.get(f"{url}/{o['id']}")).json()["version"] == 1

    # Nothing else was written: one output, no lesson, one event about this project's records.
    assert await _rows(stack, "project_output", p["id"]) == 1
    assert await _rows(stack, "lesson", p["id"]) == 0
    assert await _rows(stack, "project_output", hidden["id"]) == 0
    assert await scalar(stack.db_urls["registry"],
                        "SELECT count(*) FROM outbox WHERE envelope LIKE :t AND envelope LIKE :p",
                        t="%project_output.%", p=f"%{p['id']}%") == 1

    # An archived project takes no new records.
    assert (await gw.post(f"/projects/{p['id']}/archive")).status_code == 200
    problem(await gw.post(url, json=REPORT), 409)


async def test_theme_filter_visibility_and_paging(gw, client_for):
    org = await new_org(gw)
    t1, t2 = await _theme(gw), await _theme(gw)
    p1 = await _project(gw, org, theme=t1)
    p1_draft = await _project(gw, org, theme=t1, published=False)
    p2 = await _project(gw, org, theme=t2)
    made = {}
    for project, kind, lang, date in [(p1, "report", "fi", "2020-01-01"),
                                      (p1, "event", "sv", "2019-05-05"),
                                      (p1_draft, "toolkit", "fi", "2021-01-01"),
                                      (p2, "report", "en", "2018-01-01")]:
        r = await gw.post(f"/projects/{project['id']}/outputs",
                          json={**REPORT, "kind": kind, "language": lang, "date": date})
        assert r.status_code == 201, r.text
        made[(project["id"], kind)] = r.json()["id"]
    for project, kind, audience in [(p1, "recommendation", "ministries"),
                                    (p2, "recommendation", "next_programme_period"),
                                    (p1, "lesson", "projects")]:
        r = await gw.post(f"/projects/{project['id']}/lessons",
                          json={**RECOMMENDATION, "kind": kind, "audience": audience})
        assert r.status_code == 201, r.text

    public = client_for()
    r = (await public.get("/outputs", params={"theme_id": t1["id"]})).json()
    assert [i["kind"] for i in r["items"]] == ["event", "report"]  # oldest first, no draft
    assert r["total"] == 2
    admin = (await gw.get("/outputs", params={"theme_id": t1["id"]})).json()
    assert admin["total"] == 3
    own = (await client_for("implementer", org["id"]).get(
        "/outputs", params={"theme_id": t1["id"], "kind": "toolkit"})).json()
    assert [i["id"] for i in own["items"]] == [made[(p1_draft["id"], "toolkit")]]
    assert (await public.get("/outputs", params={"theme_id": t1["id"], "language": "sv"})
            ).json()["total"] == 1
    assert (await public.get("/outputs", params={"theme_id": t1["id"], "date_from": "2019-12-01"})
            ).json()["total"] == 1
    first = (await gw.get("/outputs", params={"theme_id": t1["id"], "limit": 2})).json()
    rest = (await gw.get("/outputs", params={"theme_id": t1["id"], "limit": 2,
                                             "cursor": first["next_cursor"]})).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["id"] for i in first["items"] + rest["items"]} == \
        {made[(p1["id"], "report")], made[(p1["id"], "event")], made[(p1_draft["id"], "toolkit")]}

    lessons = (await public.get("/lessons", params={"theme_id": t2["id"]})).json()
    assert [x["audience"] for x in lessons["items"]] == ["next_programme_period"]
    page = (await public.get("/lessons", params={"theme_id": t1["id"], "limit": 1})).json()
    rest = (await public.get("/lessons", params={"theme_id": t1["id"], "limit": 1,
                                                 "cursor": page["next_cursor"]})).json()
    assert [x["kind"] for x in page["items"] + rest["items"]] == ["lesson", "recommendation"]
    assert page["total"] == 2 and rest["next_cursor"] is None
    assert (await public.get("/lessons", params={"theme_id": t1["id"],
                                                 "audience": "next_programme_period"})
            ).json()["total"] == 0
    for params in ({"kind": "poster"}, {"language": "fin"}, {"limit": 0}, {"cursor": "zz"},
                   {"date_from": "yesterday"}):
        body = problem(await public.get("/outputs", params=params), 422)
        assert body["errors"][0]["field"].startswith("query/"), body
    problem(await public.get("/lessons", params={"audience": "everyone"}), 422)


async def test_exports_label_codes_and_follow_visibility(gw, client_for):
    org = await new_org(gw)
    theme = await _theme(gw)
    p = await _project(gw, org, theme=theme)
    draft = await _project(gw, org, theme=theme, published=False)
    await gw.post(f"/projects/{p['id']}/outputs", json={
        **REPORT, "kind": "service_model", "title": {"fi": "=Palvelumalli", "en": "Service model X"}})
    await gw.post(f"/projects/{draft['id']}/outputs", json=REPORT)
    await gw.post(f"/projects/{p['id']}/lessons", json=RECOMMENDATION)

    public = client_for()
    r = await public.get("/outputs/export", params={"theme_id": theme["id"], "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="outputs.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 1  # the draft project's output is not public
    row = rows[0]
    assert (row["Nimi"], row["Tyyppi"], row["Kieli"], row["Päivämäärä"], row["Linkki"]) == \
        ("'=Palvelumalli", "Palvelumalli", "suomi", "2020-12-31", REPORT["url"])
    assert row["Hankenumero"] == p["code"]

    r = await gw.get("/outputs/export", params={"theme_id": theme["id"], "format": "xlsx",
                                                "lang": "en"})
    values = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert values[0][:4] == ("Title", "Kind", "Language", "Date")
    assert sorted(v[1] for v in values[1:]) == ["Report", "Service model"]  # admin sees both
    assert "Service model X" in {v[0] for v in values[1:]}

    r = await public.get("/lessons/export", params={"theme_id": theme["id"], "format": "json",
                                                    "lang": "en"})
    items = r.json()["items"]
    assert [(i["kind"], i["audience"], i["topic"]) for i in items] == [
        ("Recommendation", "Next programme period", "Administration")]
    problem(await public.get("/outputs/export", params={"format": "pdf"}), 422)


def test_demo_holds_the_seed_projects_outputs_and_recommendations(tmp_path):
    """`make run`'s demo: the 2014-2020 coordination project's outputs and its recommendations
    to the next programme period, written once (a second load adds nothing), with events."""
    url = databases.database_urls(["demo_outputs"], tmp_path)["demo_outputs"]
    upgrade(MIGRATIONS, url)

    async def load_twice():
        engine = create_engine(url)
        try:
            maker = make_sessionmaker(engine)
            counts = [await demo.load(maker, projects=0, organisations=0, practices=0)
                      for _ in range(2)]
            async with engine.connect() as conn:
                lessons = (await conn.execute(text(
                    "SELECT l.kind, l.audience FROM lesson l JOIN project p ON p.id = l.project_id"
                    " WHERE p.code = 'TEM035:00/2017'"))).all()
                kinds = (await conn.execute(text("SELECT kind FROM project_output"))).scalars().all()
                recorded = (await conn.execute(text(
                    "SELECT count(*) FROM outbox WHERE envelope LIKE :t"),
                    {"t": "%project_output.recorded%"})).scalar()
            return counts, lessons, kinds, recorded
        finally:
            await engine.dispose()

    counts, lessons, kinds, recorded = databases.run_async(load_twice())
    assert (counts[0]["outputs"], counts[0]["lessons"]) == (4, 6)
    assert (counts[1]["outputs"], counts[1]["lessons"]) == (0, 0)
    assert sorted(kinds) == ["event", "publication", "report", "service_model"] and recorded == 4
    assert sum(1 for k, a in lessons if (k, a) == ("recommendation", "next_programme_period")) == 3
