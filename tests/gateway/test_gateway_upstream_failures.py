"""A real gateway process whose comms upstream is a raw local server (tests/gateway/rawserver.py).

Every way an upstream answer can fail comes back to the client as a 502/503/504
application/problem+json at once (a stall: 504 at the configured timeout), and the next
request, from another client, is answered right and fast: no broken connection is reused.
Framings that are fine pass through intact.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import httpx
import pytest

from deploy.embedded import PYTHON, ROOT, free_port
from tests.gateway.rawserver import CLOSE, KEEP, RESET, STALL, RawServer, chunked, response

TIMEOUT = 1.5  # the gateway's upstream timeout in this module
PROMPT = 1.0  # a failure that is not a stall must be answered well before it

GOOD = response(200, b'{"ok":true}', [("Content-Type", "application/json")])
SCENARIOS: dict[str, tuple[bytes, str]] = {
    # name: (bytes the upstream writes, then what it does with the connection)
    "malformed": (b"HTX/1.1 200 OK\r\n\r\n", KEEP),
    "bad-header": (b"HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 0\r\n\r\n", KEEP),
    "oversize-head": (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", KEEP),
    "length-and-chunked": (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", KEEP),
    "upgrade": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
                KEEP),
    "closed": (b"", CLOSE),
    "reset": (b"", RESET),
    "closed-in-head": (b"HTTP/1.1 200 OK\r\nContent-Ty", CLOSE),
    "closed-mid-body": (response(200, b"x" * 100)[:-10], CLOSE),
    "reset-mid-body": (response(200, b"x" * 600_000)[:-10], RESET),
    "closed-mid-chunked": (chunked(b"x" * 100, 10)[:-20], CLOSE),
    "stall": (b"", STALL),
    "stall-mid-body": (response(200, b"x" * 100)[:-10], STALL),
}
EXPECTED = {"malformed": 502, "bad-header": 502, "oversize-head": 502, "length-and-chunked": 502,
            "upgrade": 502, "stall": 504, "stall-mid-body": 504}  # the rest: 503
FINE: dict[str, tuple[bytes, str, bytes]] = {
    "close-delimited": (response(200, b"until the end", length=False), CLOSE, b"until the end"),
    "chunked-trailers": (chunked(b"chunky" * 100, 33, trailers=[("X-T", "1")]), KEEP,
                         b"chunky" * 100),
    "interim": (b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, b"final"), KEEP, b"final"),
    "length-600k": (response(200, b"y" * 600_000), KEEP, b"y" * 600_000),
    "length-3m": (response(200, b"z" * 3_000_000), KEEP, b"z" * 3_000_000),
    "close-delimited-2m": (response(200, b"w" * 2_000_000, length=False), CLOSE,
                           b"w" * 2_000_000),
    "500-then-close": (response(500, b'{"detail":"boom"}',
                                [("Content-Type", "application/json")]), "close-later",
                       b'{"detail":"boom"}'),
}


async def upstream(request, writer):
    name = request.path.rsplit("/", 1)[-1]
    if name in SCENARIOS:
        data, outcome = SCENARIOS[name]
    elif name in FINE:
        data, outcome, _ = FINE[name]
    elif request.index > 0 and request.path.endswith("/good-once"):
        return CLOSE  # a kept-alive connection the upstream drops just as it is reused
    else:
        data, outcome = GOOD, KEEP
    writer.write(data)
    if outcome == "close-later":  # as uvicorn after an exception's 500: close a moment later
        await writer.drain()
        await asyncio.sleep(0.2)
        return CLOSE
    return outcome


@pytest.fixture(scope="module")
async def raw_gateway(stack, admin_token):
    """(gateway url, raw server): a second gateway on the stack's secrets and database."""
    async with RawServer(upstream) as server:
        port = free_port()
        env = stack.env("gateway")
        env.update({"GATEWAY_COMMS_URL": server.url,
                    "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": str(TIMEOUT),
                    "GATEWAY_CIRCUIT_FAILURE_THRESHOLD": "100000"})
        log = open(stack.data_dir / "gateway-raw.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "gateway.main:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                for _ in range(300):
                    try:
                        if (await client.get(url + "/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the second gateway did not start")
            yield url, server
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


async def get(url: str, token: str, name: str) -> tuple[httpx.Response, float]:
    """One request from a new client on a new connection."""
    async with httpx.AsyncClient(base_url=url + "/api/v1", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        started = time.monotonic()
        r = await client.get(f"/comms/case/{name}")
        return r, time.monotonic() - started


async def assert_next_is_good(url: str, token: str) -> None:
    r, elapsed = await get(url, token, "good")
    assert r.status_code == 200 and r.json() == {"ok": True}, r.text
    assert elapsed < PROMPT


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_upstream_failure_is_a_problem_at_once(raw_gateway, admin_token, name):
    url, _ = raw_gateway
    await assert_next_is_good(url, admin_token)  # a pooled connection is there to be spoiled
    r, elapsed = await get(url, admin_token, name)
    expected = EXPECTED.get(name, 503)
    assert r.status_code == expected, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == expected and "comms" in r.json()["detail"]
    if expected == 504:
        assert TIMEOUT - 0.1 < elapsed < TIMEOUT + PROMPT
    else:
        assert elapsed < PROMPT
    await assert_next_is_good(url, admin_token)


@pytest.mark.parametrize("name", list(FINE))
async def test_upstream_framings_pass_through(raw_gateway, admin_token, name):
    url, _ = raw_gateway
    r, elapsed = await get(url, admin_token, name)
    assert r.content == FINE[name][2]
    assert r.status_code == (500 if name.startswith("500") else 200)
    assert elapsed < 2 * PROMPT
    await assert_next_is_good(url, admin_token)


async def test_connection_dropped_as_it_is_reused_is_retried_for_a_read(raw_gateway, admin_token):
    url, server = raw_gateway
    # Each connection answers its first /good-once and drops the second without an answer.
    for _ in range(3):
        r, elapsed = await get(url, admin_token, "good-once")
        assert r.status_code == 200 and elapsed < PROMPT, r.text
