"""Subscriptions over real SMTP: double opt-in, newsletter fan-out, one-click unsubscribe, erasure."""

from __future__ import annotations

import re

from tests.comms.helpers import client, problem, rows, uid
from tests.comms.peers import text_of
from tests.conftest import eventually, scalar

TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


async def _mail(smtp_sink, address: str, n: int = 1):
    async def arrived():
        got = smtp_sink.to(address)
        return len(got) >= n and got
    return await eventually(arrived)


async def subscribe(stack, smtp_sink, email: str, **extra) -> str:
    """Subscribe and confirm from the mailbox, as a person would; returns the address."""
    async with client(stack) as anon:
        r = await anon.post("/subscriptions", json={"email": email, "consent": True, **extra})
        assert r.status_code == 202, r.text
        msg = (await _mail(smtp_sink, email))[-1]
        token = TOKEN.search(text_of(msg)).group(1)
        r = await anon.get("/subscriptions/confirm", params={"token": token})
        assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
        assert r.json()["consent_at"]
    return email


async def test_double_opt_in_then_newsletter_with_personal_unsubscribe(gw, stack, smtp_sink):
    tag = uid()
    a = await subscribe(stack, smtp_sink, f"a-{tag}@example.fi", regions=["01"], themes=[tag])
    b = await subscribe(stack, smtp_sink, f"b-{tag}@example.fi", language="en", themes=[tag])
    pending = f"p-{tag}@example.fi"
    elsewhere = await subscribe(stack, smtp_sink, f"c-{tag}@example.fi", regions=["02"], themes=[tag])
    async with client(stack) as anon:
        r = await anon.post("/subscriptions", json={"email": pending, "consent": True})
        assert r.status_code == 202
    db = stack.db_urls["comms"]
    assert await scalar(db, "SELECT status FROM subscriber WHERE email = :e", e=pending) == "pending"
    assert await scalar(db, "SELECT consent_at FROM subscriber WHERE email = :e", e=a) is not None

    item = (await gw.post("/content", json={
        "kind": "newsletter", "title": {"fi": f"Kirje {tag}", "en": f"Letter {tag}"},
        "body": {"fi": "Hei **kaikki**", "en": "Hello **all**"}, "regions": ["01"], "themes": [tag]})).json()
    assert item["channels"] == ["email", "web"]
    r = await gw.post(f"/content/{item['id']}/transitions", json={"to": "published"})
    assert r.status_code == 200, r.text
    got_a = (await _mail(smtp_sink, a, 2))[-1]
    got_b = (await _mail(smtp_sink, b, 2))[-1]
    assert got_a["Subject"] == f"Kirje {tag}" and got_b["Subject"] == f"Letter {tag}"
    assert "<strong>kaikki</strong>" in got_a.get_body(preferencelist=("html",)).get_content()
    # Per-recipient unsubscribe links, RFC 8058 one-click headers, a Message-ID per delivery.
    unsub_a = re.search(r"<([^>]+)>", got_a["List-Unsubscribe"]).group(1)
    unsub_b = re.search(r"<([^>]+)>", got_b["List-Unsubscribe"]).group(1)
    assert unsub_a != unsub_b and unsub_a.startswith("https://teke.test/api/v1/subscriptions/unsubscribe?token=")
    assert got_a["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery_id = got_a["X-Teke-Delivery-Id"]
    assert got_a["Message-ID"] == f"<{delivery_id}@teke.fi>"

    async def logged():
        log = (await gw.get("/deliveries", params={"item_id": item["id"]})).json()["items"]
        return len(log) == 2 and all(d["status"] == "sent" for d in log) and log
    log = await eventually(logged)
    assert sorted(d["recipient"] for d in log) == sorted([a, b])  # not pending, not region 02
    assert smtp_sink.to(pending)[-1]["Subject"] != f"Kirje {tag}"
    assert all(m["Subject"] != f"Kirje {tag}" for m in smtp_sink.to(elsewhere))

    # One click (POST, as RFC 8058 mail clients do) and the next newsletter skips them.
    async with client(stack) as anon:
        token = TOKEN.search(unsub_a).group(1)
        r = await anon.post("/subscriptions/unsubscribe", params={"token": token})
        assert r.json() == {"status": "unsubscribed"}
        problem(await anon.post("/subscriptions/unsubscribe", params={"token": "x" * 20}), 404)
    second = (await gw.post("/content", json={
        "kind": "newsletter", "title": {"fi": f"Toinen {tag}"}, "body": {"fi": "..."},
        "themes": [tag]})).json()
    await gw.post(f"/content/{second['id']}/transitions", json={"to": "published"})

    async def second_sent():
        log = (await gw.get("/deliveries", params={"item_id": second["id"]})).json()["items"]
        return len(log) == 2 and all(d["status"] == "sent" for d in log) and log
    assert sorted(d["recipient"] for d in await second_sent() or await eventually(second_sent)) == \
        sorted([b, elsewhere])
    assert all(m["Subject"] != f"Toinen {tag}" for m in smtp_sink.to(a))


async def test_subscribe_input_is_checked(stack):
    before = await scalar(stack.db_urls["comms"], "SELECT count(*) FROM subscriber")
    async with client(stack) as anon:
        for body, error in [
            ({"email": "not-an-address", "consent": True}, "string_pattern_mismatch"),
            ({"email": f"x{uid()}@example.fi"}, "missing"),
            ({"email": f"x{uid()}@example.fi", "consent": False}, "literal_error"),
            ({"email": f"x{uid()}@example.fi", "consent": True, "language": "de"}, "literal_error"),
            ({"email": f"x{uid()}@example.fi", "consent": True, "regions": ["77"]}, "value_error"),
            ({"email": f"x{uid()}@example.fi", "consent": True, "admin": True}, "extra_forbidden"),
        ]:
            p = problem(await anon.post("/subscriptions", json=body), 422)
            assert error in [e["type"] for e in p["errors"]], (body, p)
        problem(await anon.get("/subscriptions/confirm", params={"token": "bogus-token-123"}), 404)
    assert await scalar(stack.db_urls["comms"], "SELECT count(*) FROM subscriber") == before


async def test_confirmation_mails_are_rate_limited_per_address(stack, smtp_sink):
    email = f"spam-{uid()}@example.fi"
    async with client(stack) as anon:
        for _ in range(3):
            r = await anon.post("/subscriptions", json={"email": email, "consent": True})
            assert r.status_code == 202
        p = problem(await anon.post("/subscriptions", json={"email": email, "consent": True}), 429)
        assert "too many" in p["detail"]
    await _mail(smtp_sink, email, 3)
    assert len(smtp_sink.to(email)) == 3


async def test_subscribers_are_never_public(stack):
    async with client(stack) as anon:
        problem(await anon.get("/subscriptions/stats"), 401)
        problem(await anon.get("/deliveries"), 401)
        problem(await anon.post("/subscriptions/erasure", json={"email": "a@example.fi"}), 401)
    async with client(stack, "implementer", org="o1") as impl:
        problem(await impl.get("/subscriptions/stats"), 403)
        problem(await impl.get("/deliveries"), 403)


async def test_erasure_removes_the_person_everywhere_and_keeps_counts(gw, stack, smtp_sink):
    tag = uid()
    email = await subscribe(stack, smtp_sink, f"erase-{tag}@example.fi", themes=[tag])
    ev = (await gw.post("/events", json={
        "kind": "webinar", "title": {"fi": "Webinaari"}, "starts_at": "2031-05-04T09:00:00+03:00",
        "ends_at": "2031-05-04T11:00:00+03:00", "online_url": "https://meet.example.fi/x",
        "capacity": 10})).json()
    async with client(stack) as anon:
        r = await anon.post(f"/events/{ev['id']}/registrations",
                            json={"name": "Erkki Esimerkki", "email": email})
        assert r.status_code == 201, r.text
    await _mail(smtp_sink, email, 2)
    db = stack.db_urls["comms"]
    assert await scalar(db, "SELECT count(*) FROM delivery WHERE recipient = :e", e=email) >= 2
    async with client(stack, "coordinator") as coord:
        r = await coord.post("/subscriptions/erasure", json={"email": email.upper()})
        assert r.status_code == 200, r.text
        removed = r.json()["removed"]
    assert removed["subscribers"] == 1 and removed["registrations"] == 1 and removed["deliveries"] >= 2
    for table, col in (("subscriber", "email"), ("registration", "email"), ("delivery", "recipient")):
        assert await scalar(db, f"SELECT count(*) FROM {table} WHERE lower({col}) = :e", e=email) == 0
    assert not await rows(db, "SELECT id FROM registration WHERE name = 'Erkki Esimerkki'")
    # Anonymous counts stay: the event still counts the participant.
    assert (await gw.get(f"/events/{ev['id']}")).json()["confirmed"] == 1
    stats = (await gw.get("/subscriptions/stats")).json()
    assert stats["erased"] >= 1
