"""Idempotency-Key support for requests that regional systems retry (bulk imports).

The same key and the same body return the first result and change nothing; the same key with
another body is refused (422). Keys are per caller. The record is written in the request's
own transaction, so a request that fails leaves no record and can be retried.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import UTCDateTime, utcnow
from shared.errors import Unprocessable
from shared.jsonutil import dumps, loads

MAX_KEY_LENGTH = 200


def make_idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_record", metadata,
        Column("caller", String(200), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )


def request_hash(body: bytes, *parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    h.update(body)
    return h.hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Unprocessable("invalid Idempotency-Key", errors=[
            {"field": "header/Idempotency-Key", "type": "value_error",
             "message": f"1-{MAX_KEY_LENGTH} printable characters"}])
    return key


async def replay(session: AsyncSession, table: Table, caller: str, key: str,
                 digest: str) -> tuple[int, Any] | None:
    """The stored (status, body) for this key, None if new; 422 if the body differs."""
    row = (await session.execute(select(table).where(table.c.caller == caller,
                                                     table.c.key == check_key(key)))).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise Unprocessable("this Idempotency-Key was used with a different request", errors=[
            {"field": "header/Idempotency-Key", "type": "idempotency_mismatch",
             "message": "reuse a key only to retry the identical request"}])
    return row.status_code, loads(row.response)


async def remember(session: AsyncSession, table: Table, caller: str, key: str, digest: str,
                   status_code: int, body: Any) -> None:
    await session.execute(table.insert().values(
        caller=caller, key=key, request_hash=digest, status_code=status_code,
        response=dumps(body).decode(), created_at=utcnow()))
