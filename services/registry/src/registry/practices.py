"""Good practices and service models, their maturity with evidence, and their adoptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import ORJSONResponse
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import func, select

from registry import access, audit, exports
from registry.models import (
    Adoption,
    Organisation,
    Practice,
    Project,
    ProjectPartner,
    ProjectWorkplace,
)
from registry.projects.service import etag, etag_matches
from registry.validators import check_codes, check_region
from shared import limits
from shared.contracts import registry as contracts
from shared.contracts.registry import LocalizedDescription, LocalizedName
from shared.db import SessionDep, new_id, utcnow
from shared.errors import Forbidden, PreconditionFailed, Unprocessable, problem_responses
from shared.exports import EXPORT_RESPONSES, export_response
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeQuery, CodeStr, IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.types import IsoDate, StrictInput

Maturity = Literal["idea", "piloted", "evaluated", "adopted_nationally"]
ORDER = ["idea", "piloted", "evaluated", "adopted_nationally"]
NEEDS_EVIDENCE = {"evaluated", "adopted_nationally"}


class Evidence(StrictInput):
    model_config = ConfigDict(extra="forbid")
    link: str = Field(max_length=500, pattern=r"^https?://\S+$")
    description: str | None = Field(None, max_length=1000)


class PracticeIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    kind: Literal["practice", "service_model"] | None = None
    problem: LocalizedDescription | None = Field(None, description="What problem it solves.")
    how_to_adopt: LocalizedDescription | None = None
    maturity: Maturity | None = None
    evidence: list[Evidence] | None = Field(None, max_length=50)
    project_ids: list[CodeStr] | None = Field(None, max_length=50)
    theme_ids: list[CodeStr] | None = Field(None, max_length=10)
    sub_themes: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    target_groups: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    organisation_id: str | None = Field(None, max_length=36)
    published: bool | None = None

    @field_validator("sub_themes")
    @classmethod
    def _st(cls, v):
        return check_codes("sub_themes", v)

    @field_validator("target_groups")
    @classmethod
    def _tg(cls, v):
        return check_codes("target_groups", v)


class AdoptionIn(StrictInput):
    model_config = ConfigDict(extra="forbid")

    organisation_id: str = Field(max_length=36)
    adopted_on: IsoDate
    scope: Literal["unit", "organisation", "regional_service"]
    region_code: str | None = Field(None, max_length=2)
    project_id: str | None = Field(None, max_length=36)
    notes: str | None = Field(None, max_length=4000)

    _region = field_validator("region_code")(check_region)


router = APIRouter(prefix="/practices", tags=["practices"])
adoptions_router = APIRouter(prefix="/adoptions", tags=["practices"])
FIELDS = list(PracticeIn.model_fields)


def state(p: Practice) -> dict[str, Any]:
    return {"id": p.id, "version": p.version, "name": p.name, "kind": p.kind,
            "maturity": p.maturity, "project_ids": list(p.project_ids or []),
            "sub_themes": list(p.sub_themes or []), "target_groups": list(p.target_groups or []),
            "published": bool(p.published)}


def out(p: Practice) -> dict[str, Any]:
    return audit.jsonable({**state(p), **{f: getattr(p, f) for f in FIELDS}, "archived": p.archived,
                           "created_at": p.created_at, "updated_at": p.updated_at})


def adoption_out(a: Adoption) -> dict[str, Any]:
    return audit.jsonable({c: getattr(a, c) for c in (
        "id", "practice_id", "organisation_id", "adopted_on", "scope", "region_code", "project_id",
        "within_origin", "notes", "created_at")})


async def load(session, practice_id: str, identity) -> Practice:
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


async def _check_projects(session, ids: list[str] | None) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(Project.id).where(Project.id.in_(ids)))).all())
    for i, pid in enumerate(ids):
        if pid not in found:
            raise Unprocessable(f"no project {pid}", errors=[
                {"field": f"body/project_ids/{i}", "type": "unknown_id", "message": "no such project"}])


async def _emit(session, outbox, p: Practice, before: dict | None, identity, action: str) -> None:
    after = out(p)
    await audit.record(session, entity_type="practice", entity_id=p.id, action=action,
                       version=p.version, actor=identity.sub, before=before, after=after,
                       feed_state=state(p), published=p.published,
                       organisation_id=p.organisation_id)
    if p.published and (before is None or not before.get("published")):
        await outbox.record(session, contracts.PRACTICE_PUBLISHED, p.id, state(p))
    if before is not None and before.get("maturity") != p.maturity:
        await outbox.record(session, contracts.PRACTICE_MATURITY_CHANGED, p.id,
                            {**state(p), "from_maturity": before["maturity"]})


async def _query(session, identity, maturity: str | None, project_id: str | None,
                 sub_theme: str | None):
    q = select(Practice).where(access.practice_filter(identity), Practice.archived.is_(False))
    if maturity:
        q = q.where(Practice.maturity == maturity)
    if project_id or sub_theme:  # JSON lists: filtered here (practices are few)
        rows_all = [p for p in (await session.scalars(q)).all()
                    if (not project_id or project_id in (p.project_ids or []))
                    and (not sub_theme or sub_theme in (p.sub_themes or []))]
        q = q.where(Practice.id.in_([p.id for p in rows_all]))
    return q


@router.get("", summary="List good practices")
async def list_practices(session: SessionDep, identity: CurrentIdentity, limit: Limit = 50,
                         cursor: Cursor = None, maturity: Maturity | None = None,
                         project_id: CodeQuery = None, sub_theme: CodeQuery = None) -> ORJSONResponse:
    """Published ones for the public; own organisation's too for implementers."""
    q = await _query(session, identity, maturity, project_id, sub_theme)
    total = await session.scalar(select(func.count()).select_from(q.subquery()))
    after = decode_cursor(cursor)
    if after:
        q = q.where(Practice.id > after[0])
    rows = list((await session.scalars(q.order_by(Practice.id).limit(limit + 1))).all())
    nxt = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return ORJSONResponse({"items": [out(p) for p in rows[:limit]], "total": total,
                           "next_cursor": nxt})


@router.get("/export", summary="Export good practices (CSV, XLSX, JSON)",
            responses={**EXPORT_RESPONSES, **problem_responses(422)})
async def export_practices(session: SessionDep, identity: CurrentIdentity,
                           format: exports.Format = "csv", lang: exports.Lang = "fi",
                           maturity: Maturity | None = None,
                           project_id: Annotated[str | None, Query(max_length=36)] = None,
                           sub_theme: Annotated[str | None, Query(max_length=60)] = None,
                           max_rows: Annotated[int, Query(ge=1, le=100_000)] = 100_000):
    """The practices the caller may list (the list's filters), code labels in `lang`."""
    q = await _query(session, identity, maturity, project_id, sub_theme)
    rows = (await session.scalars(q.order_by(Practice.id).limit(max_rows))).all()
    return export_response([exports.practice_row(p, lang) for p in rows],
                           exports.PRACTICE_COLUMNS, format, lang=lang, filename="practices")


@router.post("", summary="Add a good practice", status_code=201,
             responses=problem_responses(401, 403, 422))
async def create_practice(request: Request, session: SessionDep, identity: Authenticated,
                          body: PracticeIn) -> ORJSONResponse:
    """Emits `practice.published` if it is published at once."""
    if not identity.has_role("admin", "coordinator", "implementer"):
        raise Forbidden("only implementers, coordinators and admins add practices")
    data = body.model_dump(mode="python", exclude_none=True)
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
    for key in ("evidence", "project_ids", "theme_ids", "sub_themes", "target_groups"):
        if getattr(p, key) is None:
            setattr(p, key, [])
    if data.get("maturity", "idea") != "idea":
        _check_maturity(p, data["maturity"])
    p.maturity = data.get("maturity", "idea")
    session.add(p)
    await session.flush()
    await _emit(session, request.state.outbox, p, None, identity, "create")
    return ORJSONResponse(out(p), status_code=201, headers={"ETag": etag(p)})


@router.get("/{practice_id}", summary="Read a good practice", responses=problem_responses(404))
async def read_practice(practice_id: IdPath, session: SessionDep, identity: CurrentIdentity,
                        if_none_match: IfNoneMatch = None) -> Response:
    """With its ETag."""
    p = await load(session, practice_id, identity)
    if etag_matches(if_none_match, etag(p)):
        return Response(status_code=304, headers={"ETag": etag(p)})
    return ORJSONResponse(out(p), headers={"ETag": etag(p)})


@router.patch("/{practice_id}", summary="Change a good practice",
              responses=problem_responses(401, 403, 404, 412, 422))
async def update_practice(practice_id: IdPath, request: Request, session: SessionDep,
                          identity: Authenticated, body: PracticeIn,
                          if_match: IfMatch = None) -> ORJSONResponse:
    """Maturity moves forward only (evaluated and beyond need evidence); emits events."""
    p = await session.get(Practice, practice_id)
    if p is None:
        raise access.hide("practice", practice_id)
    if not access.may_edit_practice(identity, p):
        raise Forbidden("you may not change this practice")
    if if_match is not None and not etag_matches(if_match, etag(p)):
        raise PreconditionFailed("the practice has changed since you read it")
    data = body.model_dump(mode="python", exclude_unset=True)
    if "organisation_id" in data and not identity.is_national:
        raise Forbidden("only coordinators and admins move a practice to another organisation")
    await _check_projects(session, data.get("project_ids"))
    before = out(p)
    for k, v in data.items():
        if k == "maturity" or (v is None and k in ("name", "kind", "published")):
            continue
        setattr(p, k, v if v is not None or k not in ("evidence", "project_ids", "theme_ids",
                                                      "sub_themes", "target_groups") else [])
    if data.get("maturity") and data["maturity"] != p.maturity:
        _check_maturity(p, data["maturity"])
        p.maturity = data["maturity"]
    if out(p) != before:
        p.version += 1
        p.updated_at = utcnow()
        await session.flush()
        await _emit(session, request.state.outbox, p, before, identity, "update")
    return ORJSONResponse(out(p), headers={"ETag": etag(p)})


@router.post("/{practice_id}/adoptions", summary="Record an adoption", status_code=201,
             responses=problem_responses(401, 403, 404, 422))
async def record_adoption(practice_id: IdPath, request: Request, session: SessionDep,
                          identity: Authenticated, body: AdoptionIn) -> ORJSONResponse:
    """An organisation took the practice up; emits `adoption.recorded`."""
    p = await load(session, practice_id, identity)
    if not (identity.is_national or access.owns(identity, body.organisation_id)
            or access.may_edit_practice(identity, p)):
        raise Forbidden("record adoptions for your own organisation or your own practices")
    adopter = await session.get(Organisation, body.organisation_id)
    if adopter is None:
        raise Unprocessable("unknown organisation", errors=[
            {"field": "body/organisation_id", "type": "unknown_id", "message": "no such organisation"}])
    if body.project_id and await session.get(Project, body.project_id) is None:
        raise Unprocessable("unknown project", errors=[
            {"field": "body/project_id", "type": "unknown_id", "message": "no such project"}])
    origin = list(p.project_ids or [])
    within = False
    if origin:
        lead = await session.scalar(select(func.count()).select_from(Project).where(
            Project.id.in_(origin), Project.organisation_id == adopter.id))
        partner = await session.scalar(select(func.count()).select_from(ProjectPartner).where(
            ProjectPartner.project_id.in_(origin), ProjectPartner.organisation_id == adopter.id))
        workplace = await session.scalar(select(func.count()).select_from(ProjectWorkplace).where(
            ProjectWorkplace.project_id.in_(origin), ProjectWorkplace.organisation_id == adopter.id))
        within = bool(lead or partner or workplace)
    a = Adoption(id=new_id(), practice_id=p.id, created_by=identity.sub, within_origin=within,
                 **body.model_dump(mode="python"))
    if a.region_code is None:
        a.region_code = adopter.region_code
    session.add(a)
    await session.flush()
    data = adoption_out(a)
    await audit.record(session, entity_type="adoption", entity_id=a.id, action="create", version=1,
                       actor=identity.sub, before=None, after=data, feed_state=data,
                       published=p.published, organisation_id=a.organisation_id)
    await request.state.outbox.record(session, contracts.ADOPTION_RECORDED, a.id, {
        k: data[k] for k in ("id", "practice_id", "organisation_id", "adopted_on", "scope",
                             "region_code", "project_id", "within_origin")})
    return ORJSONResponse(data, status_code=201)


@adoptions_router.get("", summary="List adoptions")
async def list_adoptions(session: SessionDep, identity: CurrentIdentity, limit: Limit = 100,
                         cursor: Cursor = None, practice_id: CodeQuery = None,
                         organisation_id: CodeQuery = None, region: CodeQuery = None) -> ORJSONResponse:
    """Adoptions of the practices the caller may see (the spread of impact)."""
    q = select(Adoption).join(Practice, Practice.id == Adoption.practice_id) \
        .where(access.practice_filter(identity))
    if practice_id:
        q = q.where(Adoption.practice_id == practice_id)
    if organisation_id:
        q = q.where(Adoption.organisation_id == organisation_id)
    if region:
        q = q.where(Adoption.region_code == region)
    total = await session.scalar(select(func.count()).select_from(q.subquery()))
    after = decode_cursor(cursor)
    if after:
        q = q.where(Adoption.id > after[0])
    rows = list((await session.scalars(q.order_by(Adoption.id).limit(limit + 1))).all())
    nxt = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return ORJSONResponse({"items": [adoption_out(a) for a in rows[:limit]], "total": total,
                           "next_cursor": nxt})
