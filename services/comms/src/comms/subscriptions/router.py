"""Subscription endpoints: public subscribe / confirm / unsubscribe; erasure and counts for staff."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from comms.common import check_regions, strip_tags
from comms.subscriptions import service
from shared.db import SessionDep
from shared.errors import problem_response, problem_responses
from shared.identity import require_roles
from shared.limits import CodeStr
from shared.types import StrictInput

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])
EMAIL = r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$"


class SubscribeIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320, pattern=EMAIL)
    language: Literal["fi", "sv", "en"] = "fi"
    themes: list[CodeStr] = Field(default_factory=list, max_length=20)
    regions: list[CodeStr] = Field(default_factory=list, max_length=21)
    target_groups: list[CodeStr] = Field(default_factory=list, max_length=20)
    consent: Literal[True] = Field(description="The person agrees to receive mail (consent time is kept).")

    @field_validator("themes", "target_groups")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return strip_tags(v)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return check_regions(v) or []


class EraseIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


class Subscribing(BaseModel):
    status: Literal["confirmation_sent"]
    detail: str


class Confirmed(BaseModel):
    status: Literal["confirmed"]
    consent_at: dt.datetime | None = Field(description="When the person confirmed (their consent).")


class Unsubscribed(BaseModel):
    status: Literal["unsubscribed"]


class Removed(BaseModel):
    """What was removed or anonymised; only these counts are kept."""

    subscribers: int
    confirmed_subscribers: int
    registrations: int
    deliveries: int


class Erased(BaseModel):
    status: Literal["erased"]
    removed: Removed


class SubscriberStats(BaseModel):
    by_status: dict[str, int] = Field(description="Subscribers by status (pending, confirmed, ...).")
    erased: int = Field(description="Subscribers erased on request, in total.")


def _client(request: Request) -> str:
    # The gateway appends the address it saw last; earlier values come from the client.
    values = request.headers.getlist("x-forwarded-for")
    last = values[-1].split(",")[-1].strip() if values else ""
    return last or (request.client.host if request.client else "?")


@router.post("", summary="Subscribe (double opt-in)", status_code=status.HTTP_202_ACCEPTED,
             response_model=Subscribing, responses=problem_responses(422, 429))
async def subscribe(request: Request, session: SessionDep, body: SubscribeIn):
    """Mails a confirmation link; nothing is sent until it is opened."""
    try:
        await service.subscribe(session, request.state.settings, body.email, body.language,
                                body.themes, body.regions, body.target_groups, _client(request))
    except service.TooMany:
        await session.rollback()
        return problem_response(429, detail="too many confirmation mails; try again later",
                                headers={"Retry-After": "3600"})
    return {"status": "confirmation_sent",
            "detail": "Open the link in the mail we sent to confirm the subscription."}


Token = Annotated[str, Query(min_length=10, max_length=100)]


@router.post("/confirm", summary="Confirm a subscription", response_model=Confirmed,
             responses=problem_responses(404, 422))
async def confirm(session: SessionDep, token: Token) -> Confirmed:
    """The link in the confirmation mail; records the consent time."""
    sub = await service.confirm(session, token)
    return Confirmed(status="confirmed", consent_at=sub.consent_at)


@router.get("/confirm", summary="Confirm a subscription (from the mail's link)",
            response_model=Confirmed, responses=problem_responses(404, 422))
async def confirm_link(session: SessionDep, token: Token) -> Confirmed:
    """Same as POST, for mail clients that open the link."""
    return await confirm(session, token)


@router.post("/unsubscribe", summary="Unsubscribe (one click)", response_model=Unsubscribed,
             responses=problem_responses(404, 422))
async def unsubscribe(session: SessionDep, token: Token) -> Unsubscribed:
    """RFC 8058 one-click target (List-Unsubscribe-Post)."""
    await service.unsubscribe(session, token)
    return Unsubscribed(status="unsubscribed")


@router.get("/unsubscribe", summary="Unsubscribe (from the mail's link)",
            response_model=Unsubscribed, responses=problem_responses(404, 422))
async def unsubscribe_link(session: SessionDep, token: Token) -> Unsubscribed:
    """Same as POST, for the link in the mail's footer."""
    return await unsubscribe(session, token)


@router.post("/erasure", summary="Erase a person's data", response_model=Erased,
             responses=problem_responses(401, 403, 422),
             dependencies=[require_roles("admin", "coordinator")])
async def erase(session: SessionDep, body: EraseIn) -> Erased:
    """On the person's request: removes their address everywhere in comms; counts stay."""
    return Erased(status="erased", removed=Removed(**await service.erase(session, body.email)))


@router.get("/stats", summary="Subscriber counts", response_model=SubscriberStats,
            responses=problem_responses(401, 403), dependencies=[require_roles("admin", "coordinator")])
async def stats(session: SessionDep) -> SubscriberStats:
    """Counts only (subscribers are personal data and are never listed publicly)."""
    return SubscriberStats(**await service.stats(session))
