"""Webhook subscriptions for regional systems and publishing tools, and the delivery log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import func, select

from comms.common import check_regions, token
from comms.delivery.ssrf import UnsafeTarget, check_target
from comms.events.handlers import CONSUMED
from comms.models import Delivery, WebhookSubscription
from shared import limits
from shared.contracts import comms as comms_contracts
from shared.db import SessionDep
from shared.errors import NotFound, Unprocessable, problem_responses
from shared.identity import require_roles
from shared.limits import CodeStr, IdPath
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


async def validate_target(request: Request, url: str) -> None:
    try:
        await check_target(url, request.state.settings.webhook_allow_networks)
    except UnsafeTarget as exc:
        raise Unprocessable(str(exc), errors=[{"field": "body/url", "type": "unsafe_target",
                                               "message": str(exc)}]) from None


@router.get("/webhooks/event-types", summary="Event types a webhook can subscribe to")
async def event_types() -> list[str]:
    """Registry, indicators and comms events."""
    return EVENT_TYPES


@router.post("/webhooks", summary="Add a webhook subscription", status_code=status.HTTP_201_CREATED,
             response_model=WebhookRead, responses=problem_responses(401, 403, 422))
async def create_webhook(request: Request, session: SessionDep, body: WebhookIn,
                         identity=require_roles("admin", "coordinator")) -> WebhookRead:
    """Signed (HMAC-SHA256) deliveries of the chosen events; the secret is returned once."""
    await validate_target(request, body.url)
    secret = body.secret or token()
    hook = WebhookSubscription(**body.model_dump(exclude={"secret"}), secret=secret,
                               organisation_id=identity.org, created_by=identity.sub)
    session.add(hook)
    await session.flush()
    out = WebhookRead.model_validate(hook)
    out.secret = secret
    return out


@router.get("/webhooks", summary="List webhook subscriptions", response_model=list[WebhookRead],
            dependencies=STAFF, responses=problem_responses(401, 403))
async def list_webhooks(session: SessionDep) -> list[WebhookRead]:
    """Without secrets."""
    rows = (await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at))).all()
    return [WebhookRead.model_validate(r) for r in rows]


@router.delete("/webhooks/{webhook_id}", summary="Stop a webhook subscription", status_code=204,
               dependencies=STAFF, responses=problem_responses(401, 403, 404))
async def deactivate(webhook_id: IdPath, session: SessionDep) -> None:
    """Nothing new is queued for it; its log is kept."""
    hook = await session.get(WebhookSubscription, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    hook.active = False


@router.get("/deliveries", summary="The delivery log", response_model=list[DeliveryRead],
            dependencies=STAFF, responses=problem_responses(401, 403))
async def deliveries(
    session: SessionDep,
    item_id: Annotated[str | None, Query(max_length=36)] = None,
    webhook_id: Annotated[str | None, Query(max_length=36)] = None,
    channel: Annotated[str | None, Query(max_length=limits.CODE, pattern="^(email|webhook|social)$")] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=limits.CODE,
                                         pattern="^(queued|sending|sent|retrying|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeliveryRead]:
    """Per item × channel × recipient: status, attempts and the last error."""
    q = select(Delivery)
    for col, val in ((Delivery.item_id, item_id), (Delivery.webhook_id, webhook_id),
                     (Delivery.channel, channel), (Delivery.status, status_)):
        if val:
            q = q.where(col == val)
    rows = (await session.scalars(q.order_by(Delivery.seq).limit(limit))).all()
    return [DeliveryRead.model_validate(r) for r in rows]


@router.get("/deliveries/summary", summary="Delivery counts", dependencies=STAFF,
            responses=problem_responses(401, 403))
async def summary(session: SessionDep, item_id: Annotated[str | None, Query(max_length=36)] = None):
    """Counts by channel and status."""
    q = select(Delivery.channel, Delivery.status, func.count()).group_by(Delivery.channel, Delivery.status)
    if item_id:
        q = q.where(Delivery.item_id == item_id)
    out: dict[str, dict[str, int]] = {}
    for ch, st, n in (await session.execute(q)).all():
        out.setdefault(ch, {})[st] = n
    return out
