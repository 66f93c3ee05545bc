"""SQLAlchemy's aiosqlite adapter, with each statement in one trip to aiosqlite's worker thread.

The stock adapter makes four trips a statement (open a cursor, execute, fetch all, close), and
the transaction's BEGIN one more. Each trip is a queue put, a thread wake-up and a
call_soon_threadsafe back to the event loop: 300 µs of CPU a statement against 80 µs for one
trip (measured on this machine's 2 vCPUs, bench/RESULTS-registry-cost.md), most of a registry
read or create. Here a statement runs as one function on the worker thread: execute, keep the
description, row count and last row id, fetch every row, close; and the BEGIN that SQLAlchemy's
"begin" event asks for rides along with the transaction's first statement.

What SQLAlchemy sees is unchanged: the same sqlite3 connection and thread, the same rows and
errors (raised by sqlite3 on the worker thread, wrapped by the stock adapter's rules), the same
serialisation (the stock adapter's per-connection mutex). Server-side cursors (stream results)
keep the stock cursor's trips. `create_engine` in shared.db passes this module to SQLAlchemy for every
`sqlite+aiosqlite` URL; tests/test_sqlite_driver.py checks it against the stock adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util.concurrency import await_


def _run(conn: sqlite3.Connection, begin: str | None, operation: str, parameters: Any,
         many: bool) -> tuple[Any, list[Any], int, int | None, bool]:
    """On the worker thread: (BEGIN,) execute, and everything the adapter reads afterwards,
    with whether a transaction is open now."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid, conn.in_transaction
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement is one worker-thread call; results held in memory."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection):
        # No aiosqlite cursor (the stock __init__ opens one: a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._arraysize = 1

    @property
    def description(self):
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self):
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing open on the worker thread

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._one_trip(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_trip(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            begin, adapt.pending_begin = adapt.pending_begin, None
            driver = self._connection
            try:
                description, rows, self._rowcount, self._lastrowid, adapt.in_transaction = \
                    await driver._execute(_run, driver._conn, begin, operation, parameters, many)
            except BaseException:
                adapt.in_transaction = True  # not known: let commit or rollback make the trip
                raise
            self._description = description
            self._rows = collections.deque(rows)


class StreamCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """The stock server-side cursor (a stream: rows fetched as read); its transaction's BEGIN,
    if still pending, runs first (SQLAlchemy opens a cursor before it begins the transaction)."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapt = self._adapt_connection
        begin, adapt.pending_begin = adapt.pending_begin, None
        adapt.in_transaction = True  # a stream's statements are not tracked
        if begin is not None:
            driver = self._connection
            await driver._execute(driver._conn.execute, begin)
        return await super()._execute_async(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The stock adapted connection with OneTripCursor and a deferred BEGIN.

    `pending_begin`: the BEGIN statement the transaction's first statement runs first (set by
    shared.db's "begin" hook through `defer_begin`). `in_transaction`: whether sqlite3 said a
    transaction was open after the last statement (True when not known). Commit and rollback
    make no trip when no transaction is open: one that never ran a statement, or statements
    run without BEGIN (shared.db.read_one_statement), have nothing to end."""

    __slots__ = ("pending_begin", "in_transaction")
    _cursor_cls = OneTripCursor
    _ss_cursor_cls = StreamCursor

    def __init__(self, dbapi: Any, connection: Any):
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        self.in_transaction = True

    def commit(self) -> None:
        self._end(super().commit)

    def rollback(self) -> None:
        self._end(super().rollback)

    def _end(self, trip) -> None:
        self.pending_begin = None
        if self.in_transaction:
            trip()
            self.in_transaction = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def dbapi() -> OneTripDBAPI:
    """The DBAPI module to give create_async_engine(module=...) for a sqlite+aiosqlite URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)


def defer_begin(dbapi_connection: Any, statement: str | None) -> bool:
    """Have `statement` (BEGIN ...; None: no BEGIN) run with the transaction's first statement;
    False if this connection is not a OneTripConnection (the caller then runs it itself)."""
    if isinstance(dbapi_connection, OneTripConnection):
        dbapi_connection.pending_begin = statement
        return True
    return False
