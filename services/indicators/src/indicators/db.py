"""The request session for this service's routes.

shared.db.SessionDep commits after the response has been sent (FastAPI's default "request"
scope for dependencies with yield), so a client could read before its own write is visible,
and a failed commit would follow a 2xx. Scope "function" commits before the response leaves.
"""

from typing import Annotated

from fastapi import Depends
from shared.db import get_session
from sqlalchemy.ext.asyncio import AsyncSession

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
