"""shared.db.read_one_statement on the backend under test: the connection it used goes back to
the pool as it came (the next transaction on it is a transaction: its writes roll back)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from shared.db import create_engine, make_sessionmaker, read_one_statement
from tests.support import databases


async def test_the_next_transaction_on_the_same_connection_is_atomic(tmp_path: Path):
    url = databases.database_urls(["onestmt"], tmp_path)["onestmt"]
    engine = create_engine(url, pool_size=1)  # one connection: the next user gets the same one
    maker = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (code VARCHAR(10) PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t (code) VALUES ('a')"))
        for _ in range(3):
            rows = await read_one_statement(engine, text("SELECT code FROM t"), {})
            assert [r.code for r in rows] == ["a"]
            async with maker() as session:
                await session.execute(text("INSERT INTO t (code) VALUES ('b')"))
                await session.rollback()
            rows = await read_one_statement(engine, text("SELECT count(*) AS n FROM t"), {})
            assert rows[0].n == 1  # the rolled-back INSERT is gone: it ran in a transaction
    finally:
        await engine.dispose()
