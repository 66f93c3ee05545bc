"""Social media: accounts, per-platform rules (data), scheduled posts handed to a publishing tool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from comms.common import local
from comms.models import SocialPost
from comms.social import service as social_service
from comms.social.schemas import AccountIn, AccountRead, PlatformRuleIn, PlatformRuleRead, PostIn, PostRead
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import require_roles
from shared.pagination import Cursor, Limit, Page, page_of

router = APIRouter(prefix="/social", tags=["social"])
STAFF = [require_roles("admin", "coordinator")]


@router.get("/rules", summary="Platform rules", response_model=Page[PlatformRuleRead],
            responses=problem_responses(422))
async def rules(session: SessionDep, limit: Limit = 50, cursor: Cursor = None) -> Page[PlatformRuleRead]:
    """Length and link rules per platform (one per platform, by name)."""
    rows = await social_service.rules(session)
    page, nxt = page_of(rows, limit, cursor)
    return Page[PlatformRuleRead](items=[PlatformRuleRead.model_validate(r) for r in page],
                                  total=len(rows), next_cursor=nxt)


@router.put("/rules/{platform}", summary="Set a platform's rules",
            response_model=PlatformRuleRead,
            dependencies=STAFF, responses=problem_responses(401, 403, 422))
async def set_rule(platform: Annotated[str, Path(max_length=30, pattern=r"^[a-z0-9_-]+$")],
                   body: PlatformRuleIn,
                   session: SessionDep) -> PlatformRuleRead:
    """Platforms change their limits: so do we, without a release."""
    return PlatformRuleRead.model_validate(await social_service.set_rule(session, platform, body))


@router.post("/accounts", summary="Add a social media account", status_code=201,
             response_model=AccountRead, dependencies=STAFF, responses=problem_responses(401, 403, 409, 422))
async def add_account(body: AccountIn, session: SessionDep,
                      identity=require_roles("admin", "coordinator")) -> AccountRead:
    """An account on a platform, published through the organisation's tool's webhook."""
    acc = await social_service.add_account(session, identity, body)
    return AccountRead.model_validate(acc)


@router.post("/posts", summary="Schedule a post", status_code=status.HTTP_201_CREATED,
             response_model=PostRead, dependencies=STAFF, responses=problem_responses(401, 403, 404, 422))
async def schedule_post(body: PostIn, session: SessionDep,
                        identity=require_roles("admin", "coordinator")) -> PostRead:
    """Checked against the platform's rules, handed to the publishing tool at its time."""
    post = await social_service.schedule_post(session, identity, body)
    return _out(post)


@router.get("/posts", summary="List posts", response_model=Page[PostRead], dependencies=STAFF,
            responses=problem_responses(401, 403, 422))
async def list_posts(session: SessionDep,
                     account_id: Annotated[str | None, Query(max_length=36)] = None,
                     limit: Limit = 50, cursor: Cursor = None) -> Page[PostRead]:
    """Scheduled and handed-over posts, by their time."""
    rows, total, nxt = await social_service.posts(session, account_id, limit, cursor)
    return Page[PostRead](items=[_out(p) for p in rows], total=total, next_cursor=nxt)


def _out(p: SocialPost) -> PostRead:
    r = PostRead.model_validate(p)
    r.scheduled_at_local = local(p.scheduled_at)
    return r
