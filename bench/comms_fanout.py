"""Newsletter fan-out: one item to N subscribers over SMTP to a local aiosmtpd, and webhooks.

`python -m bench.comms_fanout [--subscribers 50000] [--concurrency 8,16] [--webhooks 5000]
 [--enqueue 100000,1000000] [--enqueue-db sqlite,postgres] [--no-baseline]`

Enqueue (issue 16): `queue.newsletter()` at publish, in a child process of its own (the "comms
process"), on a database seeded with --enqueue subscribers (3 in 4 match the item): wall and
CPU time, and its peak RSS above the RSS it had before the call (VmHWM - VmRSS). Same-run
baseline: the previous newsletter() (every confirmed subscriber loaded, matched in Python, all
rows built in one list), copied below as `baseline_newsletter`.

The SMTP server runs in its own process (aiosmtpd, counting unique Message-IDs). The comms
delivery worker runs in this process against SQLite, exactly as in the service: it claims
batches from the delivery table, sends over a few reused SMTP connections (one message per
recipient: each carries its own unsubscribe link), and marks the rows. Reported: messages/s,
time from publish to the last message, and that none was lost or sent twice, with the CPU
per message of this process (worker and the bench's progress polls) and of the SMTP server.
Same-run baseline: the previous worker (marks once per claimed batch), loaded from git
BASELINE_REV, on the same subscribers, alternating with the current one. Then webhook
deliveries/s to a local HTTP receiver that fails 1 % of requests, with none lost.
Everything is also written as JSON to bench/out/comms_fanout-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

from bench.common import (
    ROOT,
    LoadMeter,
    PgDatabases,
    machine_info,
    pg_available,
    proc_cpu_seconds,
    run,
    save,
    table,
    workdir,
)

# The code before issue 16 (main at this commit): the baseline of the same run.
BASELINE_REV = "3aa3165"

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


def _baseline_worker_class():
    """DeliveryWorker as it was at BASELINE_REV (its module source from git, loaded aside)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show",
                          f"{BASELINE_REV}:services/comms/src/comms/delivery/worker.py"],
                         capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("comms.delivery._baseline_worker", loader=None)
    mod = importlib.util.module_from_spec(spec)
    exec(compile(src, f"{BASELINE_REV}:worker.py", "exec"), mod.__dict__)  # noqa: S102
    return mod.DeliveryWorker


async def fanout(tmp, n: int, concurrency: int, worker_cls=None, tag: str = "current") -> dict:
    from sqlalchemy import func, insert, select

    from comms.config import Settings
    from comms.delivery import queue
    from comms.delivery.worker import DeliveryWorker
    from comms.models import ContentItem, Delivery, Subscriber
    from deploy.embedded import free_port
    from shared.db import new_id

    port = free_port()
    sink = _spawn(SINK, str(port))
    db_url = f"sqlite+aiosqlite:///{tmp}/fanout-{concurrency}-{tag}.db"
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
        meter = LoadMeter()
        t0 = time.perf_counter()
        async with maker() as s, s.begin():
            await queue.newsletter(s, item, "https://teke.test")
        queued = time.perf_counter() - t0
        cpu0, sink0, t1 = time.process_time(), proc_cpu_seconds([sink.pid]), time.perf_counter()
        worker = (worker_cls or DeliveryWorker)(maker, settings, is_postgres=False)
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
        sending = time.perf_counter() - t1
        cpu = time.process_time() - cpu0
        sink_cpu = proc_cpu_seconds([sink.pid]) - sink0
        load = meter.read()
        await worker.stop()
    finally:
        await engine.dispose()
        got = _finish(sink)
    return {"subscribers": n, "concurrency": concurrency, "queue_s": round(queued, 2),
            "to_last_s": round(total, 2), "msgs_per_s": round(n / total, 1),
            "received": got["total"], "unique": got["unique"],
            # added with issue 16
            "worker": tag, "send_s": round(sending, 2), "send_msgs_per_s": round(n / sending, 1),
            "cpu_ms_per_msg": round(1000 * cpu / n, 3), "smtp_server_cpu_ms_per_msg":
            round(1000 * sink_cpu / n, 3), "other_load_pct": round(load["foreign"], 1),
            "steal_pct": round(load["steal"], 1)}


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

# --- enqueue: newsletter() at 100,000 and 1,000,000 subscribers -----------------------------

async def baseline_newsletter(session, item, base_url: str, **_) -> int:
    """newsletter() at BASELINE_REV: every confirmed subscriber in memory, one list of rows."""
    from sqlalchemy import select

    from comms.delivery.queue import _insert, _overlaps, _row
    from comms.models import Subscriber

    rows = []
    subs = (await session.execute(select(
        Subscriber.id, Subscriber.email, Subscriber.language, Subscriber.themes, Subscriber.regions,
        Subscriber.target_groups, Subscriber.unsubscribe_token,
    ).where(Subscriber.status == "confirmed"))).all()
    for s in subs:
        if not (_overlaps(s.themes, item.themes) and _overlaps(s.regions, item.regions)
                and _overlaps(s.target_groups, item.target_groups)):
            continue
        lang = s.language if item.title.get(s.language) else "fi"
        rows.append(_row("email", "newsletter", s.email, {
            "item_id": item.id, "language": lang,
            "unsubscribe_url": f"{base_url}/api/v1/subscriptions/unsubscribe?token={s.unsubscribe_token}",
        }, item_id=item.id, subscriber_id=s.id))
    return await _insert(session, rows)


ENQUEUE = r"""
import asyncio, json, sys, time

def kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

async def main(url, impl, item_id, batch):
    from bench.comms_fanout import baseline_newsletter
    from comms.delivery import queue
    from comms.models import ContentItem
    from shared.db import create_engine, make_sessionmaker
    fn = baseline_newsletter if impl == "baseline" else queue.newsletter
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    async with maker() as s, s.begin():
        item = await s.get(ContentItem, item_id)
        rss0, cpu0, t0 = kb("VmRSS:"), time.process_time(), time.perf_counter()
        n = await fn(s, item, "https://teke.test", batch_size=batch)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await engine.dispose()
    print(json.dumps({"rows": n, "wall_s": wall, "cpu_s": cpu, "rss_before_mb": rss0 / 1024,
                      "rss_peak_mb": kb("VmHWM:") / 1024}))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


async def _seed(url: str, start: int, end: int, item_id: str | None) -> str:
    """Subscribers start..end-1 (confirmed; every 4th wants only theme t2, the rest t1 or all),
    and the item (theme t1) on the first call. Inserted in slices: the bench stays small too."""
    from sqlalchemy import insert

    from comms.models import ContentItem, Subscriber, metadata
    from shared.db import create_engine, make_sessionmaker, new_ids

    engine = create_engine(url)
    try:
        if item_id is None:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        maker = make_sessionmaker(engine)
        for lo in range(start, end, 20_000):
            hi = min(end, lo + 20_000)
            ids = new_ids(2 * (hi - lo))
            rows = [{"id": ids[2 * k], "email": f"s{i}@bench.example.fi", "language": "fi",
                     "themes": ["t2"] if i % 4 == 0 else (["t1"] if i % 4 == 1 else []),
                     "regions": [], "target_groups": [], "status": "confirmed",
                     "unsubscribe_token": ids[2 * k + 1].replace("-", "")}
                    for k, i in enumerate(range(lo, hi))]
            async with maker() as s, s.begin():
                await s.execute(insert(Subscriber.__table__), rows)
        if item_id is None:
            async with maker() as s, s.begin():
                item = ContentItem(kind="newsletter", title={"fi": "Uutiskirje"}, body={"fi": "Hei"},
                                   body_html={"fi": "<p>Hei</p>"}, channels=["email"], themes=["t1"],
                                   status="published", created_by="bench")
                s.add(item)
            item_id = item.id
    finally:
        await engine.dispose()
    return item_id


async def _reset_deliveries(url: str) -> None:
    from comms.models import metadata
    from shared.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            table = metadata.tables["delivery"]
            await conn.run_sync(lambda c: (table.drop(c), table.create(c)))
    finally:
        await engine.dispose()


def _enqueue_once(url: str, impl: str, item_id: str, batch: int) -> dict:
    meter = LoadMeter()
    p = subprocess.run([sys.executable, "-c", ENQUEUE, url, impl, item_id, str(batch)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    load = meter.read()
    if p.returncode != 0:
        raise RuntimeError(f"enqueue child failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    asyncio.run(_reset_deliveries(url))
    return {**r, "other_load_pct": round(load["foreign"], 1), "steal_pct": round(load["steal"], 1)}


def enqueue(tmp, sizes: list[int], dbs: list[str], batch: int, baseline: bool) -> list[dict]:
    out = []
    for db in dbs:
        pg = None
        if db == "postgres":
            if not pg_available():
                continue
            pg = PgDatabases(["fanout"])
            url = pg.urls["fanout"]
        else:
            url = f"sqlite+aiosqlite:///{tmp}/enqueue.db"
        try:
            item_id, seeded = None, 0
            for n in sorted(sizes):
                item_id = asyncio.run(_seed(url, seeded, n, item_id))
                seeded = n
                for impl in (["baseline"] if baseline else []) + ["streaming"]:
                    r = _enqueue_once(url, impl, item_id, batch)
                    r.update(db=db, subscribers=n, impl=impl, batch=batch if impl == "streaming" else None,
                             rss_growth_mb=round(r["rss_peak_mb"] - r["rss_before_mb"], 1),
                             cpu_us_per_row=round(1e6 * r["cpu_s"] / max(1, r["rows"]), 1))
                    out.append(r)
                    print(f"  enqueue {db} {n:,} {impl}: {r['rows']:,} rows, {r['wall_s']:.1f} s, "
                          f"CPU {r['cpu_s']:.1f} s, RSS +{r['rss_growth_mb']} MB "
                          f"(other load {r['other_load_pct']} %)", flush=True)
        finally:
            if pg is not None:
                pg.drop()
    return out



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subscribers", type=int, default=50_000)
    ap.add_argument("--concurrency", default="8,16")
    ap.add_argument("--webhooks", type=int, default=5_000)
    ap.add_argument("--enqueue", default="100000,1000000",
                    help="subscriber counts for the enqueue measurement ('' to skip)")
    ap.add_argument("--enqueue-db", default="sqlite,postgres")
    ap.add_argument("--batch", type=int, default=5000, help="newsletter page size (streaming)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the same-run baseline (previous newsletter() and worker)")
    args = ap.parse_args()
    from shared.logging import configure_logging

    configure_logging("bench", "ERROR", json=False)
    info = machine_info()
    print(f"comms fan-out: {info['nproc']} vCPU {info['cpu_model']}, Python {info['python']}, "
          f"{info['started']}, git {info['git']}")
    result: dict = {"machine": info, "baseline_rev": BASELINE_REV, "fanout": [], "webhooks": None,
                    "enqueue": []}
    with workdir("comms") as tmp:
        rows = []
        base_cls = None if args.no_baseline else _baseline_worker_class()
        for c in [int(x) for x in args.concurrency.split(",")] if args.subscribers else []:
            # Alternating current and baseline, so both see the same stretch of machine load.
            for tag, cls in [("current", None)] + ([("baseline", base_cls)] if base_cls else []):
                r = run(fanout(tmp, args.subscribers, c, cls, tag))
                (result["fanout"] if tag == "current" else result.setdefault("fanout_baseline", [])
                 ).append(r)
                rows.append([r["subscribers"], c, tag, r["queue_s"], r["to_last_s"], r["msgs_per_s"],
                             r["send_msgs_per_s"], r["cpu_ms_per_msg"], r["smtp_server_cpu_ms_per_msg"],
                             r["other_load_pct"], r["received"], r["unique"],
                             "MET" if r["msgs_per_s"] >= 1000 and r["unique"] == r["subscribers"]
                             else "NOT MET"])
        if rows:
            print(table(["subscribers", "SMTP connections", "worker", "queue (s)", "publish→last (s)",
                         "msgs/s", "msgs/s sending", "CPU ms/msg (worker)", "CPU ms/msg (SMTP server)",
                         "other load %", "received", "unique Message-IDs", "≥1000/s, none lost"], rows))
        if args.webhooks:
            w = run(webhooks(tmp, args.webhooks))
            result["webhooks"] = w
            print()
            print(table(["deliveries", "total (s)", "deliveries/s", "sent", "retried (1 % fail)",
                         "requests", "unique received", "bad signatures"],
                        [[w["deliveries"], w["total_s"], w["per_s"], w["sent"], w["retried"],
                          w["requests"], w["unique_received"], w["bad_signatures"]]]))
        sizes = [int(x) for x in args.enqueue.split(",") if x.strip()]
        if sizes:
            dbs = [d.strip() for d in args.enqueue_db.split(",") if d.strip()]
            print()
            e = enqueue(tmp, sizes, dbs, args.batch, not args.no_baseline)
            result["enqueue"] = e
            print(table(["db", "subscribers", "newsletter()", "rows", "wall (s)", "CPU (s)",
                         "CPU µs/row", "peak RSS growth (MB)", "other load %"],
                        [[r["db"], r["subscribers"], r["impl"], r["rows"], round(r["wall_s"], 1),
                          round(r["cpu_s"], 1), r["cpu_us_per_row"], r["rss_growth_mb"],
                          r["other_load_pct"]] for r in e]))
    print(f"JSON: {save('comms_fanout', result)}")


if __name__ == "__main__":
    main()
