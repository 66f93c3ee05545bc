"""Comms drafts from service needs, by the same rule mechanism as other events: a message to
the ministries when a need is forwarded (never public; publishing it only mails the ministries'
listed addresses) and a news item when a need is addressed. End to end: the registry's events
reach comms through NATS."""

from __future__ import annotations

from shared.contracts import coordination as coord
from tests.comms.helpers import client, outbox_events, problem, rows, uid
from tests.comms.peers import text_of
from tests.conftest import eventually

MINISTRIES = ("kirjaamo@tem.test", "kirjaamo@stm.test")


async def _need(gw, tag: str) -> dict:
    theme = (await gw.post("/themes", json={"code": f"T-{tag}", "name": {"fi": "Teema"}})).json()
    r = await gw.post("/service-needs", json={
        "theme_id": theme["id"], "title": {"fi": f"Työkykytuki {tag}", "sv": f"Arbetsförmåga {tag}"},
        "description": {"fi": "Pienet yritykset tarvitsevat työkykytukea."},
        "region_codes": ["06"], "evidence": "Kysely 2025.", "project_ids": []})
    assert r.status_code == 201, r.text
    return r.json()


async def _draft_of(stack, need_id: str, to: str) -> list[dict]:
    envs = [e for e in await outbox_events(stack.db_urls["registry"], coord.SERVICE_NEED_TRANSITIONED,
                                           need_id) if e["data"]["to_status"] == to]
    if not envs:
        return []
    return await rows(stack.db_urls["comms"], "SELECT id FROM content_item WHERE source_event_id LIKE :s",
                      s=envs[0]["id"] + ":%")


async def test_forwarded_need_drafts_a_ministry_message_only_the_ministries_get(gw, stack, smtp_sink):
    tag = uid()
    need = await _need(gw, tag)
    await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": "under_review"})
    reason = "Tarve koskee koko maata; TEM:n ja STM:n päätettävä."
    r = await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": "forwarded", "reason": reason})
    assert r.status_code == 200, r.text

    drafts = await eventually(lambda: _draft_of(stack, need["id"], "forwarded"))
    assert len(drafts) == 1
    item_id = drafts[0]["id"]
    item = (await gw.get(f"/content/{item_id}")).json()
    assert (item["kind"], item["status"], item["channels"]) == ("ministry_message", "draft", ["email"])
    assert item["title"]["fi"] == f"Palvelutarve ministeriöiden käsiteltäväksi: Työkykytuki {tag}"
    assert item["title"]["sv"].endswith(f"Arbetsförmåga {tag}") and reason in item["body"]["fi"]
    assert item["regions"] == ["06"] and item["created_by"].startswith("rule:")

    # Never public: not to the public, a viewer or an implementer; a ministry reads it.
    async with client(stack) as anon, client(stack, "viewer") as viewer, \
            client(stack, "implementer", org=f"org-{tag}") as impl, client(stack, "ministry") as ministry:
        for c in (anon, viewer, impl):
            problem(await c.get(f"/content/{item_id}"), 404)
            listed = (await c.get("/content", params={"kind": "ministry_message", "limit": 200})).json()
            assert item_id not in {i["id"] for i in listed["items"]}
        assert (await ministry.get(f"/content/{item_id}")).status_code == 200
        mine = (await ministry.get("/content", params={"kind": "ministry_message", "limit": 200})).json()
        assert item_id in {i["id"] for i in mine["items"]}
        problem(await ministry.post(f"/content/{item_id}/transitions", json={"to": "published"}), 403)

        # "Published" sends it to the ministries' addresses and nowhere else.
        r = await gw.post(f"/content/{item_id}/transitions", json={"to": "published"})
        assert r.status_code == 200 and r.json()["status"] == "published", r.text

        async def mails():
            got = [m for m in smtp_sink.messages if tag in str(m["Subject"])]
            return got if len(got) >= 2 else None

        got = await eventually(mails)
        assert sorted(m["To"] for m in got) == sorted(MINISTRIES)
        assert reason in text_of(got[0]) and f"Arbetsförmåga {tag}" in text_of(got[0])
        problem(await anon.get(f"/content/{item_id}"), 404)
        rss = await anon.get("/feeds/fi.rss")
        assert rss.status_code == 200 and tag not in rss.text
    assert await outbox_events(stack.db_urls["comms"], "fi.teke.comms.content.published.v1", item_id) == []


async def test_addressed_need_drafts_a_news_item(gw, stack):
    tag = uid()
    need = await _need(gw, tag)
    reason = "Työkykytuki lisättiin TYÖ2030-ohjelman palveluihin."
    for to, why in (("under_review", None), ("addressed", reason)):
        r = await gw.post(f"/service-needs/{need['id']}/transitions", json={"to": to, "reason": why})
        assert r.status_code == 200, r.text
    drafts = await eventually(lambda: _draft_of(stack, need["id"], "addressed"))
    item = (await gw.get(f"/content/{drafts[0]['id']}")).json()
    assert (item["kind"], item["status"]) == ("news", "draft")
    assert item["title"]["fi"] == f"Alueiden palvelutarpeeseen vastattu: Työkykytuki {tag}"
    assert reason in item["body"]["fi"] and f"Arbetsförmåga {tag}" in item["body"]["sv"]
    # The review step drafts nothing.
    assert await _draft_of(stack, need["id"], "under_review") == []
