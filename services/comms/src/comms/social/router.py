"""Social media: accounts, per-platform rules (data), scheduled posts handed to a publishing tool."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms.common import aware, local
from comms.delivery import queue
from comms.models import PlatformRule, SocialAccount, SocialPost, WebhookSubscription
from shared import limits
from shared.db import SessionDep, utcnow
from shared.errors import Conflict, NotFound, Unprocessable, problem_responses
from shared.identity import require_roles
from shared.types import IsoDateTime, StrictInput

router = APIRouter(prefix="/social", tags=["social"])
STAFF = [require_roles("admin", "coordinator")]
URL = re.compile(r"https?://\S+")


class AccountIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    platform: str = Field(min_length=1, max_length=30)
    handle: str = Field(min_length=1, max_length=200)
    webhook_id: str = Field(max_length=36, description="The publishing tool's webhook (purpose social).")


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    platform: str
    handle: str
    webhook_id: str


class PlatformRuleIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    max_length: int = Field(ge=1, le=100_000)
    link_length: int | None = Field(None, ge=1, le=1000)
    max_links: int = Field(1, ge=0, le=20)
    links_allowed: bool = True


class PlatformRuleRead(PlatformRuleIn):
    model_config = ConfigDict(from_attributes=True)
    platform: str


class PostIn(StrictInput):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(max_length=36)
    text: str = Field(min_length=1, max_length=limits.MARKDOWN)
    link: HttpUrl | None = None
    item_id: str | None = Field(None, max_length=36)
    scheduled_at: IsoDateTime

    _aware = field_validator("scheduled_at")(aware)


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    account_id: str
    text: str
    link: str | None
    item_id: str | None
    scheduled_at: dt.datetime
    scheduled_at_local: str | None = None
    status: str


def check_rules(rule: PlatformRule, text: str, link: str | None) -> list[dict[str, str]]:
    """Length (links counted as the platform counts them) and link rules."""
    links = URL.findall(text) + ([link] if link else [])
    errors = []
    if links and not rule.links_allowed:
        errors.append({"field": "body/link", "type": "links_not_allowed",
                       "message": f"{rule.platform} posts cannot carry links"})
    if len(links) > rule.max_links and rule.links_allowed:
        errors.append({"field": "body/text", "type": "too_many_links",
                       "message": f"at most {rule.max_links} link(s) on {rule.platform}"})
    length = len(URL.sub("", text)) + sum(rule.link_length or len(u) for u in links)
    if link:
        length += 1  # the space before an appended link
    if length > rule.max_length:
        errors.append({"field": "body/text", "type": "too_long",
                       "message": f"{length} characters; {rule.platform} allows {rule.max_length}"})
    return errors


@router.get("/rules", summary="Platform rules", response_model=list[PlatformRuleRead])
async def rules(session: SessionDep) -> list[PlatformRuleRead]:
    """Length and link rules per platform."""
    return [PlatformRuleRead.model_validate(r) for r in (await session.scalars(
        select(PlatformRule).order_by(PlatformRule.platform))).all()]


@router.put("/rules/{platform}", summary="Set a platform's rules",
            response_model=PlatformRuleRead,
            dependencies=STAFF, responses=problem_responses(401, 403, 422))
async def set_rule(platform: Annotated[str, Path(max_length=30, pattern=r"^[a-z0-9_-]+$")],
                   body: PlatformRuleIn,
                   session: SessionDep) -> PlatformRuleRead:
    """Platforms change their limits: so do we, without a release."""
    rule = await session.get(PlatformRule, platform) or PlatformRule(platform=platform)
    for k, v in body.model_dump().items():
        setattr(rule, k, v)
    session.add(rule)
    await session.flush()
    return PlatformRuleRead.model_validate(rule)


@router.post("/accounts", summary="Add a social media account", status_code=201,
             response_model=AccountRead, dependencies=STAFF, responses=problem_responses(401, 403, 409, 422))
async def add_account(body: AccountIn, session: SessionDep,
                      identity=require_roles("admin", "coordinator")) -> AccountRead:
    """An account on a platform, published through the organisation's tool's webhook."""
    if await session.get(PlatformRule, body.platform) is None:
        raise Unprocessable(f"no rules for platform {body.platform}", errors=[
            {"field": "body/platform", "type": "unknown", "message": "set its rules first"}])
    hook = await session.get(WebhookSubscription, body.webhook_id)
    if hook is None or hook.purpose != "social":
        raise Unprocessable("webhook_id must name a webhook with purpose social", errors=[
            {"field": "body/webhook_id", "type": "unknown", "message": "not a social webhook"}])
    acc = SocialAccount(**body.model_dump(), organisation_id=identity.org)
    session.add(acc)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"{body.platform} account {body.handle} exists") from None
    return AccountRead.model_validate(acc)


@router.post("/posts", summary="Schedule a post", status_code=status.HTTP_201_CREATED,
             response_model=PostRead, dependencies=STAFF, responses=problem_responses(401, 403, 404, 422))
async def schedule_post(body: PostIn, session: SessionDep,
                        identity=require_roles("admin", "coordinator")) -> PostRead:
    """Checked against the platform's rules, handed to the publishing tool at its time."""
    acc = await session.get(SocialAccount, body.account_id)
    if acc is None:
        raise NotFound(f"no social account {body.account_id}")
    rule = await session.get(PlatformRule, acc.platform)
    errors = check_rules(rule, body.text, str(body.link) if body.link else None)
    if errors:
        raise Unprocessable(f"the post breaks {acc.platform}'s rules", errors=errors)
    if body.scheduled_at < utcnow() - dt.timedelta(minutes=1):
        raise Unprocessable("scheduled_at is in the past", errors=[
            {"field": "body/scheduled_at", "type": "past", "message": "give a future time"}])
    post = SocialPost(account_id=acc.id, text=body.text, link=str(body.link) if body.link else None,
                      item_id=body.item_id, scheduled_at=body.scheduled_at.astimezone(dt.UTC),
                      created_by=identity.sub)
    session.add(post)
    await session.flush()
    return _out(post)


@router.get("/posts", summary="List posts", response_model=list[PostRead], dependencies=STAFF,
            responses=problem_responses(401, 403))
async def list_posts(session: SessionDep,
                     account_id: Annotated[str | None, Query(max_length=36)] = None) -> list[PostRead]:
    """Scheduled and handed-over posts."""
    q = select(SocialPost).order_by(SocialPost.scheduled_at)
    if account_id:
        q = q.where(SocialPost.account_id == account_id)
    return [_out(p) for p in (await session.scalars(q.limit(1000))).all()]


def _out(p: SocialPost) -> PostRead:
    r = PostRead.model_validate(p)
    r.scheduled_at_local = local(p.scheduled_at)
    return r


async def hand_over_due(session: AsyncSession) -> int:
    """Queue due posts for their publishing tool (compare-and-set: one replica wins each)."""
    due = (await session.scalars(select(SocialPost.id).where(
        SocialPost.status == "scheduled", SocialPost.scheduled_at <= utcnow()).limit(100))).all()
    n = 0
    for post_id in due:
        won = await session.execute(update(SocialPost).where(
            SocialPost.id == post_id, SocialPost.status == "scheduled").values(status="handed_over")
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:
            continue
        post = await session.get(SocialPost, post_id, populate_existing=True)
        acc = await session.get(SocialAccount, post.account_id)
        hook = await session.get(WebhookSubscription, acc.webhook_id)
        await queue.social(session, hook, post.id, {"post": {
            "id": post.id, "platform": acc.platform, "account": acc.handle, "text": post.text,
            "link": post.link, "item_id": post.item_id, "scheduled_at": post.scheduled_at.isoformat()}})
        n += 1
    return n
