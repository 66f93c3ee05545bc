"""The change feed endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field

from registry.changes import queries
from registry.changes.history import jsonable
from shared.db import SessionDep
from shared.errors import Unprocessable, problem_responses
from shared.identity import Authenticated
from shared.limits import CodeQuery
from shared.pagination import Cursor, decode_cursor, encode_cursor

router = APIRouter(prefix="/changes", tags=["changes"])
MAX_SEQ = 2**62


class ChangeRead(BaseModel):
    seq: int
    entity_type: str
    entity_id: str
    action: str
    version: int | None = None
    at: dt.datetime
    state: dict[str, Any] | None = Field(None, description="The entity's public state after it.")


class ChangeFeed(BaseModel):
    """A page of the feed. `next_since` and `next_cursor` say the same (the last seq given):
    `next_cursor` is null on the last page, `next_since` is what to poll with later."""

    items: list[ChangeRead]
    next_since: int
    next_cursor: str | None = None


def _since(cursor: str) -> int:
    values = decode_cursor(cursor) or [None]
    if not isinstance(values[0], int) or not 0 <= values[0] <= MAX_SEQ:
        raise Unprocessable("invalid cursor", errors=[
            {"field": "query/cursor", "type": "value_error", "message": "malformed cursor"}])
    return values[0]


@router.get("", summary="Change feed", response_model=ChangeFeed, responses=problem_responses(401, 422))
async def changes(session: SessionDep, identity: Authenticated,
                  since: Annotated[int, Query(ge=0, le=MAX_SEQ, description="The last seq you have.")] = 0,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                  entity_type: CodeQuery = None, cursor: Cursor = None) -> ORJSONResponse:
    """Every create, update and archive in commit order after `since` (or after `cursor`, the
    previous page's `next_cursor`); poll with `next_since`."""
    if cursor:
        since = _since(cursor)
    rows = await queries.changes_after(session, identity, since, limit, entity_type)
    items = [{"seq": c.seq, "entity_type": c.entity_type, "entity_id": c.entity_id,
              "action": c.action, "version": c.version, "at": c.at, "state": c.state}
             for c in rows]
    last = rows[-1].seq if rows else since
    return ORJSONResponse({"items": jsonable(items), "next_since": last,
                           "next_cursor": encode_cursor([last]) if len(rows) == limit else None})
