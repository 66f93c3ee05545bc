"""Practice rules: who may add or change one, maturity moving forward with evidence, and what
gets published."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import access
from registry.changes import history
from registry.events import practices as events
from registry.models import Practice
from registry.practices import queries
from registry.practices.schemas import PracticeIn
from registry.projects.service import etag, etag_matches
from shared.contracts import registry as contracts
from shared.db import new_id, utcnow
from shared.errors import Forbidden, PreconditionFailed, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate
from shared.uow import UnitOfWork

ORDER = ["idea", "piloted", "evaluated", "adopted_nationally"]
NEEDS_EVIDENCE = {"evaluated", "adopted_nationally"}
FIELDS = list(PracticeIn.model_fields)
LISTS = ("evidence", "project_ids", "theme_ids", "sub_themes", "target_groups")


def out(p: Practice) -> dict[str, Any]:
    return history.jsonable({**events.state(p), **{f: getattr(p, f) for f in FIELDS},
                             "archived": p.archived, "created_at": p.created_at,
                             "updated_at": p.updated_at})


async def load(session: AsyncSession, practice_id: str, identity: Identity) -> Practice:
    p = await session.get(Practice, practice_id)
    if p is None or not access.practice_visible(identity, p):
        raise access.hide("practice", practice_id)
    return p


def _check_maturity(p: Practice, new: str) -> None:
    if ORDER.index(new) < ORDER.index(p.maturity):
        raise Unprocessable(f"maturity cannot move back from {p.maturity} to {new}", errors=[
            {"field": "body/maturity", "type": "transition",
             "message": f"maturity moves forward: {' -> '.join(ORDER)}"}])
    if new in NEEDS_EVIDENCE and not p.evidence:
        raise Unprocessable(f"maturity {new} needs evidence", errors=[
            {"field": "body/evidence", "type": "missing",
             "message": f"add at least one evidence link before marking it {new}"}])


async def _check_projects(session: AsyncSession, ids: list[str] | None) -> None:
    if not ids:
        return
    found = await queries.existing_projects(session, ids)
    for i, pid in enumerate(ids):
        if pid not in found:
            raise Unprocessable(f"no project {pid}", errors=[
                {"field": f"body/project_ids/{i}", "type": "unknown_id", "message": "no such project"}])


async def _record(uow: UnitOfWork, p: Practice, before: dict | None, identity: Identity,
                  action: str) -> None:
    """History and feed row; practice.published when it becomes published, and
    practice.maturity_changed when its maturity moved."""
    await history.record(uow.session, entity_type="practice", entity_id=p.id, action=action,
                         version=p.version, actor=identity.sub, before=before, after=out(p),
                         feed_state=events.state(p), published=p.published,
                         organisation_id=p.organisation_id)
    if p.published and (before is None or not before.get("published")):
        await uow.emit(contracts.PRACTICE_PUBLISHED, p.id, events.state(p))
    if before is not None and before.get("maturity") != p.maturity:
        await uow.emit(contracts.PRACTICE_MATURITY_CHANGED, p.id,
                       events.maturity_changed(p, before["maturity"]))


async def list_page(session: AsyncSession, identity: Identity, maturity: str | None,
                    project_id: str | None, sub_theme: str | None, cursor: str | None,
                    limit: int, theme_id: str | None = None
                    ) -> tuple[list[dict[str, Any]], int, str | None]:
    """A page in id order, the total and the next page's cursor."""
    q = await queries.listed(session, identity, maturity, project_id, sub_theme, theme_id)
    total = await count(session, q)
    rows, nxt = await paginate(session, q, [Practice.id], cursor, limit)
    return [out(p) for p in rows], total, nxt


async def summary(session: AsyncSession, identity: Identity, theme_id: str | None) -> dict[str, Any]:
    """How many practices the caller may see, by maturity (in maturity order)."""
    q = await queries.listed(session, identity, None, None, None, theme_id)
    counts = await queries.by_maturity(session, q)
    return {"theme_id": theme_id, "total": sum(counts.values()),
            "by_maturity": {m: counts.get(m, 0) for m in ORDER}}


async def export(session: AsyncSession, identity: Identity, maturity: str | None,
                 project_id: str | None, sub_theme: str | None, max_rows: int) -> list[Practice]:
    q = await queries.listed(session, identity, maturity, project_id, sub_theme)
    return await queries.export_rows(session, q, max_rows)


async def create(uow: UnitOfWork, identity: Identity, data: dict[str, Any]) -> Practice:
    """Implementers (for their own organisation), coordinators and admins; a new practice
    starts as an idea unless it comes with the evidence its maturity needs."""
    session = uow.session
    if not identity.has_role("admin", "coordinator", "implementer"):
        raise Forbidden("only implementers, coordinators and admins add practices")
    if "name" not in data:
        raise Unprocessable("name is required", errors=[
            {"field": "body/name", "type": "missing", "message": "Field required"}])
    if not identity.is_national:
        data.setdefault("organisation_id", identity.org)
        if data["organisation_id"] != identity.org:
            raise Forbidden("an implementer adds practices only for its own organisation")
    await _check_projects(session, data.get("project_ids"))
    p = Practice(id=new_id(), version=1, created_by=identity.sub, maturity="idea",
                 **{k: v for k, v in data.items() if k != "maturity"})
    for key in LISTS:
        if getattr(p, key) is None:
            setattr(p, key, [])
    if data.get("maturity", "idea") != "idea":
        _check_maturity(p, data["maturity"])
    p.maturity = data.get("maturity", "idea")
    session.add(p)
    await session.flush()
    await _record(uow, p, None, identity, "create")
    return p


async def update(uow: UnitOfWork, identity: Identity, practice_id: str, data: dict[str, Any],
                 if_match: str | None) -> Practice:
    """Maturity moves forward only (evaluated and beyond need evidence); only national users
    move a practice to another organisation."""
    session = uow.session
    p = await session.get(Practice, practice_id)
    if p is None:
        raise access.hide("practice", practice_id)
    if not access.may_edit_practice(identity, p):
        raise Forbidden("you may not change this practice")
    if if_match is not None and not etag_matches(if_match, etag(p)):
        raise PreconditionFailed("the practice has changed since you read it")
    if "organisation_id" in data and not identity.is_national:
        raise Forbidden("only coordinators and admins move a practice to another organisation")
    await _check_projects(session, data.get("project_ids"))
    before = out(p)
    for k, v in data.items():
        if k == "maturity" or (v is None and k in ("name", "kind", "published")):
            continue
        setattr(p, k, v if v is not None or k not in LISTS else [])
    if data.get("maturity") and data["maturity"] != p.maturity:
        _check_maturity(p, data["maturity"])
        p.maturity = data["maturity"]
    if out(p) != before:
        p.version += 1
        p.updated_at = utcnow()
        await session.flush()
        await _record(uow, p, before, identity, "update")
    return p
