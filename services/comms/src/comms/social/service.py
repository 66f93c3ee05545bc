"""Social media rules: platform limits as data, accounts bound to a publishing tool's webhook,
posts checked against their platform and handed over at their time."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms.delivery import queue
from comms.models import PlatformRule, SocialAccount, SocialPost, WebhookSubscription
from comms.social.schemas import AccountIn, PlatformRuleIn, PostIn
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.identity import Identity
from shared.pagination import count, paginate

URL = re.compile(r"https?://\S+")


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


async def rules(session: AsyncSession) -> list[PlatformRule]:
    return list((await session.scalars(select(PlatformRule).order_by(PlatformRule.platform))).all())


async def set_rule(session: AsyncSession, platform: str, body: PlatformRuleIn) -> PlatformRule:
    rule = await session.get(PlatformRule, platform) or PlatformRule(platform=platform)
    for k, v in body.model_dump().items():
        setattr(rule, k, v)
    session.add(rule)
    await session.flush()
    return rule


async def add_account(session: AsyncSession, identity: Identity, body: AccountIn) -> SocialAccount:
    """An account on a platform with rules, published through a webhook of purpose social."""
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
    return acc


async def schedule_post(session: AsyncSession, identity: Identity, body: PostIn) -> SocialPost:
    """Checked against the platform's rules; a time in the past is refused."""
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
    return post


async def posts(session: AsyncSession, account_id: str | None, limit: int,
                cursor: str | None) -> tuple[list[SocialPost], int, str | None]:
    """Posts by their time, a page at a time."""
    q = select(SocialPost)
    if account_id:
        q = q.where(SocialPost.account_id == account_id)
    rows, nxt = await paginate(session, q, [SocialPost.scheduled_at, SocialPost.id], cursor, limit)
    return rows, await count(session, q), nxt


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
