"""Events with capacity and a waiting list; public RSS/Atom/iCalendar feeds."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from icalendar import Calendar

from tests.comms.helpers import client, problem, uid
from tests.conftest import eventually, scalar

EVENT = {"kind": "regional_workshop", "title": {"fi": "Työpaja", "en": "Workshop"},
         "starts_at": "2031-03-10T09:00:00+02:00", "ends_at": "2031-03-10T12:00:00+02:00",
         "place": "Tampere-talo", "region_code": "06", "capacity": 2}


async def test_waiting_list_moves_up_on_cancellation_with_mails(gw, stack, smtp_sink):
    ev = (await gw.post("/events", json=EVENT)).json()
    assert ev["starts_at_local"] == "2031-03-10T09:00:00+02:00"
    tag = uid()
    regs = {}
    async with client(stack) as anon:
        for who in ("a", "b", "c", "d"):
            r = await anon.post(f"/events/{ev['id']}/registrations",
                                json={"name": who.upper(), "email": f"{who}-{tag}@example.fi"})
            assert r.status_code == 201, r.text
            regs[who] = r.json()
        assert [regs[w]["status"] for w in "abcd"] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
        assert regs["c"]["waitlist_position"] == 1 and regs["d"]["waitlist_position"] == 2
        p = problem(await anon.post(f"/events/{ev['id']}/registrations",
                                    json={"name": "A", "email": f"A-{tag}@example.fi"}), 409)
        assert "already registered" in p["detail"]
        r = await anon.post("/events/registrations/cancel", params={"token": regs["a"]["cancel_token"]})
        assert r.json()["status"] == "cancelled"
        again = {"token": regs["a"]["cancel_token"]}
        problem(await anon.post("/events/registrations/cancel", params=again), 422)
        problem(await anon.post("/events/registrations/cancel", params={"token": "z" * 30}), 404)
    state = (await gw.get(f"/events/{ev['id']}")).json()
    assert state["confirmed"] == 2 and state["waitlisted"] == 1
    db = stack.db_urls["comms"]
    sql = "SELECT status FROM registration WHERE id = :i"
    assert await scalar(db, sql, i=regs["c"]["id"]) == "confirmed"
    assert await scalar(db, sql, i=regs["d"]["id"]) == "waitlisted"

    async def mails():
        c = smtp_sink.to(f"c-{tag}@example.fi")
        return len(c) == 2 and c
    c_mails = await eventually(mails)
    assert [m["Subject"] for m in c_mails] == ["Olet jonossa: Työpaja", "Pääsit mukaan: Työpaja"]
    a_mail = (await eventually(lambda: _one(smtp_sink, f"a-{tag}@example.fi")))
    assert a_mail["Subject"] == "Ilmoittautuminen vahvistettu: Työpaja"
    assert "2031-03-10T09:00:00+02:00" in a_mail.get_body(preferencelist=("plain",)).get_content()


async def test_event_input_is_checked(gw, stack):
    before = await scalar(stack.db_urls["comms"], "SELECT count(*) FROM event")
    for change, error in [({"ends_at": "2031-03-10T08:00:00+02:00"}, "value_error"),
                          ({"capacity": 0}, "greater_than_equal"),
                          ({"starts_at": "2031-03-10T09:00:00"}, "value_error"),
                          ({"place": None}, "value_error"),
                          ({"region_code": "99"}, "value_error"),
                          ({"kind": "party"}, "literal_error")]:
        p = problem(await gw.post("/events", json={**EVENT, **change}), 422)
        assert error in [e["type"] for e in p["errors"]], (change, p)
    async with client(stack) as anon:
        problem(await anon.post("/events", json=EVENT), 401)
        someone = {"name": "x", "email": "x@example.fi"}
        problem(await anon.post("/events/nope/registrations", json=someone), 404)
    async with client(stack, "implementer", org="o") as impl:
        problem(await impl.post("/events", json=EVENT), 403)
    assert await scalar(stack.db_urls["comms"], "SELECT count(*) FROM event") == before


async def test_feeds_show_published_items_per_language_and_theme(gw, stack):
    tag = uid()
    pub = (await gw.post("/content", json={"kind": "news", "title": {"fi": f"Julkinen {tag}"},
                                           "body": {"fi": "**Hei**"}, "themes": [tag]})).json()
    await gw.post(f"/content/{pub['id']}/transitions", json={"to": "published"})
    draft = (await gw.post("/content", json={"kind": "news", "title": {"fi": f"Luonnos {tag}"},
                                             "body": {"fi": "x"}, "themes": [tag]})).json()
    async with client(stack) as anon:
        rss = await anon.get("/feeds/fi.rss", params={"theme": tag})
        assert rss.status_code == 200 and rss.headers["content-type"].startswith("application/rss+xml")
        titles = [t.text for t in ET.fromstring(rss.content).iter("title")]
        assert f"Julkinen {tag}" in titles and f"Luonnos {tag}" not in titles
        atom = await anon.get("/feeds/fi.atom", params={"theme": tag})
        ns = {"a": "http://www.w3.org/2005/Atom"}
        entries = ET.fromstring(atom.content).findall("a:entry", ns)
        assert [e.find("a:title", ns).text for e in entries] == [f"Julkinen {tag}"]
        assert "<strong>Hei</strong>" in entries[0].find("a:content", ns).text
        plain = await anon.get("/feeds/fi.atom", params={"theme": tag}, headers={"accept": "text/xml"})
        assert plain.headers["content-type"].startswith("text/xml")
        assert [e.find("a:title", ns).text for e in ET.fromstring(plain.content).findall("a:entry", ns)] \
            == [f"Julkinen {tag}"]
        sv = await anon.get("/feeds/sv.rss", params={"theme": tag})
        assert f"Julkinen {tag}" not in sv.text  # no Swedish title
        problem(await anon.get("/feeds/de.rss"), 422)
        ev = (await gw.post("/events", json={**EVENT, "title": {"fi": f"Päivä {tag}"}})).json()
        ics = await anon.get("/feeds/events.ics")
        assert ics.headers["content-type"].startswith("text/calendar")
        cal = Calendar.from_ical(ics.content)
        mine = [c for c in cal.walk("VEVENT") if str(c["uid"]) == f"{ev['id']}@teke.fi"]
        assert len(mine) == 1 and str(mine[0]["summary"]) == f"Päivä {tag}"
        assert mine[0]["dtstart"].dt.isoformat() == "2031-03-10T07:00:00+00:00"
    assert draft["id"]
    assert re.search(r"teke\.test", rss.text)


async def _one(sink, address):
    got = sink.to(address)
    return got and got[0]
