"""Several addresses per upstream (gateway.balancer): the selection rule, then a real gateway.

The rule alone: round-robin over addresses not marked down, one address never marked down, a
marked one back only when its probe says ready. Then a real gateway process whose comms
upstream has three addresses, two raw local servers (tests/gateway/rawserver.py) and one port
where nothing listens: requests spread over the live ones, a refused connection is retried
elsewhere (any method), a dropped read is retried elsewhere and a dropped write is a 503, and
the dead address is probed (/readyz) before it takes requests again once something listens.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter

import httpx
import pytest

from deploy.embedded import PYTHON, ROOT, Stack, free_port
from gateway.balancer import Balancer, Replica, parse_addresses
from gateway.upstream import Pool
from tests.conftest import eventually
from tests.gateway.rawserver import KEEP, RESET, RawServer, response

DOWN_SECONDS = 0.3


def test_addresses_are_split_on_commas():
    assert parse_addresses("http://a:1") == ["http://a:1"]
    assert parse_addresses(" http://a:1/, http://b:2 ,") == ["http://a:1", "http://b:2"]
    with pytest.raises(ValueError):
        parse_addresses(" , ")


def _balancer(n: int, probe) -> Balancer:
    urls = [f"http://127.0.0.1:{9000 + i}" for i in range(n)]
    return Balancer("comms", [Replica(u, Pool(u, 10, 1.0)) for u in urls], DOWN_SECONDS, probe)


async def _never(_url: str) -> bool:
    return False


async def test_round_robin_skips_what_is_marked_down():
    b = _balancer(3, _never)
    a, c, d = b.replicas
    assert [b.pick() for _ in range(6)] == [a, c, d, a, c, d]
    assert b.mark_down(c) and not b.mark_down(c)  # once
    assert [b.pick() for _ in range(4)] == [a, d, a, d]
    assert b.other_than([a]) is d and b.other_than([a, d]) is None
    b.mark_down(a)
    b.mark_down(d)
    assert not b.any_up()
    assert b.pick() in b.replicas  # all down: one is tried anyway, not none
    await b.close()


async def test_one_address_is_never_marked_down():
    b = _balancer(1, _never)
    only = b.replicas[0]
    assert not b.mark_down(only) and not only.down
    assert b.pick() is only and b.single is only and b.other_than([]) is None
    await b.close()


async def test_marked_down_until_the_probe_says_ready():
    answers = [False, False, True]
    asked = []

    async def probe(url: str) -> bool:
        asked.append(url)
        return answers[len(asked) - 1]

    b = _balancer(2, probe)
    first = b.replicas[0]
    b.mark_down(first)
    assert first.down

    async def back():
        return not first.down

    await eventually(back, timeout=10)
    assert asked == [first.url] * 3  # probed until ready, then no more


# --- a real gateway process -------------------------------------------------------------

def _answering(name: str):
    async def handler(request, writer):
        if request.path == "/readyz":
            writer.write(response(200, b'{"status":"ready"}',
                                  [("Content-Type", "application/json")]))
            return KEEP
        if request.path.endswith("/drop"):
            return RESET  # no answer at all: as a replica killed while it works on a request
        writer.write(response(200, json.dumps({"by": name}).encode(),
                              [("Content-Type", "application/json")]))
        return KEEP
    return handler


@pytest.fixture(scope="module")
async def gateway3(tmp_path_factory):
    """(gateway url, token, {name: raw server}, dead port): comms = dead, a, b."""
    tmp = tmp_path_factory.mktemp("balancer")
    stack = Stack(tmp, nats_url="nats://127.0.0.1:1", environment="test")
    stack.run_cli("gateway", "migrate")
    dead = free_port()
    async with RawServer(_answering("a")) as a, RawServer(_answering("b")) as b:
        env = stack.env("gateway")
        env.update({"GATEWAY_COMMS_URL": f"http://127.0.0.1:{dead},{a.url},{b.url}",
                    "GATEWAY_REGISTRY_URL": a.url, "GATEWAY_INDICATORS_URL": b.url,
                    "GATEWAY_UPSTREAM_DOWN_SECONDS": str(DOWN_SECONDS),
                    "GATEWAY_CIRCUIT_FAILURE_THRESHOLD": "100000"})
        port = free_port()
        log = open(tmp / "gateway.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "gateway.main:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                for _ in range(600):
                    try:
                        if (await client.get(url + "/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the gateway did not start")
            yield url, stack.dev_token("admin"), {"a": a, "b": b}, dead
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _client(url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url + "/api/v1", timeout=10,
                             headers={"Authorization": f"Bearer {token}"})


async def _dead_found(client: httpx.AsyncClient) -> None:
    """A few reads, so that the dead address is marked down (as after the first test; each
    test also runs alone) and the live ones have pooled connections."""
    for _ in range(6):
        assert (await client.get("/comms/x")).status_code == 200


async def test_requests_spread_over_live_addresses_and_skip_a_dead_one(gateway3):
    url, token, _, _ = gateway3
    seen = Counter()
    async with _client(url, token) as client:
        for i in range(30):
            r = await (client.get("/comms/x") if i % 3 else client.post("/comms/x", json={}))
            assert r.status_code == 200, r.text  # a refused connection is retried elsewhere
            seen[r.json()["by"]] += 1
        ready = (await client.get(url + "/readyz")).json()
    assert seen["a"] >= 5 and seen["b"] >= 5, seen
    comms = ready["upstreams"]["comms"]
    assert comms["status"] == "ready" and comms["ready_addresses"] == "2/3", ready


async def test_a_dropped_read_goes_to_another_address_and_a_dropped_write_is_a_503(gateway3):
    url, token, servers, _ = gateway3
    a, b = servers["a"], servers["b"]
    async with _client(url, token) as client:
        await _dead_found(client)
        # Both drop "/drop": a read is tried on each live address, then answered 503.
        before = len(a.requests) + len(b.requests)
        r = await client.get("/comms/drop")
        assert r.status_code == 503 and r.headers["content-type"].startswith(
            "application/problem+json"), r.text
        assert len(a.requests) + len(b.requests) - before >= 2  # one each, not the same twice
        # A write is sent once: dropped, it is a 503 for the client to retry (Idempotency-Key).
        before = len(a.requests) + len(b.requests)
        r = await client.post("/comms/drop", json={})
        assert r.status_code == 503 and r.headers["content-type"].startswith(
            "application/problem+json"), r.text
        posts = [q for q in (*a.requests, *b.requests)[before:] if q.method == "POST"]
        assert len(posts) == 1, posts

        async def both_back():  # dropped fresh connections marked them down; probes readmit
            answers = [await client.get("/comms/x") for _ in range(4)]
            return {r.json().get("by") for r in answers} == {"a", "b"}

        await eventually(both_back, timeout=20, interval=0.2)


async def test_a_dead_address_is_probed_before_it_takes_requests_again(gateway3):
    url, token, _, dead = gateway3
    async with _client(url, token) as client:
        await _dead_found(client)
    async with RawServer(_answering("c"), bind_port=dead) as c, _client(url, token) as client:

        async def reached_c():
            return (await client.get("/comms/x")).json()["by"] == "c"

        await eventually(reached_c, timeout=20, interval=0.05)
    assert c.requests[0].path == "/readyz", [q.path for q in c.requests[:3]]


async def test_the_gateways_own_calls_go_to_an_address_that_answers():
    """Upstreams.get (docs, views): a refused address is marked down and the next one asked."""
    from gateway.config import Settings
    from gateway.proxy import Upstreams

    dead = free_port()
    async with RawServer(_answering("a")) as a:
        ups = Upstreams(Settings(comms_url=f"http://127.0.0.1:{dead},{a.url}",
                                 upstream_down_seconds=60))
        await ups.start()
        try:
            answers = [await ups.get("comms", "/content") for _ in range(4)]
            assert [(s, json.loads(b)) for s, b in answers] == [(200, {"by": "a"})] * 4
            assert [r.down for r in ups.balancers["comms"].replicas] == [True, False]
        finally:
            await ups.close()
