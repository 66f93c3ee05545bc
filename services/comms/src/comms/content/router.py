"""Content endpoints: items, their workflow, and the rules that draft items from events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from comms.common import local
from comms.content import rules as draft_rules
from comms.content import service
from comms.content.schemas import (
    ItemCreate,
    ItemPage,
    ItemRead,
    ItemUpdate,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    Transition,
    TransitionRead,
)
from shared import limits
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated, CurrentIdentity, require_roles
from shared.limits import IdPath
from shared.pagination import Cursor, Limit, Page, page_of
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/content", tags=["content"])


def out(item) -> ItemRead:
    r = ItemRead.model_validate(item)
    r.scheduled_at_local = local(item.scheduled_at)
    r.published_at_local = local(item.published_at)
    return r


@router.get("", summary="List content items", response_model=ItemPage)
async def list_items(
    session: SessionDep, identity: CurrentIdentity,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=36)] = None,
    status_: Annotated[str | None, Query(alias="status", max_length=limits.CODE,
                                         pattern="^(draft|in_review|scheduled|published|archived)$")] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    language: Annotated[str | None, Query(max_length=limits.CODE, pattern="^(fi|sv|en)$")] = None,
    project_id: Annotated[str | None, Query(max_length=36)] = None,
) -> ItemPage:
    """Published items for everyone; drafts too for coordinators and the owning implementer."""
    rows, nxt = await service.list_items(session, identity, limit=limit, cursor=cursor,
                                         status=status_, kind=kind, language=language,
                                         project_id=project_id)
    return ItemPage(items=[out(r) for r in rows], next_cursor=nxt)


@router.post("", summary="Draft a content item", status_code=status.HTTP_201_CREATED,
             response_model=ItemRead, responses=problem_responses(401, 403, 422))
async def create_item(session: SessionDep, identity: Authenticated, body: ItemCreate) -> ItemRead:
    """Coordinators draft anything; implementers draft about their own projects."""
    return out(await service.create(session, identity, body))


@router.get("/rules", summary="Automatic draft rules", response_model=Page[RuleRead],
            dependencies=[require_roles("admin", "coordinator")],
            responses=problem_responses(401, 403, 422))
async def list_rules(session: SessionDep, limit: Limit = 50, cursor: Cursor = None) -> Page[RuleRead]:
    """Which incoming events become draft items, with what title and text (a short list, by
    event type)."""
    rows = await draft_rules.all_rules(session)
    page, nxt = page_of(rows, limit, cursor)
    return Page[RuleRead](items=[RuleRead.model_validate(r) for r in page], total=len(rows),
                          next_cursor=nxt)


@router.post("/rules", summary="Add a draft rule", response_model=RuleRead, status_code=201,
             responses=problem_responses(401, 403, 422))
async def create_rule(session: SessionDep, body: RuleCreate,
                      identity=require_roles("admin", "coordinator")) -> RuleRead:
    """Templates may use {name}, {code}, {period}, {indicator_code}, {value}, {label} ..."""
    rule = await draft_rules.create(session, identity, body)
    return RuleRead.model_validate(rule)


@router.patch("/rules/{rule_id}", summary="Change a draft rule", response_model=RuleRead,
              responses=problem_responses(401, 403, 404, 422))
async def update_rule(rule_id: IdPath, session: SessionDep, body: RuleUpdate,
                      identity=require_roles("admin", "coordinator")) -> RuleRead:
    """Switch a rule off, or change its conditions or templates."""
    rule = await draft_rules.change(session, identity, rule_id, body)
    return RuleRead.model_validate(rule)


@router.get("/{item_id}", summary="Read a content item", response_model=ItemRead,
            responses=problem_responses(404))
async def read_item(item_id: IdPath, session: SessionDep, identity: CurrentIdentity) -> ItemRead:
    """One item (drafts only for those who may see them)."""
    return out(await service.get(session, item_id, identity))


@router.patch("/{item_id}", summary="Edit a draft", response_model=ItemRead,
              responses=problem_responses(401, 403, 404, 422))
async def update_item(item_id: IdPath, session: SessionDep, identity: Authenticated,
                      body: ItemUpdate) -> ItemRead:
    """Change a draft or an item in review."""
    item = await service.get(session, item_id, identity)
    return out(await service.change(session, identity, item, body))


@router.post("/{item_id}/transitions", summary="Move an item in its workflow",
             response_model=ItemRead, responses=problem_responses(401, 403, 404, 422))
async def transition(item_id: IdPath, request: Request, uow: UnitOfWorkDep, identity: Authenticated,
                     body: Transition) -> ItemRead:
    """Submit for review, schedule, publish (emits `content.published`), archive or return."""
    item = await service.get(uow.session, item_id, identity)
    settings = request.state.settings
    item = await service.transition(uow, identity, item, body, settings.public_base_url,
                                    settings.ministry_addresses)
    return out(item)


@router.get("/{item_id}/history", summary="Who did what to an item",
            response_model=Page[TransitionRead], responses=problem_responses(401, 404, 422))
async def item_history(item_id: IdPath, session: SessionDep, identity: Authenticated,
                       limit: Limit = 50, cursor: Cursor = None) -> Page[TransitionRead]:
    """Every workflow step, oldest first (an item has a handful)."""
    await service.get(session, item_id, identity)
    rows = await service.history(session, item_id)
    page, nxt = page_of(rows, limit, cursor)
    return Page[TransitionRead](items=[TransitionRead.model_validate(t) for t in page],
                                total=len(rows), next_cursor=nxt)
