"""Event endpoints: coordinators create; the public reads and registers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from comms.common import local
from comms.gatherings import service
from comms.gatherings.schemas import (
    EventCreate,
    EventRead,
    RegisterIn,
    RegistrationCancelled,
    RegistrationOut,
)
from comms.models import Event
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import require_roles
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page

router = APIRouter(prefix="/events", tags=["events"])


async def _out(session, ev: Event) -> EventRead:
    r = EventRead.model_validate(ev)
    c = await service.counts(session, ev.id)
    r.confirmed, r.waitlisted = c.get("confirmed", 0), c.get("waitlisted", 0)
    r.starts_at_local = local(ev.starts_at)
    return r


@router.get("", summary="List events", response_model=Page[EventRead],
            responses=problem_responses(422))
async def list_events(session: SessionDep,
                      region: Annotated[str | None, Query(max_length=limits.CODE,
                                                          pattern="^[0-2][0-9]$")] = None,
                      limit: Limit = 50, cursor: Cursor = None) -> Page[EventRead]:
    """Events by start time (public)."""
    rows, total, nxt = await service.list_events(session, region, limit, cursor)
    return Page[EventRead](items=[await _out(session, e) for e in rows], total=total,
                           next_cursor=nxt)


@router.post("", summary="Create an event", status_code=status.HTTP_201_CREATED,
             response_model=EventRead, responses=problem_responses(401, 403, 422))
async def create_event(session: SessionDep, body: EventCreate,
                       identity=require_roles("admin", "coordinator")) -> EventRead:
    """A workshop, national day or webinar with a capacity."""
    return await _out(session, await service.create(session, identity.sub, body))


@router.post("/registrations/cancel", summary="Cancel a registration",
             response_model=RegistrationCancelled, responses=problem_responses(404, 422))
async def cancel(request: Request, session: SessionDep,
                 token: Annotated[str, Query(min_length=10, max_length=100)]) -> RegistrationCancelled:
    """With the token from registering; the first on the waiting list moves up."""
    reg = await service.cancel(session, request.state.settings, token)
    return RegistrationCancelled(id=reg.id, status=reg.status)


@router.get("/{event_id}", summary="Read an event", response_model=EventRead,
            responses=problem_responses(404))
async def read_event(event_id: IdPath, session: SessionDep) -> EventRead:
    """One event with its confirmed and waiting counts."""
    return await _out(session, await service.get(session, event_id))


@router.post("/{event_id}/registrations", summary="Register (public)", status_code=201,
             response_model=RegistrationOut, responses=problem_responses(404, 409, 422))
async def register(event_id: IdPath, request: Request, session: SessionDep,
                   body: RegisterIn) -> RegistrationOut:
    """A place if one is free, else the waiting list; a confirmation mail either way."""
    reg, cancel_token, position = await service.register(session, request.state.settings,
                                                         event_id, body)
    return RegistrationOut(id=reg.id, status=reg.status, waitlist_position=position,
                           cancel_token=cancel_token)
