"""Helpers for indicators tests: registry events straight onto JetStream, role clients."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import nats

from shared.contracts import registry as rc
from shared.events.envelope import make_envelope, type_to_subject
from shared.jsonutil import dumps
from tests.conftest import eventually

_tokens: dict[tuple, str] = {}


def uid() -> str:
    return str(uuid.uuid4())


def token(stack, role: str, org: str | None = None) -> str:
    key = (role, org)
    if key not in _tokens:
        _tokens[key] = stack.dev_token(role, org=org, sub=f"{role}-{org or 'x'}")
    return _tokens[key]


def client(stack, role: str | None, org: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token(stack, role, org)}"} if role else {}
    return httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", timeout=30, headers=headers)


async def publish(nats_url: str, event_type: str, data: dict[str, Any],
                  msg_id: str | None = None) -> dict[str, Any]:
    """A contract-conforming registry event, published as the registry's relay would."""
    rc.EVENTS[event_type].model_validate(data)
    env = make_envelope(source="/teke/registry", event_type=event_type,
                        subject=data["id"], data=data)
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(type_to_subject(event_type), dumps(env),
                                     headers={"Nats-Msg-Id": msg_id or env["id"]})
    finally:
        await nc.close()
    return env


async def new_project(nats_url: str, gw: httpx.AsyncClient, *, org: str, funder: str,
                      start: str = "2024-01-01", end: str = "2026-12-31",
                      regions: list[str] | None = None, theme: str | None = None,
                      programme: str | None = None, specific_objective: str | None = None,
                      version: int = 1) -> dict[str, Any]:
    pid = uid()
    data = {"id": pid, "version": version, "code": "IND-" + pid[:8].upper(),
            "name": {"fi": "Hanke " + pid[:6]}, "status": "active", "start_date": start,
            "end_date": end, "organisation_id": org, "funder_id": funder,
            "region_codes": regions if regions is not None else ["06"],
            "theme_id": theme, "programme_id": programme}
    if specific_objective is not None:
        data["specific_objective"] = specific_objective
    await publish(nats_url, rc.PROJECT_CREATED, data)

    async def seen():
        r = await gw.get(f"/indicators/projects/{pid}")
        return r.status_code == 200 and r.json()

    await eventually(seen)
    return data


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    return body


def gender(total: float, women: float | None = None) -> dict[str, dict[str, float]]:
    w = total if women is None else women
    return {"gender": {"women": w, "men": total - w, "non_binary": 0}}
