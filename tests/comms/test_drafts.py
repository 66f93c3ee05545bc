"""Drafts made from other services' events, decided by rules a coordinator can change."""

from __future__ import annotations

from shared.contracts import indicators as ind
from shared.contracts import registry as reg
from tests.comms.helpers import client, problem, publish, rows, uid
from tests.conftest import eventually


async def _drafts(stack, source_event_id: str) -> list[dict]:
    return await rows(stack.db_urls["comms"],
                      "SELECT id, kind, status, title, project_ids, practice_ids, indicator_codes, "
                      "organisation_id, created_by FROM content_item WHERE source_event_id LIKE :s",
                      s=source_event_id + ":%")


async def _project(nats_url, pid: str, org: str, status: str = "active", version: int = 1):
    return await publish(nats_url, reg.PROJECT_CREATED, pid, {
        "id": pid, "version": version, "code": f"D-{pid}",
        "name": {"fi": f"Hanke {pid}", "en": f"Project {pid}"},
        "status": status, "organisation_id": org, "region_codes": ["06"]})


async def test_each_kind_of_event_drafts_an_item(gw, stack, nats_server):
    url = nats_server.url
    pid, org = f"p{uid()}", f"org-{uid()}"
    await _project(url, pid, org)
    await eventually(lambda: _projected(gw, pid))
    practice = f"pr{uid()}"
    published = await publish(url, reg.PRACTICE_PUBLISHED, practice, {
        "id": practice, "version": 1, "name": {"fi": "Joustotyö", "en": "Flexible work"},
        "maturity": "piloted", "project_ids": [pid], "published": True})
    ended = await publish(url, reg.PROJECT_STATUS_CHANGED, pid, {
        "id": pid, "version": 2, "code": f"D-{pid}", "from_status": "active", "to_status": "ended",
        "date": "2026-11-01"})
    approved = await publish(url, ind.REPORT_APPROVED, f"r{uid()}", {
        "id": f"r{uid()}", "project_id": pid, "period": "2026H1", "revision": 1, "status": "approved",
        "indicator_codes": ["EECO01"]}, source="/teke/indicators")
    reached = await publish(url, ind.TARGET_REACHED, f"t{uid()}", {
        "id": f"t{uid()}", "project_id": pid, "indicator_code": "EECO01", "target_value": 100,
        "value": 120, "period": "2026H1", "reached_on": "2026-10-01"}, source="/teke/indicators")
    closed = await publish(url, ind.SURVEY_ROUND_CLOSED, f"s{uid()}", {
        "id": f"s{uid()}", "project_id": pid, "instrument": "wellbeing", "label": "T1",
        "closed_at": "2026-10-01T12:00:00Z", "results_available": True}, source="/teke/indicators")
    adopted = await publish(url, reg.ADOPTION_RECORDED, f"a{uid()}", {
        "id": f"a{uid()}", "practice_id": practice, "organisation_id": "org-x", "adopted_on": "2026-10-02",
        "scope": "organisation", "region_code": "06"})

    expectations = [
        (published, "practice_highlight", "Hyvä käytäntö: Joustotyö"),
        (ended, "news", f"Hanke D-{pid} päättyi: tulokset"),
        (approved, "news", f"Raportti hyväksytty: D-{pid} 2026H1"),
        (reached, "news", f"Tavoite saavutettu: EECO01 (D-{pid})"),
        (closed, "news", "Kyselykierros T1 päättyi"),
        (adopted, "news", "Käytäntö otettiin käyttöön uudessa organisaatiossa"),
    ]
    for env, kind, title in expectations:
        drafts = await eventually(lambda env=env: _drafts(stack, env["id"]))
        assert len(drafts) == 1, drafts
        d = (await gw.get(f"/content/{drafts[0]['id']}")).json()
        assert d["kind"] == kind and d["status"] == "draft"
        assert d["title"]["fi"] == title, (title, d["title"])
        assert d["created_by"].startswith("rule:")
    async def draft(env):
        return (await gw.get(f"/content/{(await _drafts(stack, env['id']))[0]['id']}")).json()

    ended_draft = await draft(ended)
    assert ended_draft["project_ids"] == [pid] and ended_draft["organisation_id"] == org
    assert ended_draft["regions"] == ["06"]
    assert (await draft(published))["practice_ids"] == [practice]
    assert (await draft(reached))["indicator_codes"] == ["EECO01"]
    # The owning implementer sees the project's draft; the public does not.
    async with client(stack, "implementer", org=org) as impl:
        r = await impl.get(f"/content/{ended_draft['id']}")
        assert r.status_code == 200 and "Project" in r.json()["body"]["en"]
    async with client(stack) as anon:
        problem(await anon.get(f"/content/{ended_draft['id']}"), 404)


async def test_conditions_and_disabled_rules_draft_nothing(gw, stack, nats_server):
    url = nats_server.url
    pid = f"p{uid()}"
    await _project(url, pid, "org-c")
    await eventually(lambda: _projected(gw, pid))
    started = await publish(url, reg.PROJECT_STATUS_CHANGED, pid, {
        "id": pid, "version": 2, "code": f"D-{pid}", "from_status": "planned", "to_status": "active",
        "date": "2026-01-01"})
    no_results = await publish(url, ind.SURVEY_ROUND_CLOSED, f"s{uid()}", {
        "id": f"s{uid()}", "instrument": "w", "label": "T0", "closed_at": "2026-10-01T12:00:00Z",
        "results_available": False}, source="/teke/indicators")
    rules = (await gw.get("/content/rules")).json()["items"]
    rule = next(r for r in rules if r["event_type"] == ind.TARGET_REACHED)
    r = await gw.patch(f"/content/rules/{rule['id']}", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["version"] == 2
    try:
        reached = await publish(url, ind.TARGET_REACHED, f"t{uid()}", {
            "id": f"t{uid()}", "project_id": pid, "indicator_code": "X", "target_value": 1, "value": 2,
            "period": "2026", "reached_on": "2026-10-01"}, source="/teke/indicators")
        # A later event on the same stream shows the earlier ones were handled.
        marker = await publish(url, ind.REPORT_APPROVED, f"r{uid()}", {
            "id": f"r{uid()}", "project_id": pid, "period": "2026", "revision": 1, "status": "approved"},
            source="/teke/indicators")
        await eventually(lambda: _drafts(stack, marker["id"]))
        for env in (started, no_results, reached):
            assert await _drafts(stack, env["id"]) == []
    finally:
        await gw.patch(f"/content/rules/{rule['id']}", json={"enabled": True})


async def test_rules_are_data_coordinators_change(gw, stack):
    r = await gw.post("/content/rules", json={
        "event_type": reg.WORKPLACE_JOINED, "kind": "news", "title_template": {"fi": "Uusi työpaikka"},
        "body_template": {"fi": "Työpaikka {organisation_id} liittyi."},
        "conditions": {"size_class": "small"}})
    assert r.status_code == 201, r.text
    problem(await gw.post("/content/rules", json={"event_type": "x", "kind": "gossip",
                                                  "title_template": {"fi": "t"},
                                                  "body_template": {"fi": "b"}}), 422)
    problem(await gw.patch("/content/rules/nope", json={"enabled": False}), 404)
    problem(await gw.patch(f"/content/rules/{r.json()['id']}", json={"colour": 1}), 422)
    async with client(stack, "implementer", org="o") as impl:
        problem(await impl.get("/content/rules"), 403)
        problem(await impl.patch(f"/content/rules/{r.json()['id']}", json={"enabled": False}), 403)


async def _projected(gw, pid: str):
    return (await gw.get(f"/comms/projects/{pid}")).status_code == 200
