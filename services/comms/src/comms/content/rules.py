"""Automatic draft rules: which incoming events become draft items, with what title and text."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.content.schemas import RuleCreate, RuleUpdate
from comms.models import DraftRule
from shared.db import utcnow
from shared.errors import NotFound
from shared.identity import Identity


async def all_rules(session: AsyncSession) -> list[DraftRule]:
    return list((await session.scalars(select(DraftRule).order_by(DraftRule.event_type))).all())


async def create(session: AsyncSession, identity: Identity, body: RuleCreate) -> DraftRule:
    rule = DraftRule(**body.model_dump(exclude={"title_template", "body_template"}),
                     title_template=body.title_template.model_dump(exclude_none=True),
                     body_template=body.body_template.model_dump(exclude_none=True),
                     updated_by=identity.sub)
    session.add(rule)
    await session.flush()
    return rule


async def change(session: AsyncSession, identity: Identity, rule_id: str, body: RuleUpdate) -> DraftRule:
    """Switch a rule off, or change its conditions or templates (a new version)."""
    rule = await session.get(DraftRule, rule_id)
    if rule is None:
        raise NotFound(f"no rule {rule_id}")
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(rule, key, value)
    rule.version += 1
    rule.updated_by = identity.sub
    rule.updated_at = utcnow()
    await session.flush()
    return rule
