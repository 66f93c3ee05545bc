"""Issue 17, item 1: the services on a three-node NATS cluster lose nothing when nodes die.

Three pinned nats-servers with JetStream and routes; every stream and durable consumer at
three replicas; every service given all three URLs. During 5,000 writes through the gateway
(creates, and runs of patches to some projects so that version order matters) the
TEKE_REGISTRY stream's leader is SIGKILLed, started again once the stream has a new leader,
and when it is back and current another node is SIGKILLed (the cluster then runs on two).
Every acknowledged write must reach each projection exactly once and end at its last version.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
import uuid
from collections import defaultdict

import httpx
import nats
import pytest

from deploy.embedded import free_port
from shared.contracts.registry import PROJECT_CREATED, PROJECT_UPDATED
from shared.events.nats_conn import NatsConnection
from tests.conftest import eventually, make_stack, scalar
from tests.conftest import rows as db_rows
from tests.support.nats_cluster import NatsCluster

STREAM = "TEKE_REGISTRY"
CONSUMERS = ("indicators", "comms")
REPLICAS = 3
CREATES = 4000
PATCHED_PROJECTS, PATCHES_EACH = 250, 4  # 1,000 patches: 5,000 writes in all
CONCURRENCY = 16
# Progress (acknowledged writes) at which each fault starts; writes never wait for them
# except at HOLD, if the restarted node is not yet current there (the wait is reported).
FIRST_KILL_AT, SECOND_KILL_AT, HOLD_AT = 800, 2600, 3600


@pytest.fixture
def cluster(tmp_path):
    c = NatsCluster(tmp_path / "nats")
    c.start()
    yield c
    c.stop()


@pytest.fixture
def cluster_stack(tmp_path, cluster):
    replicas = {f"{svc}_NATS_STREAM_REPLICAS": str(REPLICAS)
                for svc in ("REGISTRY", "INDICATORS", "COMMS")}
    stack = make_stack(tmp_path / "stack", cluster.url, extra_env={
        **replicas,
        # Keep published rows for the whole run: their published_at is the publishing record.
        "REGISTRY_OUTBOX_RETENTION_SECONDS": "3600",
        # A loaded 2-core machine must not turn a slow write into an unacknowledged one.
        "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": "30",
    })
    yield stack
    stack.stop_all()


def _as_time(value) -> dt.datetime:
    # SQLite hands raw text to a text() query; PostgreSQL a datetime.
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _longest_gap(times: list) -> float:
    ordered = sorted(_as_time(t) for t in times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    return round(max(gaps, default=0.0), 2)


async def _replication(cluster: NatsCluster) -> dict[str, int]:
    """Peers (leader + followers) of every stream and durable consumer, as the cluster says."""
    nc = await nats.connect(cluster.urls)
    try:
        jsm = nc.jsm(timeout=5)
        peers: dict[str, int] = {}
        for stream in await jsm.streams_info():
            name = stream.config.name
            peers[name] = 1 + len(stream.cluster.replicas or [])
            for consumer in await jsm.consumers_info(name):
                peers[f"{name}/{consumer.name}"] = 1 + len(consumer.cluster.replicas or [])
        return peers
    finally:
        await nc.close()


class Load:
    """The writes and what each acknowledged: per project, the last version it answered."""

    def __init__(self, client: httpx.AsyncClient, tag: str) -> None:
        self.client = client
        self.tag = tag
        self.acknowledged = 0
        self.failed: list[tuple[str, int, str]] = []
        self.last_version: dict[str, int] = {}  # project id -> last acknowledged version
        self.hold = asyncio.Event()
        self.hold.set()
        self.held_seconds = 0.0  # the longest any write waited at HOLD_AT
        self.progress = asyncio.Condition()
        self.running = True

    async def _write(self, method: str, url: str, body: dict) -> dict | None:
        if self.acknowledged >= HOLD_AT and not self.hold.is_set():
            t0 = time.monotonic()
            await self.hold.wait()
            self.held_seconds = max(self.held_seconds, time.monotonic() - t0)
        try:
            r = await self.client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            self.failed.append((url, 0, repr(exc)))
            return None
        if r.status_code // 100 != 2:
            self.failed.append((url, r.status_code, r.text[:200]))
            return None
        self.acknowledged += 1
        async with self.progress:
            self.progress.notify_all()
        return r.json()

    async def create(self, i: int) -> dict | None:
        code = f"{self.tag}-{i:05d}"
        p = await self._write("POST", "/projects", {
            "code": code, "name": {"fi": f"Hanke {code}"}, "region_codes": ["01"]})
        if p is not None:
            self.last_version[p["id"]] = p["version"]
        return p

    async def create_and_patch(self, i: int) -> None:
        p = await self.create(i)
        # One after another: each patch makes the next version, so order is what is tested.
        for n in range(PATCHES_EACH if p is not None else 0):
            q = await self._write("PATCH", f"/projects/{p['id']}",
                                  {"name": {"fi": f"Hanke {p['code']} v{n + 2}"}})
            if q is None:
                return
            self.last_version[q["id"]] = q["version"]

    async def run(self) -> None:
        # Every 16th project gets a run of patches; the rest are plain creates.
        stride = CREATES // PATCHED_PROJECTS
        queue = [(self.create_and_patch if i % stride == 0 else self.create, i)
                 for i in range(CREATES)]
        queue.reverse()

        async def worker():
            while queue:
                fn, i = queue.pop()
                await fn(i)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    async def reached(self, n: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: self.acknowledged >= n or not self.running)


async def _faults(cluster: NatsCluster, load: Load) -> dict:
    """Kill the stream's leader, start it again, wait until it is current, kill another."""
    try:
        return await _kill_twice(cluster, load)
    finally:
        load.hold.set()  # never leave the writes waiting, also when a wait here failed


async def _kill_twice(cluster: NatsCluster, load: Load) -> dict:
    timeline: dict = {}
    await load.reached(FIRST_KILL_AT)
    first = await eventually(lambda: cluster.stream_leader(STREAM), timeout=60, interval=0.25)
    cluster.kill(first)
    timeline["first_killed"] = first
    killed_at = [load.acknowledged]
    t0 = time.monotonic()
    # Not back before the others have chosen a new leader: the election is what is tested.
    await _new_leader(cluster, other_than=first)
    timeline["new_leader_after_s"] = round(time.monotonic() - t0, 2)
    load.hold.clear()  # from HOLD_AT on, writes wait until the cluster is whole again
    cluster.restart(first)
    await cluster.wait_current(STREAM, CONSUMERS, REPLICAS)
    timeline["first_back_current_after_s"] = round(time.monotonic() - t0, 2)
    load.hold.set()
    await load.reached(SECOND_KILL_AT)
    # The second victim is the stream's leader now (never the node just back).
    second = await cluster.stream_leader(STREAM)
    if not second or second == first:
        second = next(n.name for n in cluster.nodes if n.name != first)
    cluster.kill(second)
    timeline["second_killed"] = second
    timeline["killed_at_acknowledged"] = [*killed_at, load.acknowledged]
    return timeline


async def _new_leader(cluster: NatsCluster, other_than: str, timeout: float = 120.0) -> str:
    async def check():
        leader = await cluster.stream_leader(STREAM)
        return leader if leader and leader != other_than else None

    return await eventually(check, timeout=timeout, interval=0.25)


async def test_connection_takes_every_url_and_moves_when_its_node_dies(cluster):
    """*_NATS_URL's comma-separated addresses are a server list (nats-py refuses the string
    whole): one dead address among them is skipped, and the death of the node the service
    is connected to moves it to another."""
    dead = f"nats://127.0.0.1:{free_port()}"
    conn = NatsConnection(f"{dead}, {cluster.url}", "teke-test")
    await conn.start()
    try:
        assert conn.servers == [dead, *cluster.urls]
        await asyncio.wait_for(conn.ready.wait(), 60)
        port = conn.nc.connected_url.port
        cluster.kill(next(n.name for n in cluster.nodes if n.client_port == port))

        async def moved():
            return conn.is_connected and conn.nc.connected_url.port != port

        await eventually(moved, timeout=60, interval=0.1)
    finally:
        await conn.close()


@pytest.mark.timeout(900)
async def test_three_node_cluster_survives_leader_kills(cluster, cluster_stack, scaleout_report):
    stack = cluster_stack
    started = time.monotonic()
    # Replicas as configured: every stream and every durable consumer has three peers.
    await cluster.wait_current(STREAM, CONSUMERS, REPLICAS)
    peers = await _replication(cluster)
    assert {STREAM, *(f"{STREAM}/{c}" for c in CONSUMERS)} <= peers.keys(), peers
    assert set(peers.values()) == {REPLICAS}, peers

    tag = "NC" + uuid.uuid4().hex[:6].upper()
    headers = {"Authorization": f"Bearer {stack.dev_token('admin')}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers,
                                 timeout=60) as client:
        load = Load(client, tag)
        faults = asyncio.create_task(_faults(cluster, load))
        try:
            await load.run()
        except BaseException:
            faults.cancel()
            raise
        finally:
            load.running = False
            async with load.progress:
                load.progress.notify_all()
        timeline = await asyncio.wait_for(faults, 300)
    writes_s = round(time.monotonic() - started, 1)
    assert not load.failed, f"{len(load.failed)} writes not acknowledged: {load.failed[:5]}"
    assert load.acknowledged == CREATES + PATCHED_PROJECTS * PATCHES_EACH

    registry = stack.db_urls["registry"]

    async def drained():
        return await scalar(registry, "SELECT count(*) FROM outbox "
                                      "WHERE published_at IS NULL") == 0

    await eventually(drained, timeout=180, interval=0.5)
    sent: dict[str, int] = defaultdict(int)  # project id -> its events in the outbox
    published = []
    for entity_id, published_at in await db_rows(
            registry, "SELECT entity_id, published_at FROM outbox WHERE type IN (:c, :u)",
            c=PROJECT_CREATED, u=PROJECT_UPDATED):
        sent[entity_id] += 1
        published.append(published_at)
    # One event per acknowledged write, and the last acknowledged version is the event count.
    assert sent == load.last_version
    # What the relay re-published after an unanswered publish, less what NATS deduplicated by
    # Nats-Msg-Id: copies the consumers' inbox must turn away (reported, not asserted).
    stream = await cluster.stream_info(STREAM)
    assert stream is not None, f"{STREAM} has no leader after the run"
    stream_copies = stream.state.messages - await scalar(registry, "SELECT count(*) FROM outbox")
    assert stream_copies >= 0, "the stream holds fewer events than the outbox published"

    figures = {"lost": 0, "duplicated": 0, "applied": {}, "consume_pause_s": {}}
    for svc in CONSUMERS:
        db = stack.db_urls[svc]

        async def arrived(db=db):
            n = await scalar(db, "SELECT count(*) FROM project_projection WHERE code LIKE :l "
                                 "AND applied_count >= version", l=f"{tag}-%")
            total = await scalar(db, "SELECT sum(version) FROM project_projection "
                                     "WHERE code LIKE :l", l=f"{tag}-%")
            return (n == len(sent) and total == sum(sent.values())) or None

        try:
            await eventually(arrived, timeout=240, interval=0.5)
        except AssertionError:
            pass  # counted below, where the difference is named
        rows = {r[0]: (r[1], r[2]) for r in await db_rows(
            db, "SELECT id, version, applied_count FROM project_projection WHERE code LIKE :l",
            l=f"{tag}-%")}
        # In version order: whatever order events came in, the projection holds the last.
        lost = [pid for pid, v in load.last_version.items()
                if pid not in rows or rows[pid][0] != v]
        duplicated = sum(max(0, rows[pid][1] - n) for pid, n in sent.items() if pid in rows)
        short = [pid for pid, n in sent.items() if pid in rows and rows[pid][1] < n]
        figures["lost"] += len(lost)
        figures["duplicated"] += duplicated
        figures["applied"][svc] = sum(applied for _, applied in rows.values())
        inbox = await db_rows(db, "SELECT processed_at FROM inbox WHERE type IN (:c, :u)",
                            c=PROJECT_CREATED, u=PROJECT_UPDATED)
        figures["consume_pause_s"][svc] = _longest_gap([r[0] for r in inbox])
        assert not lost, f"{svc}: {len(lost)} projects missing or not at their last version"
        assert not short, f"{svc}: {len(short)} projects with events not applied"
        assert duplicated == 0, f"{svc}: {duplicated} events applied twice"
        assert await scalar(db, "SELECT count(*) FROM dead_letter") == 0, f"{svc}: dead letters"

    # A rebuild on the cluster (one node still down) replays the whole stream and leaves it at
    # its replicas: it declares the stream with the service's setting (it used to say one).
    t0 = time.monotonic()
    out = await asyncio.to_thread(stack.run_cli, "indicators", "rebuild-projections")
    rebuild_s = round(time.monotonic() - t0, 1)
    assert out.startswith("replayed "), out
    stream = await cluster.stream_info(STREAM)
    assert stream is not None and stream.config.num_replicas == REPLICAS
    assert await scalar(stack.db_urls["indicators"], "SELECT sum(applied_count) FROM "
                        "project_projection WHERE code LIKE :l", l=f"{tag}-%") == sum(sent.values())

    scaleout_report(
        "nats_cluster",
        acknowledged=load.acknowledged,
        applied=figures["applied"],
        lost=figures["lost"],
        duplicated=figures["duplicated"],
        publish_pause_s=_longest_gap(published),
        consume_pause_s=figures["consume_pause_s"],
        replicated=len(peers),
        stream_copies=stream_copies,
        writes_held_s=round(load.held_seconds, 2),
        writes_s=writes_s,
        rebuild_s=rebuild_s,
        run_s=round(time.monotonic() - started, 1),
        **timeline,
    )
