"""Cursor pagination shared by every list endpoint: opaque cursors, capped page sizes."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

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
