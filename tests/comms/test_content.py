"""Content items: Markdown sanitised, workflow with who did what, access, scheduling, events."""

from __future__ import annotations

import asyncio

from shared.contracts import comms as contracts
from shared.contracts import registry as reg
from tests.comms.helpers import client, outbox_events, problem, publish, soon, uid
from tests.conftest import eventually, scalar

ITEM = {"kind": "news", "title": {"fi": "Uutinen", "en": "News"},
        "body": {"fi": "Hei **maailma** <script>alert(1)</script> [x](javascript:alert(1))",
                 "en": "Hello *world*"}}


async def test_markdown_is_rendered_and_sanitised(gw):
    r = await gw.post("/content", json=ITEM)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["status"] == "draft"
    html = item["body_html"]["fi"]
    assert "<strong>maailma</strong>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert item["body_html"]["en"] == "<p>Hello <em>world</em></p>\n"
    assert item["channels"] == ["web"]


async def test_workflow_records_who_and_publish_emits_contract_event(gw, stack):
    body = {**ITEM, "project_ids": ["p-1"], "themes": ["tyohyvinvointi"]}
    item = (await gw.post("/content", json=body)).json()
    for step in ("in_review", "published"):
        r = await gw.post(f"/content/{item['id']}/transitions", json={"to": step, "note": step})
        assert r.status_code == 200, r.text
    pub = r.json()
    assert pub["status"] == "published" and pub["published_at"]
    assert pub["published_at_local"].endswith(("+02:00", "+03:00"))
    hist = (await gw.get(f"/content/{item['id']}/history")).json()["items"]
    assert [(h["from_status"], h["to_status"]) for h in hist] == [
        (None, "draft"), ("draft", "in_review"), ("in_review", "published")]
    assert all(h["actor"] for h in hist)
    events = await outbox_events(stack.db_urls["comms"], contracts.CONTENT_PUBLISHED, item["id"])
    assert len(events) == 1
    payload = contracts.ContentPublishedV1.model_validate(events[0]["data"])
    assert payload.id == item["id"] and payload.project_ids == ["p-1"]
    assert payload.title.fi == "Uutinen" and payload.themes == ["tyohyvinvointi"]
    # Published: the public sees it; archived again it leaves the public list.
    async with client(stack) as anon:
        assert (await anon.get(f"/content/{item['id']}")).json()["id"] == item["id"]
        listed = (await anon.get("/content", params={"limit": 200})).json()["items"]
        assert item["id"] in [i["id"] for i in listed]
        assert all(i["status"] == "published" for i in listed)


async def test_bad_input_is_refused_and_changes_nothing(gw, stack):
    before = await scalar(stack.db_urls["comms"], "SELECT count(*) FROM content_item")
    cases = [
        ({**ITEM, "colour": "red"}, "extra_forbidden"),
        ({**ITEM, "kind": "gossip"}, "literal_error"),
        ({**ITEM, "title": {"sv": "bara svenska"}}, "missing"),
        ({**ITEM, "regions": ["99"]}, "value_error"),
        ({**ITEM, "body": {"fi": "x" * 100_001}}, "string_too_long"),
        ({**ITEM, "project_ids": "p-1"}, "json_type"),  # a string where a list is due
    ]
    for body, error_type in cases:
        p = problem(await gw.post("/content", json=body), 422)
        assert error_type in [e["type"] for e in p["errors"]], (body.keys(), p)
    assert await scalar(stack.db_urls["comms"], "SELECT count(*) FROM content_item") == before
    item = (await gw.post("/content", json=ITEM)).json()
    p = problem(await gw.post(f"/content/{item['id']}/transitions", json={"to": "archived2"}), 422)
    p = problem(await gw.post(f"/content/{item['id']}/transitions",
                              json={"to": "scheduled", "scheduled_at": "2020-01-01T00:00:00Z"}), 422)
    assert p["errors"][0]["type"] == "past"
    p = problem(await gw.post(f"/content/{item['id']}/transitions",
                              json={"to": "scheduled", "scheduled_at": "2030-01-01T00:00:00"}), 422)
    p = problem(await gw.post(f"/content/{item['id']}/transitions", json={"to": "draft"}), 422)
    assert p["errors"][0]["type"] == "transition"
    assert (await gw.get(f"/content/{item['id']}")).json()["status"] == "draft"


async def test_implementer_drafts_only_for_own_projects(gw, stack, nats_server):
    org, other = f"org-{uid()}", f"org-{uid()}"
    mine, theirs = f"p-{uid()}", f"p-{uid()}"
    for pid, o in ((mine, org), (theirs, other)):
        await publish(nats_server.url, reg.PROJECT_CREATED, pid, {
            "id": pid, "version": 1, "code": f"C-{pid}", "name": {"fi": "Hanke"}, "status": "active",
            "organisation_id": o, "region_codes": ["01"]})

    async def projected():
        return (await gw.get(f"/comms/projects/{theirs}")).status_code == 200

    await eventually(projected)
    async with client(stack, "implementer", org=org) as impl:
        r = await impl.post("/content", json={**ITEM, "project_ids": [mine]})
        assert r.status_code == 201, r.text
        own = r.json()
        assert own["organisation_id"] == org
        p = problem(await impl.post("/content", json={**ITEM, "project_ids": [theirs]}), 403)
        assert theirs in p["detail"]
        problem(await impl.post("/content", json=ITEM), 422)
        # May submit for review, may not publish.
        r = await impl.post(f"/content/{own['id']}/transitions", json={"to": "in_review"})
        assert r.json()["status"] == "in_review"
        problem(await impl.post(f"/content/{own['id']}/transitions", json={"to": "published"}), 403)
    async with client(stack, "implementer", org=other) as stranger:
        problem(await stranger.get(f"/content/{own['id']}"), 404)
        problem(await stranger.patch(f"/content/{own['id']}", json={"title": {"fi": "Kaapattu"}}), 404)
    async with client(stack) as anon:
        problem(await anon.get(f"/content/{own['id']}"), 404)
        problem(await anon.post("/content", json=ITEM), 401)
    async with client(stack, "viewer") as viewer:
        problem(await viewer.post("/content", json=ITEM), 403)


async def test_scheduled_item_publishes_itself_even_after_a_restart(gw, stack):
    item = (await gw.post("/content", json=ITEM)).json()
    r = await gw.post(f"/content/{item['id']}/transitions", json={"to": "scheduled", "scheduled_at": soon(3)})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled"
    assert r.json()["scheduled_at_local"]
    # The service goes down before the time and comes back after it.
    stack.stop("comms")
    await asyncio.sleep(3.5)
    stack.start("comms")
    stack.wait_ready(("comms",))

    async def published():
        body = (await gw.get(f"/content/{item['id']}")).json()
        return body["status"] == "published" and body

    done = await eventually(published)
    hist = (await gw.get(f"/content/{item['id']}/history")).json()["items"]
    assert hist[-1]["actor"] == "scheduler" and hist[-1]["from_status"] == "scheduled"
    assert done["published_at"] >= done["scheduled_at"]
    events = await outbox_events(stack.db_urls["comms"], contracts.CONTENT_PUBLISHED, item["id"])
    assert len(events) == 1
