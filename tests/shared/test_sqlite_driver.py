"""shared/sqlite_driver.py: one trip to aiosqlite's worker thread a statement, same results.

The adapter is ours (a measurement asked for it: 300 -> 80 µs of CPU a statement), so it is
tested like protocol code: against SQLAlchemy's stock aiosqlite adapter on random statement
sequences (Hypothesis), for its transaction rules (the deferred BEGIN IMMEDIATE still takes the
write lock with the first statement; rollback and commit with and without statements; a stream
first), for errors, and for the number of trips it makes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from shared import sqlite_driver
from shared.db import create_engine, make_sessionmaker

SCHEMA = ("CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE, n REAL, b BLOB, "
          "j TEXT)")


def _stock(url: str):
    """The stock adapter, set up as shared.db sets up ours (BEGIN IMMEDIATE on begin)."""
    from sqlalchemy import event

    engine = create_async_engine(url, pool_size=1, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def test_engine_uses_the_one_trip_adapter(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")

    async def run():
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            return type(raw.dbapi_connection)

    try:
        assert asyncio.run(run()) is sqlite_driver.OneTripConnection
    finally:
        asyncio.run(engine.dispose())


# --- the same answers as the stock adapter, for any sequence of statements ---

values = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1),
                   st.floats(allow_nan=False), st.text(max_size=30), st.binary(max_size=20))
codes = st.text(alphabet="abc", min_size=1, max_size=2)
ops = st.lists(st.one_of(
    st.tuples(st.just("insert"), codes, values, values),
    st.tuples(st.just("insert_many"), st.lists(st.tuples(codes, values), max_size=4)),
    st.tuples(st.just("update"), codes, values),
    st.tuples(st.just("delete"), codes),
    st.tuples(st.just("select"), codes),
    st.tuples(st.just("select_all")),
    st.tuples(st.just("rollback")),
    st.tuples(st.just("commit")),
), max_size=25)


async def _apply(engine, sequence) -> list:
    """Run `sequence` in transactions on `engine`; what each step gave (rows, counts, errors)."""
    out = []
    async with engine.connect() as conn:
        await conn.execute(text(SCHEMA))
        await conn.commit()
        for op in sequence:
            kind = op[0]
            try:
                if kind == "insert":
                    r = await conn.execute(text("INSERT INTO t (code, n, b) VALUES (:c, :n, :b)"),
                                           {"c": op[1], "n": op[2], "b": op[3]})
                    out.append(("rowcount", r.rowcount, r.lastrowid))
                elif kind == "insert_many":
                    if not op[1]:
                        continue
                    r = await conn.execute(text("INSERT INTO t (code, j) VALUES (:c, :j)"),
                                           [{"c": c, "j": v} for c, v in op[1]])
                    out.append(("rowcount", r.rowcount))
                elif kind == "update":
                    r = await conn.execute(text("UPDATE t SET n = :n WHERE code = :c"),
                                           {"c": op[1], "n": op[2]})
                    out.append(("rowcount", r.rowcount))
                elif kind == "delete":
                    r = await conn.execute(text("DELETE FROM t WHERE code = :c"), {"c": op[1]})
                    out.append(("rowcount", r.rowcount))
                elif kind == "select":
                    r = await conn.execute(text("SELECT code, n, b, j FROM t WHERE code = :c"),
                                           {"c": op[1]})
                    out.append(("rows", list(r.keys()), [tuple(x) for x in r.all()]))
                elif kind == "select_all":
                    r = await conn.execute(text("SELECT * FROM t ORDER BY id"))
                    out.append(("rows", list(r.keys()), [tuple(x) for x in r.all()]))
                elif kind == "rollback":
                    await conn.rollback()
                    out.append(("rollback",))
                else:
                    await conn.commit()
                    out.append(("commit",))
            except IntegrityError as exc:
                out.append(("error", type(exc.orig).__name__, str(exc.orig)))
                await conn.rollback()
        r = await conn.execute(text("SELECT * FROM t ORDER BY id"))
        out.append(("final", [tuple(x) for x in r.all()]))
        await conn.rollback()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_same_results_as_the_stock_adapter(tmp_path_factory, sequence):
    folder = tmp_path_factory.mktemp("drv")

    async def run():
        ours = create_engine(f"sqlite+aiosqlite:///{folder / 'ours.db'}")
        stock = _stock(f"sqlite+aiosqlite:///{folder / 'stock.db'}")
        try:
            return await _apply(ours, sequence), await _apply(stock, sequence)
        finally:
            await ours.dispose()
            await stock.dispose()

    got, expected = asyncio.run(run())
    assert got == expected


# --- transactions ---

async def _other_writer(path: Path) -> str:
    """Can another connection take the write lock right now? ("free" or "locked")"""
    def attempt():
        c = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            c.execute("BEGIN IMMEDIATE")
            c.execute("ROLLBACK")
            return "free"
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return "locked"
        finally:
            c.close()
    return await asyncio.to_thread(attempt)


@pytest.fixture
async def db(tmp_path: Path):
    """A file database through shared.db.create_engine with table t made: (path, engine)."""
    path = tmp_path / "t.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.connect() as conn:
        await conn.execute(text(SCHEMA))
        await conn.commit()
    yield path, engine
    await engine.dispose()


async def test_first_statement_takes_the_write_lock_and_commit_releases_it(db):
    path, engine = db
    async with engine.connect() as conn:
        assert await _other_writer(path) == "free"
        # A read is the transaction's first statement: BEGIN IMMEDIATE came with it.
        await conn.execute(text("SELECT count(*) FROM t"))
        assert await _other_writer(path) == "locked"
        await conn.execute(text("INSERT INTO t (code) VALUES ('x')"))
        await conn.commit()
        assert await _other_writer(path) == "free"
        await conn.execute(text("INSERT INTO t (code) VALUES ('y')"))
        await conn.rollback()
        assert await _other_writer(path) == "free"
        rows = (await conn.execute(text("SELECT code FROM t"))).scalars().all()
        await conn.rollback()
    assert rows == ["x"]


async def test_a_transaction_without_statements_commits_and_rolls_back(db):
    _, engine = db
    async with engine.connect() as conn:
        await conn.begin()
        await conn.commit()
        await conn.begin()
        await conn.rollback()
        raw = (await conn.get_raw_connection()).dbapi_connection
        assert raw.pending_begin is None
    async with make_sessionmaker(engine)() as session:  # a request's session left untouched
        await session.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        await conn.commit()


async def test_a_stream_as_first_statement_runs_in_the_transaction(db):
    path, engine = db
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (code) VALUES ('a'), ('b'), ('c')"))
        await conn.commit()
        result = await conn.stream(text("SELECT code FROM t ORDER BY code"))
        assert await _other_writer(path) == "locked"  # BEGIN IMMEDIATE ran first
        assert [r[0] async for r in result] == ["a", "b", "c"]
        await conn.commit()
        assert await _other_writer(path) == "free"


async def test_errors_are_the_drivers_and_leave_nothing_written(db):
    _, engine = db
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (code) VALUES ('dup')"))
        await conn.commit()
        await conn.execute(text("INSERT INTO t (code) VALUES ('new')"))
        with pytest.raises(IntegrityError) as caught:
            await conn.execute(text("INSERT INTO t (code) VALUES ('dup')"))
        assert isinstance(caught.value.orig, sqlite3.IntegrityError)
        assert "UNIQUE constraint failed: t.code" in str(caught.value.orig)
        await conn.rollback()
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        await conn.rollback()
        codes = (await conn.execute(text("SELECT code FROM t"))).scalars().all()
        await conn.rollback()
    assert codes == ["dup"]  # 'new' went with the failed transaction


async def test_one_trip_a_statement(db):
    """The point of the adapter: a transaction of one SELECT is two trips (the SELECT with its
    BEGIN, then COMMIT), not the stock adapter's nine."""
    _, engine = db
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        queue, trips = driver._tx, []
        put = queue.put_nowait
        driver._tx = type("Counting", (), {
            "put_nowait": lambda _self, item: (trips.append(item), put(item))[1],
            "get": lambda _self: queue.get()})()
        try:
            await conn.execute(text("SELECT * FROM t WHERE code = :c"), {"c": "x"})
            await conn.execute(text("INSERT INTO t (code) VALUES (:c)"), [{"c": "p"}, {"c": "q"}])
            await conn.commit()
        finally:
            driver._tx = queue
    assert len(trips) == 3


async def test_read_one_statement_takes_no_lock_and_sees_only_committed_data(db):
    """shared.db.read_one_statement: no BEGIN IMMEDIATE (it neither waits for a writer nor
    holds the write lock), no COMMIT trip, and only what is committed."""
    from shared.db import read_one_statement

    path, engine = db
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (code) VALUES ('kept')"))
        await conn.commit()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    writer.execute("INSERT INTO t (code) VALUES ('not yet')")
    rows = await asyncio.wait_for(read_one_statement(
        engine, text("SELECT code FROM t ORDER BY code"), {}), timeout=5)
    assert [r.code for r in rows] == ["kept"]
    writer.execute("COMMIT")
    writer.close()
    rows = await read_one_statement(engine, text("SELECT count(*) AS n FROM t"), {})
    assert rows[0].n == 2
    assert await _other_writer(path) == "free"  # nothing left open
