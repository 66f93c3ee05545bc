"""Protection and operations at the gateway: rate limits, circuit breaker, CORS, compression,
metrics, trace context across HTTP and NATS, and the AsyncAPI document."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from deploy.embedded import ROOT, free_port
from shared.contracts import CATALOGUE
from shared.events.envelope import type_to_subject
from shared.jsonutil import loads
from tests.conftest import eventually, scalar


@pytest.fixture(scope="module")
def strict_gateway(stack):
    """A second gateway on the same services, with tight limits and CORS for one origin."""
    port = free_port()
    env = stack.env("gateway")
    env.update({
        "GATEWAY_RATE_LIMIT_PER_IDENTITY": "2", "GATEWAY_RATE_LIMIT_IDENTITY_BURST": "5",
        "GATEWAY_RATE_LIMIT_PER_ADDRESS": "1000", "GATEWAY_RATE_LIMIT_ADDRESS_BURST": "1000",
        "GATEWAY_CIRCUIT_FAILURE_THRESHOLD": "3", "GATEWAY_CIRCUIT_COOLDOWN_SECONDS": "2",
        "GATEWAY_CORS_ORIGINS": '["https://frontend.teke.fi"]',
    })
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "gateway.main:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


async def test_rate_limit_per_identity_gives_429_with_retry_after(strict_gateway, stack):
    token = stack.dev_token("viewer", sub=f"rate-{uuid.uuid4().hex[:6]}")
    other = stack.dev_token("viewer", sub=f"rate-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=strict_gateway + "/api/v1") as client:
        statuses = [(await client.get("/projects", params={"limit": 1},
                                      headers={"Authorization": f"Bearer {token}"})).status_code
                    for _ in range(8)]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
        r = await client.get("/projects", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
        # Another caller is not affected by the first one's limit.
        r = await client.get("/projects", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 200


async def test_circuit_opens_after_failures_and_closes_after_recovery(strict_gateway, stack, gw):
    stack.stop("comms")
    try:
        async with httpx.AsyncClient(base_url=strict_gateway + "/api/v1") as client:
            details = [(await client.get("/comms/projects/x")).json()["detail"] for _ in range(5)]
            assert all("comms" in d for d in details)
            assert "not trying for now" in details[-1], details  # open: no call made
            r = await client.get("/comms/projects/x")
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
            # Other upstreams are unaffected.
            assert (await client.get("/projects", params={"limit": 1})).status_code == 200
    finally:
        stack.start("comms")
        stack.wait_ready(("comms",))
    await asyncio.sleep(2.2)  # cooldown: the next call is the trial that closes the circuit
    async with httpx.AsyncClient(base_url=strict_gateway + "/api/v1") as client:
        assert (await client.get("/comms/projects/x")).status_code == 404
        assert (await client.get("/comms/projects/x")).status_code == 404


async def test_cors_allows_only_the_configured_origin(strict_gateway):
    async with httpx.AsyncClient(base_url=strict_gateway) as client:
        ok = await client.options("/api/v1/projects", headers={
            "Origin": "https://frontend.teke.fi", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://frontend.teke.fi"
        bad = await client.options("/api/v1/projects", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in bad.headers
        r = await client.get("/api/v1/projects", headers={"Origin": "https://frontend.teke.fi"})
        assert r.headers["access-control-allow-origin"] == "https://frontend.teke.fi"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


async def test_large_responses_are_compressed(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        r = await client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert r.headers.get("content-encoding") == "gzip" and r.json()["openapi"]
        small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers


async def test_metrics_on_gateway_and_services(stack, gw):
    await gw.get("/projects", params={"limit": 1})
    async with httpx.AsyncClient() as client:
        text = (await client.get(stack.gateway_url + "/metrics")).text
        assert ('teke_http_requests_total{method="GET",route="/api/v1/projects",'
                'service="gateway",status="200"}') in text
        registry = (await client.get(stack.url("registry") + "/metrics")).text
        assert 'teke_outbox_backlog{service="registry"}' in registry
        assert 'route="/projects"' in registry
        indicators = (await client.get(stack.url("indicators") + "/metrics")).text
        assert 'teke_consumer_lag{service="indicators",stream="TEKE_REGISTRY"}' in indicators
        assert 'teke_dead_letters{service="indicators"}' in indicators
    # Not routed to clients through /api/v1.
    assert (await gw.get("/metrics")).status_code == 404


async def test_trace_context_follows_request_into_events(gw, stack, nats_server):
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    r = await gw.post("/projects", json={"code": "TR-" + uuid.uuid4().hex[:6], "name": {"fi": "Jäljitys"}},
                      headers={"traceparent": parent})
    assert r.status_code == 201
    project_id = r.json()["id"]
    envelope = await eventually(lambda: scalar(
        stack.db_urls["registry"], "SELECT envelope FROM outbox WHERE entity_id = :e", e=project_id))
    traceparent = loads(envelope)["traceparent"]
    assert traceparent.startswith(f"00-{trace_id}-") and traceparent != parent  # child span

    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            type_to_subject("fi.teke.registry.project.created.v1"), stream="TEKE_REGISTRY",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
        msgs = await sub.fetch(1, timeout=5)
        assert msgs[0].headers["traceparent"] == traceparent
        assert loads(msgs[0].data)["subject"] == project_id
        await sub.unsubscribe()
    finally:
        await nc.close()


async def test_asyncapi_lists_every_event(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/api/v1/asyncapi.json")).json()
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {type_to_subject(t) for t in CATALOGUE}
    msg = doc["components"]["messages"]["registry_project_created_v1"]
    assert msg["payload"]["properties"]["type"]["const"] == "fi.teke.registry.project.created.v1"
    data_ref = msg["payload"]["properties"]["data"]["$ref"].rsplit("/", 1)[1]
    assert "code" in doc["components"]["schemas"][data_ref]["properties"]


async def test_every_get_has_an_etag_and_answers_304(gw):
    r = await gw.get("/projects", params={"limit": 3})
    assert r.status_code == 200 and r.headers["etag"].startswith('W/"')
    again = await gw.get("/projects", params={"limit": 3}, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    created = await gw.post("/projects", json={"code": "ETAG-" + uuid.uuid4().hex[:6],
                                               "name": {"fi": "Etag"}})
    one = await gw.get(f"/projects/{created.json()['id']}")
    strong = one.headers["etag"]
    assert not strong.startswith("W/")  # the service's own ETag (its version) is kept
    assert (await gw.get(f"/projects/{created.json()['id']}",
                         headers={"If-None-Match": strong})).status_code == 304
    # A changed list no longer matches the old tag.
    changed = await gw.get("/projects", params={"limit": 3}, headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200 and changed.json()["items"]
