"""Recommendation rules: recorded on an evaluation by coordinators and admins, each linked
project and practice must exist, and followed to its outcome one step at a time, every step kept:

    proposed -> accepted | rejected;  accepted -> in_progress | implemented | rejected;
    in_progress -> implemented | rejected;  implemented and rejected are outcomes (final).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.evaluations import queries
from registry.evaluations.service import bad, load, recommendation_views
from registry.events import evaluations as events
from registry.models import (
    Practice,
    Project,
    Recommendation,
    RecommendationLink,
    RecommendationStep,
    ThemeEvaluation,
)
from registry.projects.service import project as project_service
from shared.contracts import coordination as contracts
from shared.db import new_id, utcnow
from shared.errors import Conflict, NotFound
from shared.identity import Identity
from shared.uow import UnitOfWork

ALLOWED = {"proposed": {"accepted", "rejected"},
           "accepted": {"in_progress", "implemented", "rejected"},
           "in_progress": {"implemented", "rejected"},
           "implemented": set(), "rejected": set()}


async def _check_links(session: AsyncSession, field: str, model, ids: list[str]) -> None:
    """Every linked id must exist (422 naming the first that does not); no id twice."""
    found = await queries.existing(session, model, ids)
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x not in found:
            raise bad(f"body/{field}/{i}", f"no {model.__tablename__} {x}", "unknown_id")
        if x in seen:
            raise bad(f"body/{field}/{i}", f"{x} is listed twice", "duplicate")
        seen.add(x)


async def _view(session: AsyncSession, identity: Identity, r: Recommendation,
                e: ThemeEvaluation) -> dict[str, Any]:
    return (await recommendation_views(session, identity, [r], {e.id: e.theme_id}))[0]


async def load_recommendation(session: AsyncSession, identity: Identity, rec_id: str
                              ) -> tuple[Recommendation, ThemeEvaluation]:
    r = await session.get(Recommendation, rec_id)
    if r is None:
        raise access.hide("recommendation", rec_id)
    try:
        e = await load(session, r.evaluation_id, identity)
    except NotFound:
        raise access.hide("recommendation", rec_id) from None
    return r, e


async def read(session: AsyncSession, identity: Identity, rec_id: str) -> dict[str, Any]:
    r, e = await load_recommendation(session, identity, rec_id)
    return await _view(session, identity, r, e)


async def create(uow: UnitOfWork, identity: Identity, evaluation_id: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """Coordinators and admins; emits `recommendation.recorded`."""
    session = uow.session
    e = await load(session, evaluation_id, identity)
    access.require_national(identity, "record recommendations")
    await _check_links(session, "project_ids", Project, data["project_ids"])
    await _check_links(session, "practice_ids", Practice, data["practice_ids"])
    r = Recommendation(id=new_id(), version=1, created_by=identity.sub, evaluation_id=e.id,
                       number=await queries.next_number(session, e.id), text=data["text"],
                       addressee=data.get("addressee"), status="proposed")
    session.add(r)
    await session.flush()
    session.add_all([RecommendationLink(recommendation_id=r.id, kind="project", target_id=x)
                     for x in data["project_ids"]]
                    + [RecommendationLink(recommendation_id=r.id, kind="practice", target_id=x)
                       for x in data["practice_ids"]])
    await session.flush()
    view = await _view(session, identity, r, e)
    await history.record(session, entity_type="recommendation", entity_id=r.id, action="create",
                         version=1, actor=identity.sub, before=None, after=events.recommendation(view),
                         feed_state=events.recommendation(view), published=bool(e.completed))
    await uow.emit(contracts.RECOMMENDATION_RECORDED, r.id, events.recommendation(view))
    return view


async def transition(uow: UnitOfWork, identity: Identity, rec_id: str,
                     data: dict[str, Any]) -> dict[str, Any]:
    """One step towards the outcome; a rejection needs its reason. Emits
    `recommendation.transitioned`."""
    session = uow.session
    r, e = await load_recommendation(session, identity, rec_id)
    access.require_national(identity, "follow recommendations to their outcome")
    to = data["to"]
    if to not in ALLOWED[r.status]:
        allowed = sorted(ALLOWED[r.status])
        raise Conflict(f"a recommendation cannot move from {r.status} to {to}",
                       errors=[{"field": "body/to", "type": "transition",
                                "message": f"allowed from {r.status}: {allowed or 'none (final)'}"}])
    if to == "rejected" and not (data.get("note") or "").strip():
        raise bad("body/note", "say why the recommendation was rejected", "missing")
    when = data.get("date") or dt.date.today()
    if when > dt.date.today():
        raise bad("body/date", "the date is in the future")
    if r.status_date and when < r.status_date:
        raise bad("body/date", f"the date is before the previous step ({r.status_date})",
                  "date_order")
    step = RecommendationStep(id=new_id(), recommendation_id=r.id, from_status=r.status,
                              to_status=to, date=when, note=data.get("note"), actor=identity.sub,
                              at=utcnow())
    before_status = r.status
    r.status, r.status_date = to, when
    r.version += 1
    r.updated_at = utcnow()
    session.add(step)
    await session.flush()
    view = await _view(session, identity, r, e)
    step_view = history.jsonable({"from_status": before_status, "to_status": to, "date": when,
                                  "note": step.note})
    await history.record(session, entity_type="recommendation", entity_id=r.id,
                         action="transition", version=r.version, actor=identity.sub,
                         before={"status": before_status}, after={"status": to},
                         feed_state=events.recommendation(view), published=bool(e.completed))
    await uow.emit(contracts.RECOMMENDATION_TRANSITIONED, r.id,
                   events.transitioned(view, step_view))
    return view


async def for_project(session: AsyncSession, identity: Identity, project_id: str
                      ) -> list[dict[str, Any]]:
    """The recommendations that concern a project (linked to it or to its practices)."""
    p = await project_service.get(session, project_id, identity)
    recs = await queries.recommendations_for_project(session, identity, p.id)
    theme_of = {}
    for r in recs:
        if r.evaluation_id not in theme_of:
            theme_of[r.evaluation_id] = (await session.get(ThemeEvaluation, r.evaluation_id)).theme_id
    return await recommendation_views(session, identity, recs, theme_of)
