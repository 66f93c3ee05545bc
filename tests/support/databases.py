"""Test databases: SQLite files by default, fresh PostgreSQL databases with TEKE_TEST_DB=postgres."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from pathlib import Path

PG_BASE = os.environ.get("TEKE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
BACKEND = os.environ.get("TEKE_TEST_DB", "sqlite")
_created: list[str] = []


def _run(coro):
    """Run a coroutine to completion on a private loop in a thread (callable from anywhere)."""
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


async def _pg_exec(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def database_urls(names: list[str], tmp_dir: Path) -> dict[str, str]:
    """One new, empty database per name on the backend under test."""
    if BACKEND == "postgres":
        tag = uuid.uuid4().hex[:8]
        dbs = {name: f"teke_test_{tag}_{name}" for name in names}
        _run(_pg_exec(*(f'CREATE DATABASE "{db}"' for db in dbs.values())))
        _created.extend(dbs.values())
        base = PG_BASE.replace("postgresql://", "postgresql+asyncpg://")
        return {name: f"{base}/{db}" for name, db in dbs.items()}
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return {name: f"sqlite+aiosqlite:///{tmp_dir / name}.db" for name in names}


def drop_created() -> None:
    if BACKEND != "postgres" or not _created:
        return
    _run(_pg_exec(*(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in _created)))
    _created.clear()


def run_async(coro):
    return _run(coro)
