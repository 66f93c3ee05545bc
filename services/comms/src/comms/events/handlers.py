"""Events comms consumes: the project projection, automatic drafts, and webhook fan-out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.content import service as content
from comms.content.schemas import ItemCreate
from comms.delivery import queue
from comms.models import ContentItem, DraftRule, project_projection
from shared.contracts import indicators as ind
from shared.contracts import registry as reg
from shared.events.consumer import HandlerRegistry
from shared.identity import Identity
from shared.projections import register_project_handlers

handlers = HandlerRegistry()
register_project_handlers(handlers, project_projection)

# Everything a regional system may subscribe to (and the rules may draft from).
CONSUMED = [*reg.EVENTS, *ind.EVENTS]
SYSTEM = Identity(sub="system:comms", kind="apikey", roles=("coordinator",))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


async def _project(session: AsyncSession, project_id: str | None) -> dict[str, Any] | None:
    if not project_id:
        return None
    t = project_projection
    row = (await session.execute(select(t).where(t.c.id == project_id))).mappings().first()
    return dict(row) if row else None


async def _context(session: AsyncSession, data: dict[str, Any]) -> dict[str, Any]:
    project_id = data.get("project_id") or (data.get("id") if "to_status" in data or "code" in data else None)
    project = await _project(session, project_id)
    ctx: dict[str, Any] = {k: v for k, v in data.items() if isinstance(v, str | int | float | bool)}
    ctx["project_ids"] = [project["id"]] if project else list(data.get("project_ids") or [])
    ctx["project_code"] = project["code"] if project else data.get("code", "")
    ctx["project_name"] = project["name"] if project else {}
    ctx["regions"] = list(project["region_codes"]) if project else (
        data.get("region_codes") or ([data["region_code"]] if data.get("region_code") else []))
    ctx["organisation_id"] = project["organisation_id"] if project else None
    return ctx


def _fill(template: dict[str, str], ctx: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    out = {}
    for lang, text in template.items():
        values = _Blank(ctx)
        values["name"] = names.get(lang) or names.get("fi") or ctx.get("project_code", "")
        out[lang] = text.format_map(values)
    return out


def _matches(rule: DraftRule, data: dict[str, Any]) -> bool:
    return all(str(data.get(k)).lower() == str(v).lower() for k, v in rule.conditions.items())


async def draft_from_rules(session: AsyncSession, env: dict[str, Any], ctx: dict[str, Any]) -> None:
    data = env["data"]
    rules = (await session.scalars(select(DraftRule).where(
        DraftRule.event_type == env["type"], DraftRule.enabled.is_(True)))).all()
    named = data.get("name") or data.get("title")  # a service need has a title
    names = named if isinstance(named, dict) else (ctx["project_name"] or {})
    for rule in rules:
        if not _matches(rule, data):
            continue
        source = f"{env['id']}:{rule.id}"
        if await session.scalar(select(ContentItem.id).where(ContentItem.source_event_id == source)):
            continue
        is_practice = env["type"].startswith("fi.teke.registry.practice.")
        practice = data["id"] if is_practice else data.get("practice_id")
        practice_ids = [practice] if practice else []
        codes = list(data.get("indicator_codes") or [])
        if data.get("indicator_code"):
            codes.append(data["indicator_code"])
        item = ItemCreate(
            kind=rule.kind, title=_fill(rule.title_template, ctx, names),
            body=_fill(rule.body_template, ctx, names), channels=rule.channels,
            project_ids=ctx["project_ids"], practice_ids=practice_ids, indicator_codes=codes,
            regions=ctx["regions"])
        created = await content.create(session, SYSTEM, item, actor=f"rule:{rule.id}",
                                       source_event_id=source)
        created.organisation_id = ctx["organisation_id"]


async def draft_and_deliver(session: AsyncSession, env: dict[str, Any]) -> None:
    """After any projection update for the event: drafts by the rules, then subscriptions."""
    ctx = await _context(session, env.get("data") or {})
    await draft_from_rules(session, env, ctx)
    await queue.fan_out(session, env, ctx["regions"])


for _t in CONSUMED:
    handlers.on(_t)(draft_and_deliver)
