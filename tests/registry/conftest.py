"""Registry test helpers: clients signed in as any role, and unique codes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest


def code(prefix: str = "REG") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


@pytest.fixture
async def client_for(stack) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """client_for(role, org) -> an httpx client on /api/v1 with that identity (None: anonymous)."""
    clients: list[httpx.AsyncClient] = []
    tokens: dict[tuple, str] = {}

    def make(role: str | None = None, org: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if role:
            key = (role, org)
            if key not in tokens:
                tokens[key] = stack.dev_token(role, org=org, sub=f"{role}-{org or 'x'}")
            headers["Authorization"] = f"Bearer {tokens[key]}"
        c = httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers, timeout=60)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


async def new_org(gw, **extra) -> dict:
    r = await gw.post("/organisations", json={"name": {"fi": f"Org {uuid.uuid4().hex[:6]}"},
                                              "kind": "company", **extra})
    assert r.status_code == 201, r.text
    return r.json()
