"""Plans with progress counted from what comms did; social posts handed to a publishing tool."""

from __future__ import annotations

import datetime as dt

from tests.comms.helpers import all_items, client, problem, soon, uid
from tests.conftest import eventually, scalar

TODAY = dt.date.today()
PLAN = {
    "scope": "theme", "title": {"fi": "Viestintäsuunnitelma"},
    "objectives": ["Tulokset näkyviksi"], "audiences": ["työpaikat", "TE-palvelut"],
    "key_messages": ["Hyvinvointi tuottaa"], "means": ["uutiskirje", "työpajat"],
    "channels": [{"channel": "email", "cadence": "monthly"}, {"channel": "web", "cadence": "weekly"}],
    "audience_kind": "both",
    "period_start": (TODAY - dt.timedelta(days=1)).isoformat(),
    "period_end": (TODAY + dt.timedelta(days=30)).isoformat(),
    "expected_results": [
        {"key": "web-items", "metric": "items_published", "channel": "web", "target": 1000},
        {"key": "participants", "metric": "event_participants", "target": 10},
        {"key": "subs", "metric": "subscribers", "target": 50000},
        {"key": "mails", "metric": "deliveries", "channel": "email", "target": 100000},
    ],
}


async def test_plan_progress_is_counted_not_typed(gw, stack):
    r = await gw.post("/plans", json=PLAN)
    assert r.status_code == 201, r.text
    plan = r.json()
    results = (await gw.get(f"/plans/{plan['id']}/progress")).json()["results"]
    before = {x["key"]: x["actual"] for x in results}
    news = {"kind": "news", "title": {"fi": "P"}, "body": {"fi": "p"}}
    item = (await gw.post("/content", json=news)).json()
    await gw.post(f"/content/{item['id']}/transitions", json={"to": "published"})
    ev = (await gw.post("/events", json={
        "kind": "webinar", "title": {"fi": "W"}, "starts_at": "2031-01-01T10:00:00Z",
        "ends_at": "2031-01-01T11:00:00Z", "online_url": "https://x.example.fi/", "capacity": 5,
        "plan_id": plan["id"]})).json()
    async with client(stack) as anon:
        for i in range(3):
            await anon.post(f"/events/{ev['id']}/registrations",
                            json={"name": "N", "email": f"n{i}-{uid()}@example.fi"})
    after = (await gw.get(f"/plans/{plan['id']}/progress")).json()["results"]
    got = {x["key"]: x for x in after}
    assert got["web-items"]["actual"] == before["web-items"] + 1
    assert got["participants"]["actual"] == 3 and got["participants"]["percent"] == 30.0
    assert got["subs"]["actual"] == await scalar(
        stack.db_urls["comms"], "SELECT count(*) FROM subscriber WHERE status = 'confirmed'")
    # Progress is not a field anyone can write.
    problem(await gw.put(f"/plans/{plan['id']}", json={**{k: v for k, v in PLAN.items() if k != "scope"},
                                                       "progress": 99}), 422)


async def test_plan_input_is_checked(gw, stack):
    before = await scalar(stack.db_urls["comms"], "SELECT count(*) FROM plan")
    body = dict(PLAN)
    for change in [{"period_end": "2000-01-01"}, {"scope": "project"}, {"scope": "region"},
                   {"expected_results": [{"key": "a", "metric": "likes", "target": 1}]},
                   {"expected_results": [{"key": "a", "metric": "subscribers", "target": 0}]},
                   {"expected_results": [{"key": "a", "metric": "subscribers", "target": 1}] * 2},
                   {"channels": [{"channel": "fax", "cadence": "daily"}]}]:
        problem(await gw.post("/plans", json={**body, **change}), 422)
    p = problem(await gw.post("/plans", json={**body, "scope": "project", "project_id": "nope"}), 422)
    assert p["errors"][0]["field"] == "body/project_id"
    async with client(stack, "implementer", org="o") as impl:
        problem(await impl.post("/plans", json=PLAN), 403)
    async with client(stack) as anon:
        problem(await anon.get("/plans"), 401)
    assert await scalar(stack.db_urls["comms"], "SELECT count(*) FROM plan") == before


async def test_social_posts_follow_platform_rules_and_reach_the_tool(gw, stack, webhook_receiver):
    name = f"tool{uid()}"
    tool = (await gw.post("/webhooks", json={"name": name, "url": webhook_receiver.url(name),
                                             "purpose": "social"})).json()
    webhook_receiver.secrets[name] = tool["secret"]
    acc = await gw.post("/social/accounts", json={"platform": "x", "handle": f"@teke{name}",
                                                  "webhook_id": tool["id"]})
    assert acc.status_code == 201, acc.text
    acc = acc.json()
    problem(await gw.post("/social/accounts", json={"platform": "x", "handle": f"@teke{name}",
                                                    "webhook_id": tool["id"]}), 409)
    problem(await gw.post("/social/accounts", json={"platform": "myspace", "handle": "a",
                                                    "webhook_id": tool["id"]}), 422)
    # 280 on X with a link counted as 23 characters.
    p = problem(await gw.post("/social/posts", json={"account_id": acc["id"], "text": "x" * 270,
                                                     "link": "https://teke.fi/a",
                                                     "scheduled_at": soon(1)}), 422)
    assert p["errors"][0]["type"] == "too_long"
    p = problem(await gw.post("/social/posts", json={
        "account_id": acc["id"], "text": "a https://a.fi b https://b.fi", "scheduled_at": soon(1)}), 422)
    assert p["errors"][0]["type"] == "too_many_links"
    problem(await gw.post("/social/posts", json={"account_id": acc["id"], "text": "hi",
                                                 "scheduled_at": "2020-01-01T00:00:00Z"}), 422)
    ok_text = "x" * 256  # 256 + 1 space + 23 for the link = 280
    r = await gw.post("/social/posts", json={"account_id": acc["id"], "text": ok_text,
                                             "link": "https://teke.fi/" + "a" * 200, "scheduled_at": soon(1)})
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["status"] == "scheduled"

    async def handed():
        got = webhook_receiver.got(name)
        return got and got[0]
    got = await eventually(handed)
    assert got["body"]["post"]["id"] == post["id"] and got["body"]["post"]["platform"] == "x"
    assert got["headers"]["x-teke-signature"].startswith("sha256=")
    posts = (await gw.get("/social/posts", params={"account_id": acc["id"]})).json()["items"]
    assert posts[0]["status"] == "handed_over"
    log = (await gw.get("/deliveries", params={"webhook_id": tool["id"]})).json()["items"]
    assert log[0]["channel"] == "social"
    await eventually(lambda: _sent(gw, tool["id"]))
    # Rules are data: Instagram refuses links; a coordinator may change a platform's limit.
    r = await gw.put("/social/rules/x", json={"max_length": 500, "link_length": 23, "max_links": 1})
    assert r.json()["max_length"] == 500
    r = await gw.post("/social/posts", json={"account_id": acc["id"], "text": "y" * 400,
                                             "scheduled_at": soon(60)})
    assert r.status_code == 201
    await gw.put("/social/rules/x", json={"max_length": 280, "link_length": 23, "max_links": 1})


async def _sent(gw, webhook_id):
    log = (await gw.get("/deliveries", params={"webhook_id": webhook_id})).json()["items"]
    return log and log[0]["status"] == "sent"


async def test_lists_page_with_a_cursor_and_refuse_a_forged_one(gw, stack):
    # Three plans with the same period start: the id breaks the tie, so paging one at a time
    # returns each exactly once, in the order of the whole list.
    start = (TODAY + dt.timedelta(days=4000 + int(uid()[:4], 16) % 1000)).isoformat()
    made = set()
    for n in range(3):
        r = await gw.post("/plans", json={**PLAN, "title": {"fi": f"Sivu {n}"}, "period_start": start,
                                          "period_end": start})
        assert r.status_code == 201, r.text
        made.add(r.json()["id"])
    whole = await all_items(gw, "/plans")
    seen, cursor = [], None
    while True:
        page = (await gw.get("/plans", params={"limit": 1, **({"cursor": cursor} if cursor else {})})).json()
        assert len(page["items"]) == 1 and page["total"] == len(whole)
        seen.append(page["items"][0]["id"])
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [p["id"] for p in whole] and made <= set(seen) and len(set(seen)) == len(seen)
    for path in ("/plans", "/events", "/webhooks", "/deliveries", "/social/posts", "/social/rules",
                 "/content/rules", "/webhooks/event-types"):
        p = problem(await gw.get(path, params={"cursor": "not-a-cursor"}), 422)
        assert p["errors"][0]["field"] == "query/cursor", path
        problem(await gw.get(path, params={"limit": 201}), 422)
    types = await all_items(gw, "/webhooks/event-types")
    assert "fi.teke.comms.content.published.v1" in types and types == sorted(types)
