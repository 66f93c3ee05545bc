"""Cursor pagination shared by every list endpoint: opaque cursors, capped page sizes, and
one keyset paginator (`paginate`) for lists ordered by columns."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import Unprocessable
from shared.jsonutil import dumps, loads

MAX_PAGE = 200
T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size (at most {MAX_PAGE}).")]
Cursor = Annotated[str | None, Query(max_length=500, description="From the previous page's next_cursor.")]


class Page(BaseModel, Generic[T]):
    """A page of results: the items, the total for the query, and where the next page starts."""

    items: list[T]
    total: int
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """Opaque cursor holding the sort key values of the last row on the page."""
    return base64.urlsafe_b64encode(dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise Unprocessable("invalid cursor", errors=[
            {"field": "query/cursor", "type": "value_error",
             "message": "not a cursor this API gave out"}]) from None
    if not isinstance(values, list):
        raise Unprocessable("invalid cursor", errors=[
            {"field": "query/cursor", "type": "value_error", "message": "malformed cursor"}])
    return values


def _malformed(message: str) -> Unprocessable:
    return Unprocessable("invalid cursor", errors=[
        {"field": "query/cursor", "type": "value_error", "message": message}])


def _nullable(key: Any) -> bool:
    return getattr(key.expression, "nullable", True)


def _to_json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _from_json(key: Any, value: Any) -> Any:
    """A cursor value back to its key's Python type (JSON holds dates and decimals as text)."""
    if value is None:
        if not _nullable(key):
            raise _malformed("malformed cursor")
        return None
    try:
        kind = key.type.python_type
    except NotImplementedError:
        kind = None
    try:
        if kind is dt.datetime:
            return dt.datetime.fromisoformat(value)
        if kind is dt.date:
            return dt.date.fromisoformat(value)
        if kind is decimal.Decimal:
            return decimal.Decimal(value)
    except (TypeError, ValueError, decimal.InvalidOperation):
        raise _malformed("malformed cursor") from None
    if kind in (str, int) and type(value) is not kind:
        raise _malformed("malformed cursor")
    return value


def _after(keys: Sequence[Any], values: list[Any]) -> ColumnElement[bool]:
    """Rows after the cursor in (key1, key2, ...) order, ascending with nulls last."""
    alternatives, equal = [], []
    for key, value in zip(keys, values, strict=True):
        if value is None:  # after a null only the rows with the same null and a later next key
            greater = false()
            same = key.is_(None)
        else:
            greater = or_(key > value, key.is_(None)) if _nullable(key) else key > value
            same = key == value
        alternatives.append(and_(*equal, greater))
        equal.append(same)
    return or_(*alternatives) if len(alternatives) > 1 else alternatives[0]


async def count(session: AsyncSession, query: Select) -> int:
    """How many rows a list's query selects (its total, before any page is cut)."""
    return await session.scalar(select(func.count()).select_from(query.subquery()))


async def paginate(session: AsyncSession, query: Select, keys: Sequence[Any], cursor: str | None,
                   limit: int) -> tuple[list[Any], str | None]:
    """One page of `query` in keyset order: the items and the cursor of the next page (None on
    the last). `keys` are the ORM attributes to sort by, ascending; the last must be unique and
    not null (the id, or a unique code), so it breaks ties. A nullable key sorts its nulls last
    on every database. The cursor holds the page's last row's key values."""
    values = decode_cursor(cursor)
    if values:
        if len(values) < len(keys):
            raise _malformed("malformed cursor")
        values = values[:len(keys)]
        query = query.where(_after(keys, [_from_json(k, v) for k, v in zip(keys, values, strict=True)]))
    order = [k.asc().nulls_last() if _nullable(k) else k for k in keys]
    rows = list((await session.scalars(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([_to_json(getattr(last, k.key)) for k in keys])


def page_of(items: Sequence[T], limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    """One page of a list already in memory (short lists, or rows computed in Python): the
    cursor holds the offset of the next page, so it pages a stable order only."""
    values = decode_cursor(cursor)
    start = 0
    if values:
        if len(values) != 1 or type(values[0]) is not int or values[0] < 0:
            raise _malformed("malformed cursor")
        start = values[0]
    end = start + limit
    return list(items[start:end]), encode_cursor([end]) if end < len(items) else None
