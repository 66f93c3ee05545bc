"""Steering-group meetings: who may record and read them, and the participation query the
coordination project needs ("in which projects' steering groups did we take part this year")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes.history import jsonable
from registry.coordination import queries
from registry.events import coordination as events
from registry.models import Project, SteeringMeeting
from shared.contracts import coordination as contracts
from shared.db import new_id
from shared.errors import Forbidden, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

READERS = ("admin", "coordinator", "ministry", "funder", "implementer")


def require_reader(identity: Identity, what: str) -> None:
    """Steering groups and service needs are not public: signed-in roles with a stake only."""
    if not identity.has_role(*READERS):
        raise Forbidden(f"{what} are not public; they need a national, funder or implementer role")


def shows_names(identity: Identity) -> bool:
    """Participant names are personal data: a ministry user reads the meetings without them
    (others see only their own projects' meetings, where they may see the names)."""
    return identity.is_national or not identity.has_role("ministry")


def out(m: SteeringMeeting, names: bool) -> dict[str, Any]:
    people = [p if names else {k: v for k, v in p.items() if k != "name"}
              for p in m.participants or []]
    return jsonable({"id": m.id, "project_id": m.project_id, "date": m.date,
                     "participants": people, "coordination_attended": m.coordination_attended,
                     "funder_attended": m.funder_attended, "decisions": m.decisions,
                     "minutes_url": m.minutes_url, "created_at": m.created_at})


async def _project(session: AsyncSession, identity: Identity, project_id: str,
                   write: bool) -> Project:
    """The project, if the caller may read (or, with `write`, record) its steering group: a
    project they cannot see at all is 404, one they see but may not use is 403."""
    p = await queries.project(session, project_id)
    if p is None:
        raise access.hide("project", project_id)
    if write:
        allowed = identity.is_national or bool(identity.has_role("implementer") and identity.org
                                               and identity.org == p.organisation_id)
    else:
        allowed = bool(await queries.readable_project_ids(session, identity, [p.id]))
    if not allowed:
        if access.project_visible(identity, p):
            raise Forbidden("you may not " + ("record" if write else "read")
                            + " this project's steering-group meetings")
        raise access.hide("project", project_id)
    return p


async def _check_organisations(session: AsyncSession, participants: list[dict[str, Any]]) -> None:
    ids = {p["organisation_id"] for p in participants if p.get("organisation_id")}
    if not ids:
        return
    found = await queries.existing_organisations(session, ids)
    for i, p in enumerate(participants):
        if p.get("organisation_id") and p["organisation_id"] not in found:
            raise Unprocessable(f"no organisation {p['organisation_id']}", errors=[
                {"field": f"body/participants/{i}/organisation_id", "type": "unknown_id",
                 "message": "no such organisation"}])


async def record(uow: UnitOfWork, identity: Identity, project_id: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """The project's implementer, a coordinator or an admin records a meeting; emits
    steering_meeting.recorded (without names)."""
    session = uow.session
    p = await _project(session, identity, project_id, write=True)
    # A meeting is recorded once held (who took part, what was decided): not ahead of today
    # (a day's slack for time zones), nor before the programme periods TEKE keeps.
    if not dt.date(2000, 1, 1) <= data["date"] <= dt.date.today() + dt.timedelta(days=1):
        raise Unprocessable("a steering meeting is recorded once it has been held", errors=[
            {"field": "body/date", "type": "out_of_range",
             "message": "from 2000-01-01 up to today"}])
    participants = [{k: v for k, v in x.items() if v is not None} for x in data["participants"]]
    await _check_organisations(session, participants)
    m = SteeringMeeting(id=new_id(), project_id=p.id, date=data["date"], participants=participants,
                        coordination_attended=data["coordination_attended"],
                        funder_attended=data["funder_attended"],
                        decisions={k: v for k, v in data["decisions"].items() if v is not None},
                        minutes_url=data.get("minutes_url"), created_by=identity.sub)
    session.add(m)
    await session.flush()
    await uow.emit(contracts.STEERING_MEETING_RECORDED, m.id, events.meeting_recorded(m))
    return out(m, True)


async def of_project(session: AsyncSession, identity: Identity, project_id: str) -> dict[str, Any]:
    require_reader(identity, "steering-group meetings")
    p = await _project(session, identity, project_id, write=False)
    rows = await queries.all_of(session, queries.meetings(identity, project_id=p.id)
                                .order_by(SteeringMeeting.date, SteeringMeeting.id))
    names = shows_names(identity)
    return {"project_id": p.id, "items": [out(m, names) for m in rows], "total": len(rows),
            "next_cursor": None}


async def list_page(session: AsyncSession, identity: Identity, theme_id: str | None,
                    year: int | None, coordination_attended: bool | None, cursor: str | None,
                    limit: int) -> tuple[list[dict[str, Any]], int, str | None]:
    require_reader(identity, "steering-group meetings")
    q = queries.meetings(identity, theme_id=theme_id, year=year,
                         coordination_attended=coordination_attended)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [SteeringMeeting.date, SteeringMeeting.id], cursor, limit)
    names = shows_names(identity)
    return [out(m, names) for m in rows], total, nxt


async def participation(session: AsyncSession, identity: Identity, theme_id: str | None,
                        year: int) -> dict[str, Any]:
    """Of the projects the caller may read (of one theme, if given): which had steering-group
    meetings in `year`, how many, and in which the coordination project and the funder took part."""
    require_reader(identity, "steering-group meetings")
    rows = await queries.participation(session, identity, theme_id, year)
    items = [{"project_id": pid, "code": code, "name": name, "meetings": n,
              "coordination_attended": bool(coord), "funder_attended": bool(funder)}
             for pid, code, name, n, coord, funder in rows]
    return {"year": year, "theme_id": theme_id, "projects_with_meetings": len(items),
            "meetings": sum(i["meetings"] for i in items),
            "coordination_attended_projects": sum(i["coordination_attended"] for i in items),
            "funder_attended_projects": sum(i["funder_attended"] for i in items), "items": items,
            "total": len(items), "next_cursor": None}
