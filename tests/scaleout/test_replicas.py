"""Issue 17, item 3: two replicas of every service behind two gateways; one of each is killed.

Real processes (deploy.embedded.Stack with replicas=2, gateways=2): two registries, two
indicators, two comms and two gateways, each gateway given both addresses of every service
(gateway.balancer), the replicas of a service on one database and one nats-server.
A client writes projects (POST /projects/import, one project each, with an Idempotency-Key,
retried on 503/504 or on a connection error to a gateway that is gone) and reads (the registry
and both projections), alternating the gateways. Once a share of the writes is acknowledged,
one replica of each service and one gateway get SIGKILL; from then on the client uses the other
gateway only, as a load balancer would.

Asserted: no read through a live gateway fails; a write fails only as a 503/504
problem+json (or a connection error to the killed gateway); every key lands once (its project
exists once, at version 1, and the answer that acknowledged it says "created"); every
acknowledged project reaches the indicators and comms projections, each applied once.

Both backends. On PostgreSQL the replicas share each service's database as they would across
machines; on SQLite (the embedded default) they share its file on this machine (WAL, and a busy
timeout in shared.db): writes do not scale that way (one writer at a time), but surviving a
killed process does, and that is what is asserted.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import httpx
import pytest

from deploy.embedded import SERVICES, NatsServer, Stack
from tests.conftest import eventually, rows
from tests.support import databases

WRITES = 400  # projects, one import request each
KILL_AFTER = 100  # acknowledged writes before the kill
WRITERS = 4
READERS = 4
RETRY_PAUSE = 0.2  # seconds a client waits before retrying a write
UNAVAILABLE = (503, 504)


@pytest.fixture
def replica_stack(tmp_path):
    nats = NatsServer(tmp_path / "nats" / "store")
    nats.start()
    stack = None
    try:
        urls = databases.database_urls([*SERVICES, "gateway"], tmp_path / "db")
        env = {
            # One busy client: the rate limits have their own tests.
            "GATEWAY_RATE_LIMIT_PER_IDENTITY": "100000", "GATEWAY_RATE_LIMIT_IDENTITY_BURST": "100000",
            "GATEWAY_RATE_LIMIT_PER_ADDRESS": "100000", "GATEWAY_RATE_LIMIT_ADDRESS_BURST": "100000",
            "GATEWAY_UPSTREAM_DOWN_SECONDS": "1",
        }
        stack = Stack(tmp_path, nats_url=nats.url, db_urls=urls, extra_env=env,
                      environment="test", replicas=2, gateways=2)
        stack.migrate()
        stack.start_all()
        stack.wait_ready(timeout=180)  # eight processes starting at once on two shared cores
        yield stack
    finally:
        if stack is not None:
            stack.stop_all()
        nats.stop()


class Load:
    """The client: writers and readers over the gateways still alive, and what they saw."""

    def __init__(self, stack: Stack, token: str, tag: str) -> None:
        self.stack = stack
        self.tag = tag
        self.alive = list(stack.gateway_urls)
        self.killed_gateway = stack.gateway_urls[1]
        self.clients = {url: httpx.AsyncClient(
            base_url=url + "/api/v1", timeout=30,
            headers={"Authorization": f"Bearer {token}"}) for url in stack.gateway_urls}
        self.numbers = itertools.count()
        self.acknowledged: dict[str, str] = {}  # code -> id
        self.retried_keys: set[str] = set()
        self.write_retries = 0
        self.write_unavailable = 0  # 503/504 problem+json answers (then retried)
        self.write_gateway_lost = 0  # connection errors to the killed gateway (then retried)
        self.write_failures: list[str] = []  # anything but 503/504 or the killed gateway
        self.reads = 0
        self.read_failures: list[str] = []
        self.rerouted_reads = 0  # reads the killed gateway dropped, sent to the other
        self.last_ack = self.last_read = time.monotonic()
        self.write_pause = self.read_pause = 0.0
        self.kill_at_acks = asyncio.Event()
        self.killing = False  # from here a connection error to the second gateway is expected
        self.writing = True

    def gateway(self, n: int) -> str:
        alive = self.alive
        return alive[n % len(alive)]

    def _gone(self, url: str) -> bool:
        return self.killing and url == self.killed_gateway

    async def write(self, n: int) -> None:
        code = f"REP-{self.tag}-{n:04d}"
        key = f"replicas-{self.tag}-{n}"
        body = {"projects": [{"code": code, "name": {"fi": f"Hanke {code}"},
                              "region_codes": ["01"]}]}
        for attempt in itertools.count():
            url = self.gateway(n + attempt)
            try:
                r = await self.clients[url].post("/projects/import", json=body,
                                                 headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                if not self._gone(url):
                    self.write_failures.append(f"{code} via {url}: {exc!r}")
                    return
                self.write_gateway_lost += 1
            else:
                if r.status_code == 200:
                    row = r.json()["rows"][0]
                    if row["result"] != "created":
                        self.write_failures.append(f"{code}: {row}")
                        return
                    self.acknowledged[code] = row["id"]
                    now = time.monotonic()
                    self.write_pause = max(self.write_pause, now - self.last_ack)
                    self.last_ack = now
                    if len(self.acknowledged) >= KILL_AFTER:
                        self.kill_at_acks.set()
                    return
                if not (r.status_code in UNAVAILABLE and r.headers.get(
                        "content-type", "").startswith("application/problem+json")):
                    self.write_failures.append(f"{code} via {url}: {r.status_code} {r.text}")
                    return
                self.write_unavailable += 1
            self.write_retries += 1
            self.retried_keys.add(key)
            if attempt > 100:
                self.write_failures.append(f"{code}: still unavailable after {attempt} tries")
                return
            await asyncio.sleep(RETRY_PAUSE)

    async def writer(self) -> None:
        while (n := next(self.numbers)) < WRITES:
            await self.write(n)

    async def reader(self, r: int) -> None:
        for i in itertools.count(r):
            if not self.writing:
                return
            ids = list(self.acknowledged.values())
            if not ids:
                await asyncio.sleep(0.05)
                continue
            pid = ids[-1 - i % min(len(ids), 20)]
            path, fine = [(f"/projects/{pid}", (200,)), ("/projects?limit=20", (200,)),
                          (f"/indicators/projects/{pid}", (200, 404)),
                          (f"/comms/projects/{pid}", (200, 404))][i % 4]
            url = self.gateway(i)
            try:
                resp = await self.clients[url].get(path)
            except httpx.TransportError as exc:
                if self._gone(url):
                    self.rerouted_reads += 1  # a load balancer would send it to the other
                    await asyncio.sleep(0.05)
                    continue
                self.read_failures.append(f"GET {path} via {url}: {exc!r}")
                continue
            self.reads += 1
            if resp.status_code not in fine:
                self.read_failures.append(f"GET {path} via {url}: {resp.status_code} "
                                          f"{resp.text[:300]}")
                continue
            now = time.monotonic()
            self.read_pause = max(self.read_pause, now - self.last_read)
            self.last_read = now

    async def kill_one_of_each(self) -> float:
        """SIGKILL the second replica of every service and the second gateway; the time."""
        await self.kill_at_acks.wait()
        killed_at = time.monotonic()
        self.killing = True
        for name in (*SERVICES, "gateway"):
            await asyncio.to_thread(self.stack.kill, name, 1)
        self.alive = [url for url in self.alive if url != self.killed_gateway]
        return killed_at

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def test_one_replica_of_each_and_one_gateway_killed_mid_run(replica_stack, scaleout_report):
    stack = replica_stack
    load = Load(stack, stack.dev_token("admin"), uuid.uuid4().hex[:6].upper())
    started = time.monotonic()
    try:
        killer = asyncio.create_task(load.kill_one_of_each())
        readers = [asyncio.create_task(load.reader(r)) for r in range(READERS)]
        await asyncio.wait_for(asyncio.gather(*(load.writer() for _ in range(WRITERS))), 600)
        load.writing = False
        await asyncio.gather(*readers)
        assert killer.done(), "the kill never happened: too few writes acknowledged"
        killed_at = killer.result()
    finally:
        load.writing = False
        await load.close()
    run_seconds = time.monotonic() - started
    for name in (*SERVICES, "gateway"):
        assert stack.alive(name, 0) and not stack.alive(name, 1), name

    # Lands once: one project per acknowledged code, at its first version, in the registry.
    codes = set(load.acknowledged)
    like = f"REP-{load.tag}-%"
    registry = {row.code: (row.id, row.version) for row in await rows(
        stack.db_urls["registry"], "SELECT code, id, version FROM project WHERE code LIKE :p",
        p=like)}
    # Every project in the registry was acknowledged (a write the client gave up on is a
    # failure above), with the id it was acknowledged with, and written once.
    assert set(registry) == codes
    assert all(registry[c] == (load.acknowledged[c], 1) for c in codes)

    # Every acknowledged project reaches both projections, each event applied once (a
    # consumer's unacknowledged message goes to the other replica after its ack wait).
    applied = {}
    writes_done = time.monotonic()
    for svc in ("indicators", "comms"):
        sql = "SELECT code, version, applied_count FROM project_projection WHERE code LIKE :p"

        async def projected(svc=svc, sql=sql):
            found = await rows(stack.db_urls[svc], sql, p=like)
            return found if len(found) >= len(codes) else None

        applied[svc] = {row.code: (row.version, row.applied_count)
                        for row in await eventually(projected, timeout=180, interval=1.0)}
    # Up to the consumers' ack wait (30 s) when a killed replica held unacknowledged messages.
    projected_after = time.monotonic() - writes_done
    lost = sum(len(codes - set(applied[svc])) for svc in applied) + len(
        codes - set(registry))
    duplicated = sum(1 for svc in applied for v in applied[svc].values() if v != (1, 1))

    scaleout_report(
        "replicas", db=databases.BACKEND, writes=WRITES, acknowledged=len(codes),
        write_retries=load.write_retries, write_503_504=load.write_unavailable,
        write_gateway_lost=load.write_gateway_lost, retried_keys=len(load.retried_keys),
        write_failures=len(load.write_failures), reads=load.reads,
        read_failures=len(load.read_failures), rerouted_reads=load.rerouted_reads,
        lost=lost, duplicated=duplicated,
        longest_write_pause_s=round(load.write_pause, 2),
        longest_read_pause_s=round(load.read_pause, 2),
        killed_after_s=round(killed_at - started, 1), run_s=round(run_seconds, 1),
        projections_complete_after_s=round(projected_after, 1))

    assert not load.write_failures, load.write_failures[:10]
    assert not load.read_failures, load.read_failures[:10]
    assert len(codes) == WRITES
    assert lost == 0 and duplicated == 0, (lost, duplicated)
    for svc in applied:
        assert set(applied[svc]) == codes
    # Bounds on the pauses, loose for a shared two-core machine: a dead replica is skipped at
    # its first refused connection, so a pause near the upstream timeout would mean it was not.
    assert load.write_pause < 30 and load.read_pause < 30, (load.write_pause, load.read_pause)
