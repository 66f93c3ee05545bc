"""Fixtures: a real NATS server, real databases (SQLite or PostgreSQL), real service processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.embedded import SERVICES, NatsServer, Stack
from tests.support import databases
from tests.support.oidc import FakeOIDC

# Small retry bounds so dead-lettering is quick to observe.
FAST_CONSUMERS = {
    f"{svc.upper()}_{k}": v
    for svc in ("indicators", "comms")
    for k, v in {"CONSUMER_MAX_ATTEMPTS": "3", "CONSUMER_BACKOFF_SECONDS": "[0.1, 0.2, 0.3]"}.items()
}


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    databases.drop_created()


@pytest.fixture(scope="session")
def oidc():
    provider = FakeOIDC()
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory):
    server = NatsServer(tmp_path_factory.mktemp("nats") / "store")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_nats(tmp_path):
    """A NATS server of the test's own, for tests that stop or restart it."""
    server = NatsServer(tmp_path / "nats-store")
    server.start()
    yield server
    server.stop()


def make_stack(tmp: Path, nats_url: str, oidc: FakeOIDC | None = None,
               extra_env: dict[str, str] | None = None,
               db_urls: dict[str, str] | None = None) -> Stack:
    """`db_urls`: databases made elsewhere (a test's own PostgreSQL pair); else new ones on
    the backend under test."""
    urls = db_urls or databases.database_urls([*SERVICES, "gateway"], tmp / "db")
    env = dict(FAST_CONSUMERS)
    if oidc is not None:
        env["GATEWAY_OIDC_JWKS_URL"] = oidc.jwks_url
    env["GATEWAY_UPSTREAM_TIMEOUT_SECONDS"] = "3"
    # The suite (schemathesis above all) is one busy client; limits have their own tests.
    env["GATEWAY_RATE_LIMIT_PER_IDENTITY"] = "100000"
    env["GATEWAY_RATE_LIMIT_IDENTITY_BURST"] = "100000"
    env["GATEWAY_RATE_LIMIT_PER_ADDRESS"] = "100000"
    env["GATEWAY_RATE_LIMIT_ADDRESS_BURST"] = "100000"
    env["GATEWAY_EXPORT_LIMIT_COUNT"] = "100000"
    env["GATEWAY_SIGNUP_LIMIT_COUNT"] = "100000"
    env.update(extra_env or {})
    stack = Stack(tmp, nats_url=nats_url, db_urls=urls, extra_env=env, environment="test")
    stack.migrate()
    stack.start_all()
    stack.wait_ready()
    return stack


# --- comms channel peers (issue 5): a real SMTP server and webhook receiver on loopback ---

@pytest.fixture(scope="session")
def smtp_sink():
    from tests.comms.peers import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def webhook_receiver():
    from tests.comms.peers import WebhookReceiver

    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, nats_server, oidc, smtp_sink, webhook_receiver):
    from tests.comms.peers import comms_env

    s = make_stack(tmp_path_factory.mktemp("stack"), nats_server.url, oidc,
                   extra_env=comms_env(smtp_sink, webhook_receiver))
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def admin_token(stack) -> str:
    return stack.dev_token("admin")


@pytest.fixture
async def gw(stack, admin_token):
    """An httpx client on the gateway, signed in as a development admin."""
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=15,
                                 headers={"Authorization": f"Bearer {admin_token}"}) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[object]], timeout: float = 20.0,
                     interval: float = 0.05):
    """Poll `check` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last value: {last!r})")


async def scalar(db_url: str, sql: str, **params):
    """Read one value straight from a service's database (tests look, never write)."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()
    finally:
        await engine.dispose()


async def rows(db_url: str, sql: str, **params) -> list:
    """Read rows straight from a service's database (tests look, never write)."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def execute(db_url: str, *statements: str) -> None:
    """Run DDL on a service's database: only for injecting a fault, as an operator might."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def create_projects(client: httpx.AsyncClient, codes: list[str], concurrency: int = 8,
                          on_created: Callable[[int], None] | None = None) -> list[dict]:
    """Create projects through the gateway, several at a time; every one must answer 201."""
    queue = list(codes)
    created: list[dict] = []

    async def worker():
        while queue:
            code = queue.pop(0)
            r = await client.post("/projects", json={"code": code, "name": {"fi": f"Hanke {code}"},
                                                     "region_codes": ["01"]})
            assert r.status_code == 201, (code, r.status_code, r.text)
            created.append(r.json())
            if on_created:
                on_created(len(created))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return created
