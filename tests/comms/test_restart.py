"""At-least-once without duplicates: restarting comms in the middle of a newsletter fan-out."""

from __future__ import annotations

import asyncio
import re

from tests.comms.helpers import client, uid
from tests.comms.peers import text_of
from tests.conftest import eventually

N = 240
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


async def test_restart_mid_fan_out_sends_each_mail_once(gw, stack, smtp_sink):
    tag = uid()
    addresses = [f"r{i}-{tag}@example.fi" for i in range(N)]
    async with client(stack) as anon:
        sem = asyncio.Semaphore(4)

        async def sub(a):
            async with sem:
                await sub_one(anon, a, tag)

        await asyncio.gather(*(sub(a) for a in addresses))

        async def all_mailed():
            return all(smtp_sink.to(a) for a in addresses)
        await eventually(all_mailed, timeout=60)

        async def confirm(a):
            async with sem:
                # A retried subscribe mails a newer link; one of the links works.
                for msg in reversed(smtp_sink.to(a)):
                    token = TOKEN.search(text_of(msg)).group(1)
                    r = await anon.post("/subscriptions/confirm", params={"token": token})
                    if r.status_code == 200:
                        return
                raise AssertionError(f"no working confirmation link for {a}")

        await asyncio.gather(*(confirm(a) for a in addresses))

    subject = f"Restart {tag}"
    item = (await gw.post("/content", json={"kind": "newsletter", "title": {"fi": subject},
                                            "body": {"fi": "x"}, "themes": [tag]})).json()
    smtp_sink.delay = 0.05  # 240 mails over 8 connections: ~1.5 s of sending
    try:
        await gw.post(f"/content/{item['id']}/transitions", json={"to": "published"})

        def received():
            with smtp_sink.lock:
                return [m for m in smtp_sink.messages if m["Subject"] == subject]

        async def started():
            return len(received()) >= 20
        await eventually(started)
        stack.stop("comms")  # SIGTERM mid-run
        in_flight = len(received())
        assert in_flight < N, "the fan-out finished before the restart; make it slower"
        stack.start("comms")
        stack.wait_ready(("comms",))

        async def complete():
            return len(received()) >= N
        await eventually(complete, timeout=60)
        await asyncio.sleep(1.0)  # anything extra would arrive now
    finally:
        smtp_sink.delay = 0.0
    got = received()
    ids = [m["Message-ID"] for m in got]
    assert len(got) == N and len(set(ids)) == N, (len(got), len(set(ids)))
    assert sorted(m["To"] for m in got) == sorted(addresses)
    summary = (await gw.get("/deliveries/summary", params={"item_id": item["id"]})).json()
    assert summary == {"email": {"sent": N}}


async def sub_one(anon, address: str, tag: str) -> None:
    """Subscribe; on a loaded machine the gateway may time out once, so try again (harmless)."""
    for _ in range(3):
        r = await anon.post("/subscriptions", json={"email": address, "consent": True, "themes": [tag]})
        if r.status_code != 504:
            break
    assert r.status_code == 202, r.text
