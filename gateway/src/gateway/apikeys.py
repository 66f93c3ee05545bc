"""Admin endpoints for API keys: create (shown once), list, revoke."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from gateway.auth import hash_key, new_api_key
from gateway.models import ApiKey
from shared.db import SessionDep, utcnow
from shared.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from shared.identity import ROLES, Identity
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page, count, paginate
from shared.types import IsoDateTime, StrictInput

Scope = Literal["registry:read", "registry:write", "indicators:read", "indicators:write",
                "comms:read", "comms:write", "admin", "metrics"]
Role = Literal["admin", "coordinator", "ministry", "funder", "implementer", "viewer"]
SCOPES = set(Scope.__args__)


async def gateway_identity(request: Request) -> Identity:
    auth = request.app.state.forwarder.auth
    identity = await auth.identify(request.headers.get("authorization"),
                                   request.headers.get("x-api-key"))
    if identity.is_anonymous:
        raise Unauthorized("this operation needs a signed-in user or an API key")
    return identity


async def admin_identity(identity: Annotated[Identity, Depends(gateway_identity)]) -> Identity:
    if "admin" not in identity.roles or (identity.kind == "apikey" and "admin" not in identity.scopes):
        raise Forbidden("only admins manage API keys")
    return identity


AdminDep = Annotated[Identity, Depends(admin_identity)]


class ApiKeyCreate(StrictInput):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    organisation_id: str | None = Field(None, max_length=36)
    roles: list[Role] = Field(default_factory=list, max_length=5)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expires_at: IsoDateTime | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - set(ROLES))
        if bad:
            raise ValueError(f"unknown role(s) {bad}; known: {list(ROLES)}")
        return sorted(set(v))

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - SCOPES)
        if bad:
            raise ValueError(f"unknown scope(s) {bad}; known: {sorted(SCOPES)}")
        return sorted(set(v))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None:
            if v.tzinfo is None:
                raise ValueError("give a time zone (e.g. 2027-01-01T00:00:00Z)")
            if v <= utcnow():
                raise ValueError("expires_at is in the past")
        return v


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    prefix: str
    name: str
    organisation_id: str | None
    roles: list[str]
    scopes: list[str]
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown this once; store it now.")


router = APIRouter(prefix="/api/v1/admin/api-keys", tags=["admin"],
                   responses=problem_responses(401, 403))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated,
             summary="Create an API key", responses=problem_responses(422))
async def create_api_key(body: ApiKeyCreate, session: SessionDep, admin: AdminDep,
                         request: Request) -> ApiKeyCreated:
    """Create a key for a regional system; the key is returned once and stored only hashed."""
    if "admin" in body.scopes and "admin" not in body.roles:
        raise Unprocessable("the admin scope needs the admin role",
                            errors=[{"field": "body/scopes", "type": "value_error",
                                     "message": "admin scope without admin role"}])
    key, prefix = new_api_key()
    pepper = request.app.state.settings.api_key_pepper
    row = ApiKey(prefix=prefix, key_hash=hash_key(pepper, key), name=body.name,
                 organisation_id=body.organisation_id, roles=body.roles, scopes=body.scopes,
                 expires_at=body.expires_at, created_by=admin.sub)
    session.add(row)
    await session.flush()
    return ApiKeyCreated(key=key, **ApiKeyRead.model_validate(row).model_dump())


@router.get("", response_model=Page[ApiKeyRead], summary="List API keys",
            responses=problem_responses(422))
async def list_api_keys(session: SessionDep, _admin: AdminDep, limit: Limit = 50,
                        cursor: Cursor = None) -> Page[ApiKeyRead]:
    """Every key with its scopes and state, oldest first; never the key itself."""
    q = select(ApiKey)
    rows, nxt = await paginate(session, q, [ApiKey.created_at, ApiKey.id], cursor, limit)
    return Page[ApiKeyRead](items=[ApiKeyRead.model_validate(r) for r in rows],
                            total=await count(session, q), next_cursor=nxt)


@router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke an API key",
               responses=problem_responses(404))
async def revoke_api_key(key_id: IdPath, session: SessionDep, _admin: AdminDep,
                         request: Request) -> ApiKeyRead:
    """Revoke a key; it stops working at once on this gateway."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    request.app.state.forwarder.auth.forget_api_keys()
    return ApiKeyRead.model_validate(row)
