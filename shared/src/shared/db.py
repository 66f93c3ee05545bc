"""Async database: engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), one session per request."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    DateTime,
    Insert,
    MetaData,
    String,
    Table,
    TypeDecorator,
    event,
    insert,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(n: int) -> list[str]:
    """n random (version 4) UUIDs as strings, like new_id(), for bulk writes: one urandom call
    and string slicing, five times faster than n uuid4() objects (6 % of a bulk import)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
    h = raw.hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows at once: COPY on PostgreSQL (a giant multi-row INSERT costs more to parse than
    to run), one executemany INSERT elsewhere. The columns are those of the first row; a key
    missing from a later row is NULL there (give every row the same keys)."""
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        await session.execute(insert(table), rows)
        return
    from shared.jsonutil import dumps

    cols = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in cols]
    json_at = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    if json_at:
        records = []
        for r in rows:
            rec = list(map(r.get, names))
            for i in json_at:
                if rec[i] is not None:
                    rec[i] = dumps(rec[i]).decode()
            records.append(rec)
    else:
        records = [tuple(map(r.get, names)) for r in rows]
    conn = await session.connection()
    # SQLAlchemy's asyncpg adapter begins its transaction at the first statement it runs: a
    # COPY straight on the driver before any would commit on its own (an import of new
    # projects only, with no lookups, wrote them outside its transaction).
    await conn.exec_driver_sql("SELECT 1")
    raw = (await conn.get_raw_connection()).driver_connection
    await raw.copy_records_to_table(table.name, records=records, columns=names)


def dialect_insert(session: AsyncSession, table: Table) -> Insert:
    """An INSERT in the session's dialect, so it can take ON CONFLICT clauses (an upsert is one
    statement, not a read and then a write)."""
    # The dialects are imported here: PostgreSQL's alone is ~4 MB of a process on SQLite.
    from sqlalchemy.dialects import postgresql, sqlite

    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both engines (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):  # noqa: ARG002
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


UUIDStr = String(36)


def make_base(metadata: MetaData) -> type[DeclarativeBase]:
    class Base(DeclarativeBase):
        pass

    Base.metadata = metadata
    return Base


# Execution option of a connection whose statements run without BEGIN (read_one_statement).
NO_BEGIN = "teke_no_begin"


def create_engine(url: str, *, pool_size: int = 10, sqlite_reader: bool = False) -> AsyncEngine:
    """Engine with SQLite set up for concurrent use: WAL, foreign keys, busy timeout.

    `sqlite_reader`: a read-only SQLite connection whose transactions take no lock (for work
    that must not queue behind the writers, such as the outbox relay's reads)."""
    if url.startswith("sqlite"):
        # One connection per process: SQLite has one writer anyway, and with several pooled
        # connections clashing transactions sleep in SQLite's busy handler (1-100 ms steps);
        # with one, requests queue fairly on the pool instead (measured: p99 1,230 -> 137 ms).
        from shared import sqlite_driver

        # One trip to aiosqlite's worker thread a statement, not four (shared/sqlite_driver.py).
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=1,
                                     max_overflow=0, pool_timeout=60,
                                     module=sqlite_driver.dbapi() if "+aiosqlite" in url else None)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Leave transaction control to the "begin" hook below (SQLAlchemy's aiosqlite recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            if sqlite_reader:
                cur.execute("PRAGMA query_only=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin_immediate(conn):
            # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on
            # busy_timeout instead of failing with "database is locked" on upgrade.
            begin = "BEGIN" if sqlite_reader else "BEGIN IMMEDIATE"
            if conn.get_execution_options().get(NO_BEGIN):
                begin = None  # read_one_statement: each statement on its own
            if not sqlite_driver.defer_begin(conn.connection.dbapi_connection, begin) and begin:
                conn.exec_driver_sql(begin)

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


async def read_one_statement(engine: AsyncEngine, statement: Any,
                             params: dict[str, Any]) -> list[Any]:
    """The rows of one statement run outside any transaction: it reads the latest committed
    data on its own, with no BEGIN and COMMIT around it (on SQLite one trip to the driver's
    thread, on PostgreSQL one round trip). Check-out, run and check-in happen in one greenlet
    (one hand-over from asyncio, not four). For a read answered by a single statement; never
    for writes, nor for reads that must agree with each other."""
    options = {NO_BEGIN: True} if engine.dialect.name == "sqlite" \
        else {"isolation_level": "AUTOCOMMIT"}

    def run(sync_engine) -> list[Any]:
        with sync_engine.connect() as conn:
            return conn.execution_options(**options).execute(statement, params).all()

    return await greenlet_spawn(run, engine.sync_engine)


# SQLSTATEs that say "not this server, not now" rather than "not this statement": connection
# exceptions (class 08), a server shutting down or starting up (57P01-57P03), and a write sent
# to a server that is (still) a standby (25006).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "25006")


def database_unavailable(exc: BaseException) -> bool:
    """True if `exc` says the database cannot be reached or written right now (connection lost
    or refused, server restarting, failover under way: no writable server among a multi-host
    URL's hosts), not that the work itself is wrong: the same work may succeed once the
    database is back or a standby has been promoted. Follows the chain of causes, since
    SQLAlchemy wraps the driver's errors and connect errors arrive unwrapped."""
    import asyncpg

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, (asyncpg.TargetServerAttributeNotMatched,
                          asyncpg.ConnectionDoesNotExistError)):
            return True
        if isinstance(e, asyncpg.InterfaceError) and "connection is closed" in str(e):
            return True
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        # Refused or reset; a timeout is not taken for an outage (a slow statement is not).
        if isinstance(e, OSError) and not isinstance(e, TimeoutError):
            return True
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
    return False


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; commits once at the edge, rolls back on any error."""
    maker: async_sessionmaker[AsyncSession] = request.state.sessionmaker
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": the commit runs when the endpoint returns, before the response is sent, so a
# client never gets a 2xx for a write that is not yet committed (or that then fails to commit).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
