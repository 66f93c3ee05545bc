"""Theme evaluation rules: coordinators and admins record and change them; a completed one
needs its findings and is public; the rest see it once it is completed. Recommendations are
in recommendations.py, follow-ups and the continuation figure in follow_ups.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.evaluations import queries
from registry.evaluations.schemas import EvaluationIn
from registry.events import evaluations as events
from registry.models import Recommendation, Theme, ThemeEvaluation
from registry.projects.service import etag, etag_matches
from shared.contracts import coordination as contracts
from shared.db import new_id, utcnow
from shared.errors import NotFound, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

FIELDS = list(EvaluationIn.model_fields)
REQUIRED = ("theme_id", "kind", "evaluator", "started")
NOT_NULL = ("kind", "evaluator", "started", "questions")
STEP_FIELDS = ("from_status", "to_status", "date", "note", "at")


def bad(field: str, message: str, type_: str = "value_error") -> Unprocessable:
    return Unprocessable(message, errors=[{"field": field, "type": type_, "message": message}])


def out(e: ThemeEvaluation) -> dict[str, Any]:
    """The evaluation's view (never who wrote it)."""
    return history.jsonable({
        "id": e.id, "version": e.version, **{f: getattr(e, f) for f in FIELDS},
        "status": "completed" if e.completed else "ongoing",
        "created_at": e.created_at, "updated_at": e.updated_at})


async def load(session: AsyncSession, evaluation_id: str, identity: Identity) -> ThemeEvaluation:
    """The evaluation, if the caller may see it (404 otherwise, as for a missing one)."""
    e = await session.get(ThemeEvaluation, evaluation_id)
    if e is None or e.archived or not (e.completed or queries.sees_ongoing(identity)):
        raise access.hide("theme evaluation", evaluation_id)
    return e


async def recommendation_views(session: AsyncSession, identity: Identity,
                               recs: list[Recommendation], theme_of: dict[str, str]
                               ) -> list[dict[str, Any]]:
    """Recommendations with their links and every step; links the caller may not see are left
    out, and who took a step is shown to coordinators and admins only."""
    ids = [r.id for r in recs]
    links = await queries.links_of(session, ids)
    steps = await queries.steps_of(session, ids)
    projects = [x.target_id for x in links if x.kind == "project"]
    practices = [x.target_id for x in links if x.kind == "practice"]
    if not identity.is_national:
        shown = (await queries.visible_projects(session, identity, projects)
                 | await queries.visible_practices(session, identity, practices))
        links = [x for x in links if x.target_id in shown]
    views = []
    for r in recs:
        rsteps = [history.jsonable({**{k: getattr(s, k) for k in STEP_FIELDS},
                                    **({"actor": s.actor} if identity.is_national else {})})
                  for s in steps if s.recommendation_id == r.id]
        views.append(history.jsonable({
            "id": r.id, "version": r.version, "evaluation_id": r.evaluation_id,
            "theme_id": theme_of[r.evaluation_id], "number": r.number, "text": r.text,
            "addressee": r.addressee, "status": r.status, "status_date": r.status_date,
            "project_ids": [x.target_id for x in links
                            if x.recommendation_id == r.id and x.kind == "project"],
            "practice_ids": [x.target_id for x in links
                             if x.recommendation_id == r.id and x.kind == "practice"],
            "steps": rsteps, "created_at": r.created_at, "updated_at": r.updated_at}))
    return views


async def full(session: AsyncSession, identity: Identity, e: ThemeEvaluation) -> dict[str, Any]:
    recs = await queries.recommendations_of(session, [e.id])
    return {**out(e), "recommendations": await recommendation_views(
        session, identity, recs, {e.id: e.theme_id})}


async def list_page(session: AsyncSession, identity: Identity, theme_id: str | None,
                    cursor: str | None, limit: int) -> dict[str, Any]:
    """A page in start order, each evaluation with its recommendations and their outcomes."""
    if theme_id and await session.get(Theme, theme_id) is None:
        raise NotFound(f"no theme {theme_id}")
    q = queries.evaluations(identity, theme_id)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [ThemeEvaluation.started, ThemeEvaluation.id],
                               cursor, limit)
    recs = await queries.recommendations_of(session, [e.id for e in rows])
    views = await recommendation_views(session, identity, recs, {e.id: e.theme_id for e in rows})
    items = [{**out(e), "recommendations": [v for v in views if v["evaluation_id"] == e.id]}
             for e in rows]
    return {"items": items, "total": total, "next_cursor": nxt}


def _check(e: ThemeEvaluation) -> None:
    if e.completed and e.completed < e.started:
        raise bad("body/completed", "completed is before started", "date_order")
    if e.completed and e.completed > dt.date.today():
        raise bad("body/completed", "completed is in the future; set it when the report is done")
    if e.completed and not e.findings:
        raise bad("body/findings", "a completed evaluation needs its findings", "missing")


async def _record(uow: UnitOfWork, identity: Identity, e: ThemeEvaluation,
                  before: dict[str, Any] | None) -> None:
    view = out(e)
    await history.record(uow.session, entity_type="theme_evaluation", entity_id=e.id,
                         action="create" if before is None else "update", version=e.version,
                         actor=identity.sub, before=before, after=view,
                         feed_state=events.evaluation(view), published=bool(e.completed))
    await uow.emit(contracts.THEME_EVALUATION_RECORDED if before is None
                   else contracts.THEME_EVALUATION_UPDATED, e.id, events.evaluation(view, before))


async def create(uow: UnitOfWork, identity: Identity, data: dict[str, Any]) -> dict[str, Any]:
    """Coordinators and admins; emits `theme_evaluation.recorded`."""
    session = uow.session
    access.require_national(identity, "record theme evaluations")
    missing = [f for f in REQUIRED if data.get(f) is None]
    if missing:
        raise Unprocessable("required field missing", errors=[
            {"field": f"body/{f}", "type": "missing", "message": "Field required"} for f in missing])
    if await session.get(Theme, data["theme_id"]) is None:
        raise bad("body/theme_id", f"no theme {data['theme_id']}", "unknown_id")
    e = ThemeEvaluation(id=new_id(), version=1, created_by=identity.sub,
                        **{k: v for k, v in data.items() if v is not None})
    e.questions = e.questions or []
    _check(e)
    session.add(e)
    await session.flush()
    await _record(uow, identity, e, None)
    return await full(session, identity, e)


async def update(uow: UnitOfWork, identity: Identity, evaluation_id: str, data: dict[str, Any],
                 if_match: str | None) -> dict[str, Any]:
    """Coordinators and admins; the theme stays; emits `theme_evaluation.updated` on a change."""
    session = uow.session
    e = await load(session, evaluation_id, identity)
    access.require_national(identity, "change theme evaluations")
    if if_match is not None and not etag_matches(if_match, etag(e)):
        raise PreconditionFailed("the evaluation has changed since you read it")
    if "theme_id" in data and data["theme_id"] != e.theme_id:
        raise bad("body/theme_id", "an evaluation stays with its theme; record a new one")
    for k in NOT_NULL:
        if k in data and data[k] is None:
            raise bad(f"body/{k}", f"{k} cannot be removed", "missing")
    before = out(e)
    for k, v in data.items():
        setattr(e, k, v)
    _check(e)
    if out(e) != before:
        e.version += 1
        e.updated_at = utcnow()
        await session.flush()
        await _record(uow, identity, e, before)
    return await full(session, identity, e)
