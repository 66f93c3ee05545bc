"""Newsletter fan-out: one item to N subscribers over SMTP to a local aiosmtpd, and webhooks.

`python -m bench.comms_fanout [--subscribers 50000] [--concurrency 8,16] [--webhooks 5000]`

The SMTP server runs in its own process (aiosmtpd, counting unique Message-IDs). The comms
delivery worker runs in this process against SQLite, exactly as in the service: it claims
batches from the delivery table, sends over a few reused SMTP connections (one message per
recipient: each carries its own unsubscribe link), and marks the rows. Reported: messages/s,
time from publish to the last message, and that none was lost or sent twice. Then webhook
deliveries/s to a local HTTP receiver that fails 1 % of requests, with none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time

from bench.common import machine_info, run, table, workdir

SINK = r"""
import asyncio, json, signal, sys
from aiosmtpd.controller import Controller
ids = set(); total = [0]
class H:
    async def handle_DATA(self, server, session, envelope):
        total[0] += 1
        for line in envelope.content.split(b"\r\n", 40):
            if line.lower().startswith(b"message-id:"):
                ids.add(line[11:].strip()); break
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
def done(*_):
    c.stop(); print(json.dumps({"total": total[0], "unique": len(ids)}), flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
signal.pause()
"""

RECEIVER = r"""
import json, signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from comms.delivery.signing import verify
secret = sys.argv[2]; seen = set(); n = [0]; bad = [0]; lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            n[0] += 1; k = n[0]
        ok = verify(secret, {k.lower(): v for k, v in self.headers.items()}, body)
        fail = (k % 100 == 0) or not ok
        if not ok:
            bad[0] += 1
        if not fail:
            with lock:
                seen.add(self.headers["X-Teke-Delivery-Id"])
        self.send_response(503 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()
srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H); srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("ready", flush=True)
def done(*_):
    print(json.dumps({"requests": n[0], "unique": len(seen), "bad_signatures": bad[0]}), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
signal.pause()
"""


def _spawn(code: str, *args: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def _finish(p: subprocess.Popen) -> dict:
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


async def _setup(db_url: str):
    from comms.models import metadata
    from shared.db import create_engine, make_sessionmaker

    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine, make_sessionmaker(engine)


async def fanout(tmp, n: int, concurrency: int) -> dict:
    from sqlalchemy import func, insert, select

    from comms.config import Settings
    from comms.delivery import queue
    from comms.delivery.worker import DeliveryWorker
    from comms.models import ContentItem, Delivery, Subscriber
    from deploy.embedded import free_port
    from shared.db import new_id

    port = free_port()
    sink = _spawn(SINK, str(port))
    db_url = f"sqlite+aiosqlite:///{tmp}/fanout-{concurrency}.db"
    engine, maker = await _setup(db_url)
    try:
        async with maker() as s, s.begin():
            rows = [{"id": new_id(), "email": f"s{i}@bench.example.fi", "language": "fi", "themes": [],
                     "regions": [], "target_groups": [], "status": "confirmed",
                     "unsubscribe_token": new_id().replace("-", "")} for i in range(n)]
            for i in range(0, n, 5000):
                await s.execute(insert(Subscriber), rows[i:i + 5000])
            item = ContentItem(kind="newsletter", title={"fi": "Uutiskirje"}, body={"fi": "Hei " * 200},
                               body_html={"fi": "<p>" + "Hei " * 200 + "</p>"}, channels=["email"],
                               status="published", created_by="bench")
            s.add(item)
        settings = Settings(database_url=db_url, smtp_host="127.0.0.1", smtp_port=port,
                            delivery_concurrency=concurrency, delivery_batch_size=1000,
                            delivery_poll_seconds=0.05)
        t0 = time.perf_counter()
        async with maker() as s, s.begin():
            await queue.newsletter(s, item, "https://teke.test")
        queued = time.perf_counter() - t0
        worker = DeliveryWorker(maker, settings, is_postgres=False)
        await worker.start()
        worker._wake.set()
        while True:
            await asyncio.sleep(0.25)
            async with maker() as s:
                left = await s.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.status != "sent"))
            if left == 0:
                break
        total = time.perf_counter() - t0
        await worker.stop()
    finally:
        await engine.dispose()
        got = _finish(sink)
    return {"subscribers": n, "concurrency": concurrency, "queue_s": round(queued, 2),
            "to_last_s": round(total, 2), "msgs_per_s": round(n / total, 1),
            "received": got["total"], "unique": got["unique"]}


async def webhooks(tmp, n: int) -> dict:
    from sqlalchemy import func, select

    from comms.config import Settings
    from comms.delivery import queue
    from comms.delivery.worker import DeliveryWorker
    from comms.models import Delivery, WebhookSubscription
    from deploy.embedded import free_port
    from shared.db import new_id

    port = free_port()
    secret = new_id()
    receiver = _spawn(RECEIVER, str(port), secret)
    db_url = f"sqlite+aiosqlite:///{tmp}/hooks.db"
    engine, maker = await _setup(db_url)
    try:
        async with maker() as s, s.begin():
            s.add(WebhookSubscription(id="w1", name="bench", url=f"http://127.0.0.1:{port}/hook",
                                      secret=secret, event_types=["fi.teke.bench.v1"], created_by="bench"))
        settings = Settings(database_url=db_url, webhook_allow_networks=["127.0.0.1/32"],
                            webhook_backoff_seconds=[0.1, 0.2, 0.5], delivery_concurrency=8,
                            delivery_batch_size=500, delivery_poll_seconds=0.05)
        t0 = time.perf_counter()
        async with maker() as s, s.begin():
            for i in range(n):  # one entity per event, so order-per-entity does not serialise them
                env = {"id": new_id(), "type": "fi.teke.bench.v1", "subject": f"e{i}", "data": {"i": i}}
                await queue.fan_out(s, env, [])
        worker = DeliveryWorker(maker, settings, is_postgres=False)
        await worker.start()
        worker._wake.set()
        while True:
            await asyncio.sleep(0.25)
            async with maker() as s:
                left = await s.scalar(select(func.count()).select_from(Delivery).where(
                    Delivery.status.in_(("queued", "sending", "retrying"))))
            if left == 0:
                break
        total = time.perf_counter() - t0
        async with maker() as s:
            sent = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))
            retried = await s.scalar(select(func.count()).select_from(Delivery).where(Delivery.attempts > 1))
        await worker.stop()
    finally:
        await engine.dispose()
        got = _finish(receiver)
    return {"deliveries": n, "total_s": round(total, 2), "per_s": round(n / total, 1), "sent": sent,
            "retried": retried, "requests": got["requests"], "unique_received": got["unique"],
            "bad_signatures": got["bad_signatures"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subscribers", type=int, default=50_000)
    ap.add_argument("--concurrency", default="8,16")
    ap.add_argument("--webhooks", type=int, default=5_000)
    args = ap.parse_args()
    from shared.logging import configure_logging

    configure_logging("bench", "ERROR", json=False)
    info = machine_info()
    print(f"comms fan-out: {info['nproc']} vCPU {info['cpu_model']}, Python {info['python']}, "
          f"{info['started']}")
    with workdir("comms") as tmp:
        rows = []
        for c in [int(x) for x in args.concurrency.split(",")] if args.subscribers else []:
            r = run(fanout(tmp, args.subscribers, c))
            rows.append([r["subscribers"], c, r["queue_s"], r["to_last_s"], r["msgs_per_s"],
                         r["received"], r["unique"],
                         "MET" if r["msgs_per_s"] >= 500 and r["unique"] == r["subscribers"] else "NOT MET"])
        if rows:
            print(table(["subscribers", "SMTP connections", "queue (s)", "publish→last (s)", "msgs/s",
                         "received", "unique Message-IDs", "≥500/s, none lost"], rows))
        if args.webhooks:
            w = run(webhooks(tmp, args.webhooks))
            print()
            print(table(["deliveries", "total (s)", "deliveries/s", "sent", "retried (1 % fail)",
                         "requests", "unique received", "bad signatures"],
                        [[w["deliveries"], w["total_s"], w["per_s"], w["sent"], w["retried"],
                          w["requests"], w["unique_received"], w["bad_signatures"]]]))


if __name__ == "__main__":
    main()
