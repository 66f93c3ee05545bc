"""Programmes, national themes and calls for proposals: national records kept by coordinators.

The three share one shape (create, read, change with If-Match, archive, list), so one router
factory serves them; each has its own schemas and checks.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select

from registry import access, audit
from registry.models import Call, Organisation, Programme, Theme
from registry.projects.service import etag, etag_matches
from registry.validators import check_codes
from shared import limits
from shared.contracts import registry as contracts
from shared.contracts.registry import LocalizedDescription, LocalizedName
from shared.db import SessionDep, new_id, utcnow
from shared.errors import Conflict, PreconditionFailed, Unprocessable, problem_responses
from shared.identity import Authenticated, CurrentIdentity
from shared.limits import CodeStr, IdPath, IfMatch, IfNoneMatch
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.types import DecimalIn, IsoDate, StrictInput


class _In(StrictInput):
    model_config = ConfigDict(extra="forbid")


Money = Annotated[DecimalIn, Field(ge=0, max_digits=16, decimal_places=2)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9:/._-]+$")]


class _Period(_In):
    @model_validator(mode="after")
    def _order(self):
        for a, b in (("period_start", "period_end"), ("open_date", "close_date")):
            x, y = getattr(self, a, None), getattr(self, b, None)
            if x and y and y < x:
                raise ValueError(f"{b} is before {a}")
        return self


class ProgrammeIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None


class ThemeIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    programme_id: str | None = Field(None, max_length=36)
    specific_objective: str | None = Field(None, max_length=20)
    budget: Money | None = None
    ministries: list[CodeStr] | None = Field(None, max_length=10)
    intermediate_body_id: str | None = Field(None, max_length=36)
    priorities: list[LocalizedDescription] | None = Field(None, max_length=30)
    sub_themes: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    target_groups: list[CodeStr] | None = Field(None, max_length=limits.CODES)
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None

    @field_validator("sub_themes")
    @classmethod
    def _st(cls, v):
        return check_codes("sub_themes", v)

    @field_validator("target_groups")
    @classmethod
    def _tg(cls, v):
        return check_codes("target_groups", v)

    @field_validator("specific_objective")
    @classmethod
    def _so(cls, v):
        return None if v is None else check_codes("specific_objectives", [v])[0]


class CallIn(_Period):
    code: Code | None = None
    name: LocalizedName | None = None
    theme_id: str | None = Field(None, max_length=36)
    funder_id: str | None = Field(None, max_length=36)
    open_date: IsoDate | None = None
    close_date: IsoDate | None = None
    budget: Money | None = None
    priorities: list[LocalizedDescription] | None = Field(None, max_length=30,
                                                   description="Hakupainotukset.")


REFS = {"programme_id": Programme, "theme_id": Theme, "intermediate_body_id": Organisation,
        "funder_id": Organisation}
LISTS = ("ministries", "priorities", "sub_themes", "target_groups")


EVENT_TYPES = {"programme": (contracts.PROGRAMME_CREATED, contracts.PROGRAMME_UPDATED),
               "theme": (contracts.THEME_CREATED, contracts.THEME_UPDATED),
               "call": (contracts.CALL_CREATED, contracts.CALL_UPDATED)}
PRIVATE = ("priorities", "created_at", "updated_at")  # kept out of event payloads (size)


def make_router(kind: str, model: type, schema: type[BaseModel], prefix: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[prefix.strip("/")])
    columns = list(schema.model_fields)

    def out(obj) -> dict[str, Any]:
        d = {c: getattr(obj, c) for c in columns}
        d.update(id=obj.id, version=obj.version, archived=obj.archived,
                 created_at=obj.created_at, updated_at=obj.updated_at)
        return audit.jsonable(d)

    created_type, updated_type = EVENT_TYPES[kind]

    async def emit(request: Request, session, obj, before: dict | None) -> None:
        state = {k: v for k, v in out(obj).items() if k not in PRIVATE}
        if before is None:
            await request.state.outbox.record(session, created_type, obj.id, state)
        else:
            changed = [k for k in state if k != "version" and state[k] != before.get(k)]
            await request.state.outbox.record(session, updated_type, obj.id,
                                              {**state, "changed_fields": changed})

    async def load(session, obj_id: str):
        obj = await session.get(model, obj_id)
        if obj is None:
            raise access.hide(kind, obj_id)
        return obj

    async def check_refs(session, data: dict[str, Any]) -> None:
        for key, ref in REFS.items():
            if data.get(key) and await session.get(ref, data[key]) is None:
                raise Unprocessable(f"no {ref.__tablename__} {data[key]}", errors=[
                    {"field": f"body/{key}", "type": "unknown_id",
                     "message": f"no {ref.__tablename__} {data[key]}"}])

    @router.get("", summary=f"List {prefix.strip('/')}")
    async def list_all(session: SessionDep, limit: Limit = 50, cursor: Cursor = None,
                       include_archived: bool = False) -> ORJSONResponse:
        """In code order, a page at a time."""
        q = select(model)
        if not include_archived:
            q = q.where(model.archived.is_(False))
        total = await session.scalar(select(func.count()).select_from(q.subquery()))
        after = decode_cursor(cursor)
        if after:
            q = q.where(model.code > after[0])
        rows = list((await session.scalars(q.order_by(model.code).limit(limit + 1))).all())
        nxt = encode_cursor([rows[limit - 1].code]) if len(rows) > limit else None
        return ORJSONResponse({"items": [out(r) for r in rows[:limit]], "total": total,
                               "next_cursor": nxt})

    @router.post("", summary=f"Create a {kind}", status_code=201,
                 responses=problem_responses(401, 403, 409, 422))
    async def create(request: Request, session: SessionDep, identity: Authenticated,
                     body: schema) -> ORJSONResponse:  # type: ignore[valid-type]
        """Coordinators and admins only."""
        access.require_national(identity, f"add a {kind}")
        data = body.model_dump(mode="python", exclude_none=True)
        missing = [f for f in ("code", "name") if f not in data]
        if missing:
            raise Unprocessable("required field missing", errors=[
                {"field": f"body/{f}", "type": "missing", "message": "Field required"}
                for f in missing])
        if await session.scalar(select(model.id).where(model.code == data["code"])):
            raise Conflict(f"a {kind} with code {data['code']} exists")
        await check_refs(session, data)
        for key in LISTS:
            if key in columns:
                data.setdefault(key, [])
        obj = model(id=new_id(), version=1, created_by=identity.sub, **data)
        session.add(obj)
        await session.flush()
        await audit.record(session, entity_type=kind, entity_id=obj.id, action="create",
                           version=1, actor=identity.sub, before=None, after=out(obj),
                           feed_state=out(obj), published=True)
        await emit(request, session, obj, None)
        return ORJSONResponse(out(obj), status_code=201, headers={"ETag": etag(obj)})

    @router.get("/{obj_id}", summary=f"Read a {kind}", responses=problem_responses(404))
    async def read(obj_id: IdPath, session: SessionDep,
                   if_none_match: IfNoneMatch = None) -> Response:
        """With its ETag; If-None-Match gives 304 when unchanged."""
        obj = await load(session, obj_id)
        if etag_matches(if_none_match, etag(obj)):
            return Response(status_code=304, headers={"ETag": etag(obj)})
        return ORJSONResponse(out(obj), headers={"ETag": etag(obj)})

    @router.patch("/{obj_id}", summary=f"Change a {kind}",
                  responses=problem_responses(401, 403, 404, 412, 422))
    async def patch(obj_id: IdPath, request: Request, session: SessionDep, identity: Authenticated,
                    body: schema,  # type: ignore[valid-type]
                    if_match: IfMatch = None) -> ORJSONResponse:
        """Coordinators and admins only; If-Match guards against lost updates."""
        access.require_national(identity, f"change a {kind}")
        obj = await load(session, obj_id)
        if if_match is not None and not etag_matches(if_match, etag(obj)):
            raise PreconditionFailed(f"the {kind} has changed since you read it")
        data = body.model_dump(mode="python", exclude_unset=True)
        await check_refs(session, data)
        before = out(obj)
        for k, v in data.items():
            if v is None and k in ("code", "name"):
                continue
            setattr(obj, k, v if v is not None or k not in LISTS else [])
        for a, b in (("period_start", "period_end"), ("open_date", "close_date")):
            x, y = getattr(obj, a, None), getattr(obj, b, None)
            if x and y and y < x:
                raise Unprocessable(f"{b} is before {a}", errors=[
                    {"field": f"body/{b}", "type": "date_order", "message": f"{b} is before {a}"}])
        after = out(obj)
        if {k: v for k, v in after.items() if k != "updated_at"} != \
                {k: v for k, v in before.items() if k != "updated_at"}:
            obj.version += 1
            obj.updated_at = utcnow()
            await session.flush()
            after = out(obj)
            await audit.record(session, entity_type=kind, entity_id=obj.id, action="update",
                               version=obj.version, actor=identity.sub, before=before, after=after,
                               feed_state=after, published=True)
            await emit(request, session, obj, before)
        return ORJSONResponse(after, headers={"ETag": etag(obj)})

    @router.post("/{obj_id}/archive", summary=f"Archive a {kind}",
                 responses=problem_responses(401, 403, 404))
    async def archive(obj_id: IdPath, request: Request, session: SessionDep,
                      identity: Authenticated) -> ORJSONResponse:
        """Hidden from lists, history kept."""
        access.require_national(identity, f"archive a {kind}")
        obj = await load(session, obj_id)
        if not obj.archived:
            before = out(obj)
            obj.archived = True
            obj.version += 1
            obj.updated_at = utcnow()
            await session.flush()
            await audit.record(session, entity_type=kind, entity_id=obj.id, action="archive",
                               version=obj.version, actor=identity.sub, before={"archived": False},
                               after={"archived": True}, feed_state=out(obj), published=True)
            await emit(request, session, obj, before)
        return ORJSONResponse(out(obj), headers={"ETag": etag(obj)})

    return router


programmes_router = make_router("programme", Programme, ProgrammeIn, "/programmes")
themes_router = make_router("theme", Theme, ThemeIn, "/themes")
calls_router = make_router("call", Call, CallIn, "/calls")

__all__ = ["CurrentIdentity", "Literal", "Request", "calls_router", "programmes_router",
           "themes_router"]
