"""PostgreSQL primary and hot standby (issue 17, item 2): the primary dies mid-stream.

The whole stack (three services and the gateway) keeps its four databases on a synchronous
primary/standby pair and reaches them through one multi-host URL that picks the writable
server. A client streams creates with an Idempotency-Key (the bulk import route, one project a
request; a 5xx or a broken connection is retried with the same key, as a real client would).
Part way through, the primary is SIGKILLed whole and, after a detection delay, the standby
promoted. Just before the kill the consumers stall (so they hold events when the database
goes) and the standby freezes for a second (so commits are in doubt: durable on the standby,
unanswered to the client). Every write must land once, on the new primary, and every event
reach indicators and comms once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.embedded import SERVICES, free_port
from shared.db import database_unavailable
from tests.conftest import eventually, make_stack, scalar
from tests.support.pg_cluster import PgPair

WRITES = 300
CONCURRENCY = 4
KILL_AFTER = 100  # acknowledged writes before the primary goes
# Between the kill and the promotion no server takes writes, as while a failover manager
# (Patroni, CloudNativePG) makes sure the primary is gone: requests, the outbox relay and the
# consumers all meet a database that is not there, not only a quick switch.
DETECTION_SECONDS = 3.0
BACKLOG = 20  # writes acknowledged while the consumers stall, just before the kill
IN_DOUBT_SECONDS = 1.0  # the standby frozen before the kill: commits wait for its answer
GIVE_UP_SECONDS = 120  # a write still failing after this is a failure of the test
CONSUMERS = ("indicators", "comms")


@pytest.fixture
def pg_pair(tmp_path):
    with PgPair(tmp_path / "pg") as pair:
        yield pair


@pytest.fixture
def pair_stack(tmp_path, pg_pair, own_nats):
    names = [*SERVICES, "gateway"]
    pg_pair.create_databases([f"teke_{n}" for n in names])
    stack = make_stack(tmp_path / "stack", own_nats.url,
                       db_urls={n: pg_pair.url(f"teke_{n}") for n in names})
    try:
        yield stack
    finally:
        stack.stop_all()


def _log_events(path: Path) -> list[tuple[str, dt.datetime]]:
    """The warnings and errors in a service's JSON log, as (event, time); the log's other
    lines (uvicorn's own, tracebacks) are not JSON and are left out."""
    found = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (isinstance(entry, dict) and entry.get("level") in ("warning", "error")
                and "timestamp" in entry):
            event = str(entry.get("event", "?")).splitlines()[0][:60]  # asyncio's are long
            found.append((event, dt.datetime.fromisoformat(entry["timestamp"])))
    return found


async def _true(value: bool) -> bool:
    return value


@dataclass
class Write:
    code: str
    key: str
    tries: int = 0
    failures: tuple[tuple[str, float], ...] = ()  # (status or error, when the attempt began)
    replayed: bool = False
    acked_at: float | None = None


async def _write(client: httpx.AsyncClient, w: Write) -> None:
    """One create, retried with the same Idempotency-Key on a 5xx or a connection error."""
    body = {"projects": [{"code": w.code, "name": {"fi": f"Hanke {w.code}"},
                          "region_codes": ["01"]}]}
    give_up = time.monotonic() + GIVE_UP_SECONDS
    last = ""
    while time.monotonic() < give_up:
        w.tries += 1
        began = time.monotonic()
        try:
            r = await client.post("/projects/import", json=body,
                                  headers={"Idempotency-Key": w.key})
        except httpx.TransportError as exc:
            last = repr(exc)
            w.failures += ((type(exc).__name__, began),)
        else:
            if r.status_code == 200:
                w.acked_at = time.monotonic()
                w.replayed = r.headers.get("Idempotent-Replay") == "true"
                # A replay answers the first attempt's report: "created" either way. A retry
                # that ran again over a committed first attempt would say "unchanged".
                assert [row["result"] for row in r.json()["rows"]] == ["created"], r.text
                return
            assert r.status_code >= 500, (w.code, r.status_code, r.text)
            last = f"{r.status_code} {r.text[:300]}"
            w.failures += ((str(r.status_code), began),)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{w.code}: no success in {GIVE_UP_SECONDS}s; last: {last}")


@pytest.mark.postgres_only
async def test_primary_killed_mid_stream_loses_and_duplicates_nothing(
        pair_stack, pg_pair, scaleout_report):
    stack, pair = pair_stack, pg_pair
    t_start = time.monotonic()
    tag = "PGF" + uuid.uuid4().hex[:6].upper()
    writes = [Write(f"{tag}-{i:04d}", str(uuid.uuid4())) for i in range(WRITES)]
    queue = list(writes)
    kill_now = asyncio.Event()
    failover: dict[str, float] = {}

    async def writer(client: httpx.AsyncClient) -> None:
        while queue:
            await _write(client, queue.pop(0))
            if acknowledged() >= KILL_AFTER:
                kill_now.set()

    def acknowledged() -> int:
        return sum(w.acked_at is not None for w in writes)

    async def killer() -> None:
        await kill_now.wait()
        # The consumers stall a moment first (as in a long GC pause), so each has events in
        # hand when the database goes: whether one is mid-event at the kill is luck otherwise.
        for svc in CONSUMERS:
            stack.procs[svc].send_signal(signal.SIGSTOP)
        try:
            target = acknowledged() + BACKLOG
            await eventually(lambda: _true(acknowledged() >= target), timeout=60)
            # The standby freezes a moment before the kill: the commits then in progress are
            # on their way to it but not acknowledged, so their clients see an error for a
            # write that may be durable; their retries must replay it, not write it twice.
            pair.standby.signal_all(signal.SIGSTOP)
            await asyncio.sleep(IN_DOUBT_SECONDS)
            failover["killed_at"] = time.monotonic()
            await asyncio.to_thread(pair.kill_primary)
            failover["kill_done_at"] = time.monotonic()
        finally:
            pair.standby.signal_all(signal.SIGCONT)
            for svc in CONSUMERS:
                stack.procs[svc].send_signal(signal.SIGCONT)
        await asyncio.sleep(DETECTION_SECONDS)
        failover["promote_s"] = await asyncio.to_thread(pair.promote_standby)
        failover["promoted_at"] = time.monotonic()

    headers = {"Authorization": f"Bearer {stack.dev_token('admin')}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers,
                                 timeout=30) as client:
        await asyncio.gather(killer(), *(writer(client) for _ in range(CONCURRENCY)))
        assert "promoted_at" in failover, "the primary was never stopped"

        # The stack now runs on the promoted standby, which waits for no standby of its own.
        registry = stack.db_urls["registry"]
        assert await scalar(registry, "SELECT inet_server_port()") == pair.standby.port
        assert await scalar(registry, "SELECT pg_is_in_recovery()") is False
        assert await scalar(registry, "SHOW synchronous_standby_names") == ""

        # The services' own loops (readiness checks the database) came back, not only requests.
        async def all_ready():
            codes = [(await client.get(stack.url(s) + "/readyz")).status_code
                     for s in (*SERVICES, "gateway")]
            return all(c == 200 for c in codes) or codes
        await eventually(all_ready, timeout=60, interval=0.5)

        # The registry's job worker (a background loop with its own claims and leases) runs
        # a queued import after the failover: one more project, acknowledged when it succeeds.
        job_write = Write(f"{tag}-JOB", str(uuid.uuid4()))
        r = await client.post("/projects/import", headers={
            "Idempotency-Key": job_write.key, "Prefer": "respond-async"},
            json={"projects": [{"code": job_write.code, "name": {"fi": "Jonossa"},
                                "region_codes": ["01"]}]})
        assert r.status_code == 202, r.text

        async def job_ended():
            job = (await client.get(f"/jobs/{r.json()['id']}")).json()
            return job if job["state"] in ("succeeded", "failed", "cancelled") else None
        job = await eventually(job_ended, timeout=90, interval=0.25)
        assert job["state"] == "succeeded", job
        job_write.acked_at = time.monotonic()
        recovered_at = dt.datetime.now(dt.UTC)
        writes.append(job_write)

    killed_at = failover["killed_at"]
    acked = [w for w in writes if w.acked_at is not None]
    times = sorted(w.acked_at for w in acked if w is not job_write)
    assert times[0] < killed_at < times[-1], "writes must succeed before and after the kill"
    # The pause: the longest time with no write acknowledged (answers already on their way
    # when the primary died arrive just after the kill, so "first after the kill" is no measure).
    write_pause = max(b - a for a, b in zip(times, times[1:], strict=False))
    resumed_after_promotion = min((t for t in times if t >= failover["promoted_at"]),
                                  default=float("nan")) - failover["promoted_at"]
    retried = sum(w.tries > 1 for w in writes)

    # Every acknowledged write is on the new primary, once, with exactly one event.
    like = f"{tag}-%"
    stored = await scalar(registry, "SELECT count(*) FROM project WHERE code LIKE :l", l=like)
    distinct = await scalar(registry, "SELECT count(DISTINCT code) FROM project "
                                      "WHERE code LIKE :l", l=like)
    lost = len(acked) - distinct
    events = await scalar(registry, "SELECT count(*) FROM outbox o JOIN project p "
                                    "ON o.entity_id = p.id WHERE p.code LIKE :l", l=like)
    duplicated = (stored - distinct) + (events - distinct)

    # The outbox drains through the new primary.
    async def drained():
        return await scalar(registry, "SELECT count(*) FROM outbox "
                                      "WHERE published_at IS NULL") == 0
    await eventually(drained, timeout=90, interval=0.5)

    # Each event is applied exactly once by each consumer; no dead letters.
    applied: dict[str, int] = {}
    for svc in CONSUMERS:
        db = stack.db_urls[svc]

        async def arrived(db=db):
            return await scalar(db, "SELECT count(*) FROM project_projection "
                                    "WHERE code LIKE :l", l=like) == len(acked)
        await eventually(arrived, timeout=120, interval=0.5)
        applied[svc] = await scalar(db, "SELECT sum(applied_count) FROM project_projection "
                                        "WHERE code LIKE :l", l=like)
        applied[f"{svc}_dead_letters"] = await scalar(db, "SELECT count(*) FROM dead_letter")
    caught_up = time.monotonic() - max(w.acked_at for w in acked)
    # The consumers held their events through the outage: none gave up on one (a dead letter
    # written, or tried while the database was away), and they did meet the outage.
    logs = {svc: _log_events(stack.data_dir / f"{svc}.log") for svc in (*SERVICES, "gateway")}
    gave_up = {svc: sum(e == "consumer.dead_letter" for e, _ in logs[svc]) for svc in CONSUMERS}
    held = {svc: sum(e == "consumer.database_unavailable" for e, _ in logs[svc])
            for svc in CONSUMERS}
    # Every loop (relay, consumers, job worker, schedulers, delivery) met the outage while it
    # lasted and none keeps failing once the database is back: no warning or error is logged
    # after the job above succeeded (a moment at which everything worked again).
    troubles = Counter(f"{svc}:{e}" for svc, events in logs.items() for e, _ in events)
    # (asyncio's "... exception was never retrieved" is logged when the garbage collector
    # finds the future, whenever that is, so its time says nothing.)
    after_recovery = [(svc, e, at) for svc, events in logs.items() for e, at in events
                      if at > recovered_at and "never retrieved" not in e]
    failures = Counter(kind for w in writes for kind, _ in w.failures)
    # Requests already talking to the primary when it died may meet the driver mid-operation
    # (asyncpg: "another operation is in progress") and answer 500; one begun after the kill
    # must get a clear, retryable 503/504.
    after_kill = Counter(kind for w in writes for kind, began in w.failures
                         if began > failover["kill_done_at"])

    scaleout_report(
        "pg_failover", writes=WRITES, acknowledged=len(acked), lost=lost, duplicated=duplicated,
        applied=min(applied[s] for s in CONSUMERS), retried_writes=retried,
        replayed=sum(w.replayed for w in writes), failed_attempts=dict(failures),
        write_pause_s=round(write_pause, 2), detection_s=DETECTION_SECONDS,
        resumed_after_promotion_s=round(resumed_after_promotion, 2),
        promote_s=round(failover["promote_s"], 2),
        kill_to_promoted_s=round(failover["promoted_at"] - killed_at, 2),
        consumers_caught_up_s=round(caught_up, 1), consumer_holds=held,
        warnings_logged=dict(troubles),
        dead_letters=sum(applied[f"{s}_dead_letters"] for s in CONSUMERS),
        run_s=round(time.monotonic() - t_start, 1))

    assert len(acked) == WRITES + 1  # the stream and the job
    assert lost == 0, f"{lost} acknowledged writes missing on the new primary"
    assert duplicated == 0, f"{stored} projects and {events} events for {distinct} codes"
    assert set(after_kill) <= {"503", "504"}, after_kill
    assert not after_recovery, after_recovery
    for svc in CONSUMERS:
        assert applied[svc] == len(acked), f"{svc}: {applied[svc]} applications for {len(acked)}"
        assert applied[f"{svc}_dead_letters"] == 0, f"{svc} made dead letters"
        assert gave_up[svc] == 0, f"{svc} gave up on {gave_up[svc]} events during the outage"
        assert held[svc] > 0, f"{svc} never met the outage: the test did not test it"


async def test_database_unavailable_tells_an_outage_from_a_bad_statement(tmp_path):
    """The rule behind 503s and held events: no server to take the work is an outage (here
    nothing listens on either host of a multi-host URL); a statement refused is not."""
    hosts = "&".join(f"host=127.0.0.1:{free_port()}" for _ in range(2))
    nowhere = create_async_engine(f"postgresql+asyncpg://postgres@/teke?{hosts}"
                                  "&target_session_attrs=read-write")
    try:
        with pytest.raises(Exception) as refused:
            async with nowhere.connect():
                pass
    finally:
        await nowhere.dispose()
    assert database_unavailable(refused.value), repr(refused.value)

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as conn:
            with pytest.raises(Exception) as refused_statement:
                await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()
    assert not database_unavailable(refused_statement.value), repr(refused_statement.value)
