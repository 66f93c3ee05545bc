"""Webhook subscriptions for regional systems and publishing tools, and the delivery log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from comms.common import check_regions
from comms.events.handlers import CONSUMED
from comms.webhooks import service as webhook_service
from shared import limits
from shared.contracts import comms as comms_contracts
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import require_roles
from shared.limits import CodeStr, IdPath
from shared.pagination import MAX_PAGE, Cursor, Limit, Page, page_of
from shared.types import StrictInput

router = APIRouter(tags=["webhooks"])
STAFF = [require_roles("admin", "coordinator")]
EVENT_TYPES = sorted({*CONSUMED, *comms_contracts.EVENTS})


class WebhookIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=8, max_length=1000)
    event_types: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=50)
    regions: list[CodeStr] = Field(default_factory=list, max_length=21)
    purpose: Literal["events", "social"] = "events"
    secret: str | None = Field(None, min_length=16, max_length=128)

    @field_validator("event_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type(s) {unknown}")
        return sorted(set(v))

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return check_regions(v) or []


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    url: str
    event_types: list[str]
    regions: list[str]
    purpose: str
    active: bool
    created_at: dt.datetime
    secret: str | None = Field(None, description="Shown once, when created.")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    channel: str
    purpose: str
    item_id: str | None
    webhook_id: str | None
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


@router.get("/webhooks/event-types", summary="Event types a webhook can subscribe to",
            response_model=Page[str], responses=problem_responses(422))
async def event_types(limit: Limit = MAX_PAGE, cursor: Cursor = None) -> Page[str]:
    """Registry, indicators and comms events, by name."""
    page, nxt = page_of(EVENT_TYPES, limit, cursor)
    return Page[str](items=page, total=len(EVENT_TYPES), next_cursor=nxt)


@router.post("/webhooks", summary="Add a webhook subscription", status_code=status.HTTP_201_CREATED,
             response_model=WebhookRead, responses=problem_responses(401, 403, 422))
async def create_webhook(request: Request, session: SessionDep, body: WebhookIn,
                         identity=require_roles("admin", "coordinator")) -> WebhookRead:
    """Signed (HMAC-SHA256) deliveries of the chosen events; the secret is returned once."""
    await webhook_service.validate_target(body.url, request.state.settings.webhook_allow_networks)
    hook, secret = await webhook_service.create(session, identity, body.model_dump(exclude={"secret"}),
                                                body.secret)
    out = WebhookRead.model_validate(hook)
    out.secret = secret
    return out


@router.get("/webhooks", summary="List webhook subscriptions", response_model=Page[WebhookRead],
            dependencies=STAFF, responses=problem_responses(401, 403, 422))
async def list_webhooks(session: SessionDep, limit: Limit = 50,
                        cursor: Cursor = None) -> Page[WebhookRead]:
    """Without secrets; oldest first."""
    rows, total, nxt = await webhook_service.hooks_page(session, limit, cursor)
    return Page[WebhookRead](items=[WebhookRead.model_validate(r) for r in rows], total=total,
                             next_cursor=nxt)


@router.delete("/webhooks/{webhook_id}", summary="Stop a webhook subscription", status_code=204,
               dependencies=STAFF, responses=problem_responses(401, 403, 404))
async def deactivate(webhook_id: IdPath, session: SessionDep) -> None:
    """Nothing new is queued for it; its log is kept."""
    await webhook_service.deactivate(session, webhook_id)


@router.get("/deliveries", summary="The delivery log", response_model=Page[DeliveryRead],
            dependencies=STAFF, responses=problem_responses(401, 403, 422))
async def deliveries(
    session: SessionDep,
    item_id: Annotated[str | None, Query(max_length=36)] = None,
    webhook_id: Annotated[str | None, Query(max_length=36)] = None,
    channel: Annotated[str | None, Query(max_length=limits.CODE, pattern="^(email|webhook|social)$")] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=limits.CODE,
                                         pattern="^(queued|sending|sent|retrying|failed)$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryRead]:
    """Per item × channel × recipient: status, attempts and the last error, in delivery order."""
    rows, total, nxt = await webhook_service.deliveries(session, {
        "item_id": item_id, "webhook_id": webhook_id, "channel": channel, "status": status_},
        limit, cursor)
    return Page[DeliveryRead](items=[DeliveryRead.model_validate(r) for r in rows], total=total,
                              next_cursor=nxt)


@router.get("/deliveries/summary", summary="Delivery counts", dependencies=STAFF,
            response_model=dict[str, dict[str, int]], responses=problem_responses(401, 403, 422))
async def summary(session: SessionDep,
                  item_id: Annotated[str | None, Query(max_length=36)] = None) -> dict[str, dict[str, int]]:
    """Counts by channel, then by status: `{"email": {"sent": 3, "failed": 1}, ...}`."""
    return await webhook_service.summary(session, item_id)
