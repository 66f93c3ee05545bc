"""Nothing is lost and nothing is applied twice when NATS restarts or a consumer is killed."""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx
import pytest

from tests.conftest import create_projects, eventually, make_stack, scalar

CONSUMERS = ("indicators", "comms")


async def _all_applied_once(stack, codes: set[str], timeout: float = 90.0) -> None:
    """Every project reached every consumer, each event applied exactly once."""
    like = next(iter(codes)).rsplit("-", 1)[0] + "-%"
    for svc in CONSUMERS:
        db = stack.db_urls[svc]

        async def count(db=db):
            n = await scalar(db, "SELECT count(*) FROM project_projection WHERE code LIKE :l", l=like)
            return n == len(codes) or None

        try:
            await eventually(count, timeout=timeout, interval=0.25)
        except AssertionError:
            n = await scalar(db, "SELECT count(*) FROM project_projection WHERE code LIKE :l", l=like)
            raise AssertionError(f"{svc}: {n} of {len(codes)} projects arrived") from None
        applied = await scalar(db, "SELECT sum(applied_count) FROM project_projection "
                                   "WHERE code LIKE :l", l=like)
        assert applied == len(codes), f"{svc}: {applied} applications for {len(codes)} events"
        assert await scalar(db, "SELECT count(*) FROM dead_letter") == 0


@pytest.fixture
def own_stack(tmp_path, own_nats):
    stack = make_stack(tmp_path / "stack", own_nats.url)
    yield stack
    stack.stop_all()


async def test_nats_restart_mid_stream_loses_nothing(own_stack, own_nats):
    stack = own_stack
    tag = "OUT" + uuid.uuid4().hex[:5].upper()
    codes = [f"{tag}-{i:04d}" for i in range(1200)]
    headers = {"Authorization": f"Bearer {stack.dev_token('admin')}"}
    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers,
                                 timeout=30) as client:
        await create_projects(client, codes[:400])
        own_nats.stop()
        # NATS is down: writes still succeed; their events wait in the registry's outbox.
        await create_projects(client, codes[400:800])
        backlog = await scalar(stack.db_urls["registry"],
                               "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert backlog >= 400
        ready = (await client.get(stack.url("registry") + "/readyz")).json()
        assert ready["checks"]["nats"] == "disconnected"
        own_nats.start()
        await create_projects(client, codes[800:])
    await _all_applied_once(stack, set(codes))
    assert await scalar(stack.db_urls["registry"],
                        "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_consumer_killed_mid_stream_loses_nothing(own_stack):
    stack = own_stack
    tag = "KIL" + uuid.uuid4().hex[:5].upper()
    codes = [f"{tag}-{i:04d}" for i in range(600)]
    headers = {"Authorization": f"Bearer {stack.dev_token('admin')}"}
    killed = asyncio.Event()

    def maybe_kill(n: int) -> None:
        if n == 200 and not killed.is_set():
            killed.set()
            stack.stop("comms", signal.SIGKILL)

    async with httpx.AsyncClient(base_url=stack.gateway_url + "/api/v1", headers=headers,
                                 timeout=30) as client:
        await create_projects(client, codes[:300], on_created=maybe_kill)
        assert killed.is_set()
        # comms is gone while events keep coming; indicators keeps up regardless.
        await create_projects(client, codes[300:])
        assert (await client.get("/comms/projects/x")).status_code == 503
    stack.start("comms")
    stack.wait_ready(("comms",))
    await _all_applied_once(stack, set(codes))
