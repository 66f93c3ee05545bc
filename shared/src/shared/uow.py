"""A request's unit of work: its transaction and the outbox its events go into.

Routers take `UnitOfWorkDep` and hand the one object to the service layer, so the rule code
never reaches into `request.state`; an event recorded through it is written in the same
transaction as the change (the outbox), and both commit or roll back together at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionDep
from shared.events.outbox import Outbox


@dataclass
class UnitOfWork:
    session: AsyncSession
    outbox: Outbox

    async def emit(self, event_type: str, entity_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Record an event in this transaction; it is published after the commit."""
        return await self.outbox.record(self.session, event_type, entity_id, data)

    async def emit_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        await self.outbox.record_many(self.session, events)


async def get_unit_of_work(request: Request, session: SessionDep) -> UnitOfWork:
    return UnitOfWork(session, request.state.outbox)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]
