"""Backups that restore (issue 17): a running system backed up under writes, restored into a
fresh data folder (SQLite) or fresh databases (TEKE_TEST_DB=postgres) with a fresh NATS server.

Every write acknowledged before the backup began is in the restored registry and, once the
restored producers have published their kept outbox rows again, in the indicators and comms
projections, each applied once; a write made after the restore reaches them too.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.backup import backup, restore
from deploy.embedded import SERVICES, NatsServer, Stack
from tests.conftest import eventually, make_stack
from tests.support import databases

PROJECTIONS = ("indicators", "comms")
BEFORE_BACKUP = 120  # writes acknowledged before the backup begins
WRITERS = 4


async def rows(db_url: str, sql: str) -> list[tuple]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def ids(db_url: str, table: str) -> set[str]:
    return {r[0] for r in await rows(db_url, f"SELECT id FROM {table}")}


def _code() -> str:
    return "BAK-" + uuid.uuid4().hex[:10].upper()


class Writer:
    """Projects created through the gateway by a few clients until stopped; only a 201 counts
    as acknowledged (a 503/504 under the backup's load is a write the client was told failed)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.acknowledged: dict[str, str] = {}  # code -> id
        self.refused = 0
        self.stopping = False

    async def _write(self) -> None:
        while not self.stopping:
            code = _code()
            try:
                r = await self.client.post("/projects", json={
                    "code": code, "name": {"fi": f"Hanke {code}"}, "region_codes": ["01"]})
            except httpx.HTTPError:
                self.refused += 1
                continue
            if r.status_code == 201:
                self.acknowledged[code] = r.json()["id"]
            else:
                assert r.status_code in (503, 504), (r.status_code, r.text)
                self.refused += 1

    def start(self) -> list[asyncio.Task]:
        return [asyncio.create_task(self._write()) for _ in range(WRITERS)]


@pytest.mark.timeout(600)
async def test_backup_under_writes_restores_every_acknowledged_write(tmp_path, scaleout_report):
    nats = NatsServer(tmp_path / "nats-live" / "store")
    nats.start()
    live: Stack | None = None
    restored: Stack | None = None
    restored_nats: NatsServer | None = None
    try:
        live = make_stack(tmp_path / "live", nats.url)
        env = dict(live.extra_env)  # make_stack's settings, for the restored stack too
        token = live.dev_token("admin")
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=live.gateway_url + "/api/v1", timeout=30,
                                     headers=headers) as client:
            writer = Writer(client)
            tasks = writer.start()
            try:
                async def enough():
                    return len(writer.acknowledged) >= BEFORE_BACKUP

                await eventually(enough, timeout=120)
                acknowledged_before = dict(writer.acknowledged)
                t0 = time.monotonic()
                manifest = await asyncio.to_thread(backup, tmp_path / "backup", live.db_urls,
                                                   live.data_dir)
                backup_seconds = time.monotonic() - t0
                during = len(writer.acknowledged) - len(acknowledged_before)
            finally:
                writer.stopping = True
                await asyncio.gather(*tasks)
        assert [e["name"] for e in manifest["databases"]] == ["comms", "indicators", "registry",
                                                              "gateway"]
        assert "secrets.json" in manifest["kept"]
        live.stop_all()
        live = None
        nats.stop()

        # A fresh data folder and fresh databases, an empty NATS store.
        data = tmp_path / "restored"
        urls = databases.database_urls([*SERVICES, "gateway"], data / "db")
        t0 = time.monotonic()
        result = await asyncio.to_thread(restore, tmp_path / "backup", urls, data)
        restore_seconds = time.monotonic() - t0
        registry_ids = await ids(urls["registry"], "project")
        # What the consumers' copies miss: only the re-published outbox rows can bring it.
        behind = {svc: len(registry_ids - await ids(urls[svc], "project_projection"))
                  for svc in PROJECTIONS}
        # The registry's outbox kept every row it had published (the run is shorter than the
        # retention window): those are marked to go out again.
        assert 0 < result["republish"]["registry"] <= len(registry_ids)

        restored_nats = NatsServer(data / "nats")
        restored_nats.start()
        restored = Stack(data, nats_url=restored_nats.url, db_urls=urls,
                         extra_env=env, environment="test")
        assert restored.secrets == json.loads((tmp_path / "backup" / "secrets.json").read_text())
        restored.migrate()
        restored.start_all()
        restored.wait_ready(timeout=120)

        found = {c for c, pid in acknowledged_before.items() if pid in registry_ids}
        lost = sorted(set(acknowledged_before) - found)
        assert not lost, f"acknowledged before the backup, missing after the restore: {lost[:5]}"

        async def caught_up():
            seen = [await ids(urls[svc], "project_projection") for svc in PROJECTIONS]
            return all(s == registry_ids for s in seen)

        await eventually(caught_up, timeout=180, interval=0.5)

        # The token signed before the backup still opens the restored gateway (secrets kept).
        async with httpx.AsyncClient(base_url=restored.gateway_url + "/api/v1", timeout=30,
                                     headers=headers) as client:
            r = await client.post("/projects", json={"code": _code(), "name": {"fi": "Uusi"},
                                                     "region_codes": ["01"]})
            assert r.status_code == 201, r.text
            new_id = r.json()["id"]

            async def projected(svc):
                resp = await client.get(f"/{svc}/projects/{new_id}")
                return resp.status_code == 200 and resp.json()["applied_count"] == 1

            for svc in PROJECTIONS:
                await eventually(lambda svc=svc: projected(svc), timeout=120, interval=0.2)

        applied_twice = {}
        for svc in PROJECTIONS:
            applied_twice[svc] = len(await rows(
                urls[svc], "SELECT id FROM project_projection WHERE applied_count <> 1"))
            dead = await rows(urls[svc], "SELECT id FROM dead_letter")
            assert not dead, (svc, dead)
        # Only project.created was ever sent: each projection row was applied exactly once.
        assert applied_twice == {"indicators": 0, "comms": 0}, applied_twice
        scaleout_report(
            "backup", acknowledged_before_backup=len(acknowledged_before), found=len(found),
            lost=len(lost), applied_twice=sum(applied_twice.values()),
            acknowledged_during_backup=during, refused=writer.refused,
            behind_at_restore=behind, republished=result["republish"],
            backup_seconds=round(backup_seconds, 2), restore_seconds=round(restore_seconds, 2))
    finally:
        for stack in (live, restored):
            if stack is not None:
                stack.stop_all()
        for server in (nats, restored_nats):
            if server is not None:
                server.stop()

