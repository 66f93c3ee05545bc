"""With one service down or hung, its routes fail fast with problem+json; others still answer."""

from __future__ import annotations

import os
import signal
import time

import httpx


async def test_stopped_service_gives_503_and_others_answer(stack, gw):
    stack.stop("indicators")
    try:
        started = time.monotonic()
        r = await gw.get("/indicators/projects/anything")
        elapsed = time.monotonic() - started
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 503 and "indicators" in body["detail"]
        assert body["request_id"] == r.headers["x-request-id"]
        assert elapsed < 3.0  # the configured upstream timeout
        assert (await gw.get("/projects")).status_code == 200
        assert (await gw.get("/comms/projects/anything")).status_code == 404
        async with httpx.AsyncClient() as client:
            ready = await client.get(stack.gateway_url + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["upstreams"]["indicators"]["status"] == "unreachable"
        assert ready.json()["upstreams"]["registry"]["status"] == "ready"
    finally:
        stack.start("indicators")
        stack.wait_ready(("indicators",))
    assert (await gw.get("/indicators/projects/anything")).status_code == 404


async def test_hung_service_gives_504_within_timeout(stack, gw):
    pid = stack.procs["comms"].pid
    os.kill(pid, signal.SIGSTOP)  # accepts connections (kernel backlog) but never answers
    try:
        started = time.monotonic()
        r = await gw.get("/comms/projects/anything")
        elapsed = time.monotonic() - started
        assert r.status_code == 504, r.text
        assert r.json()["type"].endswith("/gateway-timeout")
        assert 2.5 < elapsed < 6.0  # GATEWAY_UPSTREAM_TIMEOUT_SECONDS=3
        assert (await gw.get("/projects", params={"limit": 1})).status_code == 200
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_request_id_is_passed_on_and_echoed(gw):
    r = await gw.get("/projects", headers={"X-Request-ID": "trace-me-123"})
    assert r.headers["x-request-id"] == "trace-me-123"
    r = await gw.get("/projects/does-not-exist", headers={"X-Request-ID": "trace-me-456"})
    assert r.status_code == 404 and r.json()["request_id"] == "trace-me-456"
