"""Continuation (the theme card's section 7): follow-ups of ended projects at 6, 12 and 24
months, recording whether each of the project's practices is still in use and by whom, and the
figure TEKE gives: how many practices from ended projects are still in use after so long.

A follow-up "at 12 months" may be made from a month before its anniversary (SLACK_DAYS = 31:
follow-up rounds are run for many projects at once) and never in the future."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.evaluations import queries
from registry.evaluations.service import bad
from registry.events import evaluations as events
from registry.models import FollowUp, FollowUpPractice, Project, Theme
from registry.projects.service import project as project_service
from shared.contracts import coordination as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, Forbidden, NotFound
from shared.identity import Identity
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import UnitOfWork

SLACK_DAYS = 31


def add_months(d: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day if it is shorter); date.max past 9999."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def due_from(p: Project, months: int) -> dt.date | None:
    """The first day a `months` follow-up may be made (None while the end date is unknown)."""
    if p.end_date is None:
        return None
    return add_months(p.end_date, months) - dt.timedelta(days=SLACK_DAYS)


def out(f: FollowUp, p: Project, rows: list[FollowUpPractice], names: dict[str, dict],
        private: bool) -> dict[str, Any]:
    """The follow-up; practices the caller may not see and (for outsiders) notes left out."""
    return history.jsonable({
        "id": f.id, "project_id": f.project_id, "theme_id": p.theme_id, "months": f.months,
        "date": f.date, "due_from": due_from(p, f.months),
        "practices": [{"practice_id": r.practice_id, "name": names.get(r.practice_id),
                       "in_use": r.in_use, "used_by": list(r.used_by or []),
                       **({"note": r.note} if private else {})}
                      for r in rows if r.practice_id in names],
        "created_at": f.created_at})


def _check_ended(p: Project, months: int, date: dt.date) -> None:
    if p.archived:
        raise Conflict("the project is archived")
    if p.status != "ended":
        raise Conflict(f"the project has not ended (its status is {p.status}); follow-ups "
                       "are made after a project ends", errors=[
                           {"field": "path/project_id", "type": "not_ended",
                            "message": f"status {p.status}, not ended"}])
    if p.end_date is None or p.end_date > dt.date.today():
        when = f"it ends on {p.end_date}" if p.end_date else "it has no end date"
        raise Conflict(f"the project has not ended ({when})", errors=[
            {"field": "path/project_id", "type": "not_ended", "message": when}])
    if date > dt.date.today():
        raise bad("body/date", "the follow-up date is in the future")
    if date < due_from(p, months):
        raise bad("body/date", f"a {months}-month follow-up is due from {due_from(p, months)} "
                               f"({months} months after the end on {p.end_date}, less "
                               f"{SLACK_DAYS} days)", "too_early")


async def _check_practices(session: AsyncSession, p: Project,
                           items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each practice must be the project's, once; users named by a registered organisation or
    a name; in use means someone uses it. Returns the entries with users' names filled in."""
    own = await queries.practices_of_project(session, p.id)
    org_ids = [u["organisation_id"] for x in items for u in x["used_by"] if u.get("organisation_id")]
    orgs = await queries.organisations(session, org_ids)
    seen: set[str] = set()
    out = []
    for i, x in enumerate(items):
        at = f"body/practices/{i}"
        if x["practice_id"] not in own:
            raise bad(f"{at}/practice_id", f"practice {x['practice_id']} is not one of the "
                                           "project's practices", "unknown_id")
        if x["practice_id"] in seen:
            raise bad(f"{at}/practice_id", "the practice is listed twice", "duplicate")
        seen.add(x["practice_id"])
        if x["in_use"] and not x["used_by"]:
            raise bad(f"{at}/used_by", "name who uses the practice", "missing")
        if not x["in_use"] and x["used_by"]:
            raise bad(f"{at}/used_by", "a practice not in use has no users")
        users = []
        for j, u in enumerate(x["used_by"]):
            oid = u.get("organisation_id")
            if not oid and not u.get("name"):
                raise bad(f"{at}/used_by/{j}", "give organisation_id or name", "missing")
            if oid and oid not in orgs:
                raise bad(f"{at}/used_by/{j}/organisation_id", f"no organisation {oid}",
                          "unknown_id")
            users.append({"organisation_id": oid,
                          "name": u.get("name") or (orgs[oid].name or {}).get("fi")})
        out.append({**x, "used_by": users})
    return out


async def record(uow: UnitOfWork, identity: Identity, project_id: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """Those who may edit the project (its implementer, its funder) and national roles; emits
    `follow_up.recorded`."""
    session = uow.session
    p = await project_service.get(session, project_id, identity)
    if not access.may_edit_project(identity, p):
        raise Forbidden("only the project's implementer, its funder, coordinators and admins "
                        "record its follow-ups")
    _check_ended(p, data["months"], data["date"])
    if await queries.follow_up_taken(session, p.id, data["months"]):
        raise Conflict(f"the project already has a {data['months']}-month follow-up", errors=[
            {"field": "body/months", "type": "duplicate",
             "message": f"a {data['months']}-month follow-up exists"}])
    items = await _check_practices(session, p, data["practices"])
    f = FollowUp(id=new_id(), project_id=p.id, months=data["months"], date=data["date"],
                 created_at=utcnow(), created_by=identity.sub)
    session.add(f)
    await session.flush()
    rows = [FollowUpPractice(follow_up_id=f.id, practice_id=x["practice_id"], in_use=x["in_use"],
                             used_by=x["used_by"], note=x.get("note")) for x in items]
    session.add_all(rows)
    await session.flush()
    names = dict.fromkeys(r.practice_id for r in rows)
    names.update(await queries.practice_names(session, identity, list(names)))
    view = out(f, p, rows, names, private=True)
    await history.record(session, entity_type="follow_up", entity_id=f.id, action="create",
                         version=1, actor=identity.sub, before=None, after=view,
                         feed_state=events.follow_up(view), published=p.published,
                         organisation_id=p.organisation_id, funder_id=p.funder_id)
    await uow.emit(contracts.FOLLOW_UP_RECORDED, f.id, events.follow_up(view))
    return view


async def list_for(session: AsyncSession, identity: Identity, project_id: str) -> list[dict]:
    """A project's follow-ups, to those who may see the project."""
    p = await project_service.get(session, project_id, identity)
    private = access.project_private(identity, p, await project_service.past_funders(session, p.id))
    fus = await queries.follow_ups_of(session, p.id)
    rows = await queries.follow_up_practices(session, [f.id for f in fus])
    names = await queries.practice_names(session, identity, list({r.practice_id for r in rows}))
    return [out(f, p, [r for r in rows if r.follow_up_id == f.id], names, private) for f in fus]


async def continuation(session: AsyncSession, identity: Identity, theme_id: str | None,
                       months: int, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """Of the ended projects the caller may see: how many were followed up at `months`, how
    many of their practices were followed and how many are still in use (practices the caller
    may not see are not counted). `projects_due`: ended long enough ago, not yet followed."""
    if months not in (6, 12, 24):
        raise bad("query/months", "months is 6, 12 or 24")
    start = (decode_cursor(cursor) or [0])[0]  # the cursor holds where the next page starts
    if not isinstance(start, int) or start < 0:
        raise bad("query/cursor", "malformed cursor")
    if theme_id and await session.get(Theme, theme_id) is None:
        raise NotFound(f"no theme {theme_id}")
    ended = await queries.ended_projects(session, identity, theme_id)
    by_id = {pid: (code, name, end) for pid, code, name, end in ended}
    fus = await queries.follow_ups_at(session, list(by_id), months)
    rows = await queries.follow_up_practices(session, [f.id for f in fus])
    names = await queries.practice_names(session, identity, list({r.practice_id for r in rows}))
    rows = [r for r in rows if r.practice_id in names]
    followed = {f.project_id for f in fus}
    today = dt.date.today()
    due = sum(1 for pid, (_, _, end) in by_id.items()
              if pid not in followed and end and add_months(end, months) <= today)
    practices_followed = {r.practice_id for r in rows}
    in_use = {r.practice_id for r in rows if r.in_use}
    fu_of = {f.id: f for f in fus}
    items = sorted(({"practice_id": r.practice_id, "name": names[r.practice_id],
                     "project_id": fu_of[r.follow_up_id].project_id,
                     "project_code": by_id[fu_of[r.follow_up_id].project_id][0],
                     "project_end_date": by_id[fu_of[r.follow_up_id].project_id][2],
                     "follow_up_date": fu_of[r.follow_up_id].date, "in_use": r.in_use,
                     "users": len(r.used_by or [])} for r in rows),
                   key=lambda x: (x["project_end_date"] or dt.date.min, x["project_code"],
                                  x["practice_id"]))
    return history.jsonable({
        "theme_id": theme_id, "months": months, "ended_projects": len(by_id),
        "projects_followed": len(followed), "projects_due": due,
        "practices_followed": len(practices_followed), "practices_in_use": len(in_use),
        "share_in_use": round(len(in_use) / len(practices_followed), 3)
        if practices_followed else None,
        "items": items[start:start + limit], "items_total": len(items), "total": len(items),
        "next_cursor": encode_cursor([start + limit]) if start + limit < len(items) else None})
