"""The overlap report's background build on a real database (SQLite or PostgreSQL): it holds no
connection while it scores (SQLite has one a process, so every request would wait for the
minutes a national build scores), and a build another replica recorded meanwhile wins: this
one writes nothing and announces nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select, text

from registry import demo
from registry.cli import MIGRATIONS
from registry.main import spec
from registry.models import OverlapBuild, OverlapPair, Project
from registry.overlap import build, queries
from registry.projects.imports.service import run_import
from shared.contracts import coordination
from shared.db import create_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.uow import UnitOfWork
from tests.registry.conftest import code
from tests.support import databases


@pytest.fixture
async def registry_db(tmp_path):
    """A registry database with the demo data (its double-funding pair), its report wiped as if
    never built; the URL, an engine (SQLite: one connection) and its sessionmaker."""
    url = databases.database_urls(["overlapbuild"], tmp_path)["overlapbuild"]
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = create_engine(url)
    maker = make_sessionmaker(engine)
    await demo.load(maker, projects=12, organisations=10, practices=0)
    async with maker() as s:
        await s.execute(delete(OverlapPair))
        await s.execute(delete(OverlapBuild))
        await s.commit()
    try:
        yield url, engine, maker
    finally:
        await engine.dispose()


async def _add_project(maker) -> None:
    async with maker() as s:
        _, result = await run_import(UnitOfWork(s, spec.outbox()), demo.SEED_ACTOR, [
            {"code": code("OVB"), "name": {"fi": "Uusi hanke"}, "region_codes": ["01"]}],
            "best_effort")
        assert result["summary"]["created"] == 1, result
        await s.commit()


def _hold_scoring(monkeypatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The first build to score waits at its start until `go_on` is set; `scoring` is set
    when it is there. Later builds score at once."""
    scoring, go_on = asyncio.Event(), asyncio.Event()
    original = build._pairs

    async def held(*args, **kwargs):
        if not scoring.is_set():
            scoring.set()
            await go_on.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(build, "_pairs", held)
    return scoring, go_on


async def _events(maker, since: int, event_type: str) -> list[str]:
    table = spec.outbox().table
    async with maker() as s:
        return list((await s.scalars(select(table.c.entity_id).where(
            table.c.seq > since, table.c.type == event_type))).all())


async def _outbox_top(maker) -> int:
    table = spec.outbox().table
    async with maker() as s:
        return int(await s.scalar(select(func.coalesce(func.max(table.c.seq), 0))))


async def test_background_build_holds_no_connection_while_scoring(registry_db, monkeypatch):
    _, engine, maker = registry_db
    scoring, go_on = _hold_scoring(monkeypatch)
    task = asyncio.create_task(build.rebuild_if_stale(maker, spec.outbox()))
    try:
        await asyncio.wait_for(scoring.wait(), 60)
        assert engine.pool.checkedout() == 0
        # Another session writes meanwhile and gets the connection at once.
        await asyncio.wait_for(_add_project(maker), 5)
    finally:
        go_on.set()
    await asyncio.wait_for(task, 60)
    async with maker() as s:
        last, top = await queries.build_state(s)
        assert last is not None and last.pairs >= 1 and last.build_ms > 0
        # The build is of the snapshot it read: the project added while it scored is after its
        # seq, so the report is stale and the next incremental build takes it in.
        assert last.change_seq < top
        assert await queries.changes_since(s, last.change_seq) >= 1
        seq = last.change_seq
    await build.rebuild_if_stale(maker, spec.outbox())
    async with maker() as s:
        last, top = await queries.build_state(s)
        assert last.change_seq > seq and await queries.changes_since(s, last.change_seq) == 0


async def test_build_superseded_by_another_replicas_writes_and_announces_nothing(
        registry_db, monkeypatch):
    url, _, maker = registry_db
    since = await _outbox_top(maker)
    scoring, go_on = _hold_scoring(monkeypatch)
    first = asyncio.create_task(build.rebuild_if_stale(maker, spec.outbox()))
    other = create_engine(url)  # another replica: its own connection and similarity index
    try:
        await asyncio.wait_for(scoring.wait(), 60)
        monkeypatch.setattr(build, "_LOCK", asyncio.Lock())  # its own process lock too
        await asyncio.wait_for(build.rebuild_if_stale(make_sessionmaker(other), spec.outbox()), 60)
    finally:
        go_on.set()
        await other.dispose()
    await asyncio.wait_for(first, 60)  # Superseded, caught: no error
    async with maker() as s:
        recorded = await s.get(OverlapBuild, queries.BUILD_ID)
        pairs = list((await s.scalars(select(OverlapPair))).all())
        ids = dict((await s.execute(select(Project.code, Project.id).where(
            Project.code.like("OVL-DEMO-%")))).tuples().all())
    # The other's build stands: none of the first's rows (computed after it) was written.
    assert pairs and len(pairs) == recorded.pairs
    assert all(p.computed_at <= recorded.built_at for p in pairs)
    # Each announced once: the build, and the demo's double-funding pair (new to both builds).
    assert await _events(maker, since, coordination.OVERLAP_REPORT_REBUILT) == [queries.BUILD_ID]
    assert await _events(maker, since, coordination.OVERLAP_DOUBLE_FUNDING_FLAGGED) == [
        ":".join(sorted(ids.values()))]


async def _waits_for_a_lock(url: str, engine) -> None:
    """Until a session waits for a row lock (PostgreSQL); SQLite: a second (its BEGIN IMMEDIATE
    waits in the busy handler, which shows nowhere)."""
    if not url.startswith("postgresql"):
        await asyncio.sleep(1.0)
        return
    async with engine.connect() as conn:
        for _ in range(600):
            if await conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")):
                return
            await conn.rollback()
            await asyncio.sleep(0.1)
    raise AssertionError("the second build never waited for the first's rows")


async def test_two_builds_writing_at_once_record_and_announce_one(registry_db, monkeypatch):
    """The first build's writes are in, uncommitted, when another replica's build comes to
    write: it waits (PostgreSQL: for the build row its compare-and-set updates, before it
    touches a pair; SQLite: for the write lock), then rolls back or finds nothing stale."""
    url, _, maker = registry_db
    since = await _outbox_top(maker)
    other = create_engine(url)
    try:
        async with maker() as first:
            await build.rebuild(UnitOfWork(first, spec.outbox()), release=True)
            monkeypatch.setattr(build, "_LOCK", asyncio.Lock())  # another process's lock
            second = asyncio.create_task(build.rebuild_if_stale(make_sessionmaker(other),
                                                                spec.outbox()))
            await _waits_for_a_lock(url, other)
            assert not second.done()
            await first.commit()
        await asyncio.wait_for(second, 60)  # no error: Superseded, or nothing stale
    finally:
        await other.dispose()
    assert await _events(maker, since, coordination.OVERLAP_REPORT_REBUILT) == [queries.BUILD_ID]
    assert len(await _events(maker, since, coordination.OVERLAP_DOUBLE_FUNDING_FLAGGED)) == 1


async def test_rebuild_with_release_refuses_inside_a_transaction(registry_db):
    """The demo's way (rebuild inside its larger unit of work) must not end that transaction."""
    _, _, maker = registry_db
    async with maker() as s:
        await queries.build_state(s)
        with pytest.raises(RuntimeError):
            await build.rebuild(UnitOfWork(s, spec.outbox()), release=True)
