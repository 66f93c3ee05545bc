"""At-least-once without duplicates: restarting comms in the middle of a newsletter fan-out."""

from __future__ import annotations

import asyncio
import re
import signal

from tests.comms.helpers import client, uid
from tests.comms.peers import text_of
from tests.conftest import eventually

N = 240
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


async def test_restart_mid_fan_out_sends_each_mail_once(gw, stack, smtp_sink):
    tag = uid()
    addresses = [f"r{i}-{tag}@example.fi" for i in range(N)]
    await confirmed_subscribers(stack, smtp_sink, addresses, tag)

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


async def confirmed_subscribers(stack, smtp_sink, addresses: list[str], tag: str) -> None:
    """Subscribe each address to theme `tag` and confirm it through the link mailed to it."""
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


async def test_sigkill_mid_send_resends_only_the_unmarked_few(gw, stack, smtp_sink):
    """SIGKILL (no graceful stop) in the middle of a newsletter: every subscriber gets it, and
    the copies sent twice are only those the SMTP server accepted after the last mark commit,
    with the same Message-ID, so the receiver can drop them. (None at all is not possible: the
    SMTP "250" and our commit are two systems.) Short lease and small batches, so the killed
    process's claims come back quickly and the kill lands in the middle of a batch."""
    tag = uid()
    addresses = [f"k{i}-{tag}@example.fi" for i in range(N)]
    await confirmed_subscribers(stack, smtp_sink, addresses, tag)
    saved = dict(stack.extra_env)
    concurrency = 8
    stack.extra_env.update({"COMMS_DELIVERY_LEASE_SECONDS": "3", "COMMS_DELIVERY_BATCH_SIZE": "60",
                            "COMMS_DELIVERY_CONCURRENCY": str(concurrency),
                            "COMMS_NEWSLETTER_BATCH_SIZE": "50"})
    subject = f"Kill {tag}"

    def received():
        with smtp_sink.lock:
            return [m for m in smtp_sink.messages if m["Subject"] == subject]

    try:
        stack.stop("comms")
        stack.start("comms")
        stack.wait_ready(("comms",))
        item = (await gw.post("/content", json={"kind": "newsletter", "title": {"fi": subject},
                                                "body": {"fi": "x"}, "themes": [tag]})).json()
        smtp_sink.delay = 0.05
        r = await gw.post(f"/content/{item['id']}/transitions", json={"to": "published"})
        assert r.status_code == 200, r.text

        async def started():
            return len(received()) >= 30
        await eventually(started)
        stack.stop("comms", signal.SIGKILL)
        at_kill = len(received())
        assert at_kill < N, "the fan-out finished before the kill; make it slower"
        smtp_sink.delay = 0.0
        stack.start("comms")
        stack.wait_ready(("comms",))

        async def complete():
            return len({m["Message-ID"] for m in received()}) >= N
        await eventually(complete, timeout=60)
        await asyncio.sleep(4.0)  # past the lease: anything claimed twice would arrive now
        got = received()
        ids = [m["Message-ID"] for m in got]
        assert len(set(ids)) == N
        assert sorted({m["To"] for m in got}) == sorted(addresses)
        # At most 2 per connection waiting for their mark, plus one per connection in flight.
        assert len(got) - N <= 3 * concurrency, (len(got), at_kill)
        summary = (await gw.get("/deliveries/summary", params={"item_id": item["id"]})).json()
        assert summary == {"email": {"sent": N}}
    finally:
        smtp_sink.delay = 0.0
        stack.extra_env.clear()
        stack.extra_env.update(saved)
        stack.stop("comms")
        stack.start("comms")
        stack.wait_ready(("comms",))
