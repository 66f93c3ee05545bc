"""Helpers for the comms tests: clients per role, events published straight to JetStream."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from contextlib import asynccontextmanager

import httpx
import nats
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.events.envelope import make_envelope, type_to_subject
from shared.jsonutil import dumps


def uid() -> str:
    return uuid.uuid4().hex[:10]


@asynccontextmanager
async def client(stack, role: str | None = None, org: str | None = None, sub: str | None = None):
    headers = {}
    if role:
        headers["Authorization"] = f"Bearer {stack.dev_token(role, org=org, sub=sub)}"
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=15,
                                 headers=headers) as c:
        yield c


async def publish(nats_url: str, event_type: str, subject: str, data: dict,
                  source: str = "/teke/registry") -> dict:
    """A contract-conforming envelope published the way a producer's relay does."""
    env = make_envelope(source=source, event_type=event_type, subject=subject, data=data)
    nc = await nats.connect(nats_url)
    try:
        ack = await nc.jetstream().publish(type_to_subject(event_type), dumps(env),
                                           headers={"Nats-Msg-Id": env["id"]})
        assert not ack.duplicate
    finally:
        await nc.close()
    return env


async def rows(db_url: str, sql: str, **params) -> list[dict]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]
    finally:
        await engine.dispose()


async def outbox_events(db_url: str, event_type: str, entity_id: str) -> list[dict]:
    found = await rows(db_url, "SELECT envelope FROM outbox WHERE type = :t AND entity_id = :e",
                       t=event_type, e=entity_id)
    return [json.loads(r["envelope"]) for r in found]


def soon(seconds: float = 2.0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    return r.json()


async def all_items(gw: httpx.AsyncClient, path: str, params: dict | None = None) -> list[dict]:
    """Every item of a paged list, following next_cursor (and checking the envelope)."""
    items: list[dict] = []
    cursor = None
    while True:
        r = await gw.get(path, params={**(params or {}), "limit": 200,
                                       **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"items", "total", "next_cursor"}, page.keys()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            assert len(items) == page["total"]
            return items
