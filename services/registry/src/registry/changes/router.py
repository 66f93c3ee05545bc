"""The change feed endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import ORJSONResponse

from registry.changes import queries
from registry.changes.history import jsonable
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import CodeQuery

router = APIRouter(prefix="/changes", tags=["changes"])


@router.get("", summary="Change feed", responses=problem_responses(401))
async def changes(session: SessionDep, identity: Authenticated,
                  since: Annotated[int, Query(ge=0, le=2**62, description="The last seq you have.")] = 0,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                  entity_type: CodeQuery = None) -> ORJSONResponse:
    """Every create, update and archive in commit order after `since`; poll with `next_since`."""
    rows = await queries.changes_after(session, identity, since, limit, entity_type)
    items = [{"seq": c.seq, "entity_type": c.entity_type, "entity_id": c.entity_id,
              "action": c.action, "version": c.version, "at": c.at, "state": c.state}
             for c in rows]
    return ORJSONResponse({"items": jsonable(items),
                           "next_since": rows[-1].seq if rows else since})
