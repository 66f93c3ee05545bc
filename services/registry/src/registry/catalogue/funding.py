"""A theme's funding overview: its budget frame against the funding granted to its projects.

Joint calls (a call of several themes) are counted under each of their themes, never twice in
money: granted funding is the projects' budgets, and a project has one theme; a call's own
budget is shown whole under each theme with `shared_with` (its other themes), and the
`calls_budget` total counts each call once. Summing `calls_budget` over themes would count a
joint call once per theme: `joint_calls_budget` says how much of it is shared."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import reference
from registry.catalogue import queries
from registry.changes.history import jsonable
from registry.models import Theme
from shared.errors import NotFound
from shared.identity import Identity


def _split(amount: Decimal, n: int) -> list[Decimal]:
    """An amount split over n regions exactly (cents; the remainder goes to the first)."""
    share = (amount / n).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return [amount - share * (n - 1), *([share] * (n - 1))]


async def theme_overview(session: AsyncSession, identity: Identity, theme_id: str) -> dict[str, Any]:
    """Granted = budgets of the theme's projects that are not cancelled or archived (those the
    caller may see); by region (a project in several regions is split evenly), by funder and by
    call (against the call's budget)."""
    theme = await session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"no theme {theme_id}")
    rows = await queries.theme_projects(session, identity, theme.id)
    zero = Decimal("0.00")
    granted, by_region, by_funder, by_call = zero, {}, {}, {}
    for _pid, budget, regions, funder, call in rows:
        amount = budget or zero
        granted += amount
        regs = list(regions or []) or [None]
        for code, share in zip(regs, _split(amount, len(regs)), strict=True):
            by_region[code] = by_region.get(code, zero) + share
        by_funder[funder] = by_funder.get(funder, zero) + amount
        by_call[call] = by_call.get(call, zero) + amount
    calls = await queries.calls_by_id(session, [k for k in by_call if k])
    # Every call the theme takes part in, joint ones with the themes they are shared with.
    own = await queries.theme_calls(session, theme.id)
    frame = theme.budget
    return jsonable({
        "theme_id": theme.id, "name": theme.name, "budget_frame": frame, "granted": granted,
        "remaining": (frame - granted) if frame is not None else None,
        "projects": len(rows),
        "by_region": [{"region_code": k, "label": reference.label("regions", k, "fi") if k else None,
                       "granted": v} for k, v in sorted(by_region.items(), key=lambda x: x[0] or "")],
        "by_funder": [{"funder_id": k, "granted": v} for k, v in by_funder.items()],
        "by_call": [{"call_id": k, "granted": v,
                     "call_budget": calls[k].budget if k in calls else None} for k, v in by_call.items()],
        "calls": [{"call_id": c.id, "code": c.code, "name": c.name, "budget": c.budget,
                   "theme_ids": c.theme_ids, "shared_with": [t for t in c.theme_ids if t != theme.id],
                   "granted_in_theme": by_call.get(c.id, zero)} for c in own],
        "calls_budget": sum((c.budget or zero for c in own), zero),
        "joint_calls_budget": sum((c.budget or zero for c in own if len(c.theme_ids) > 1), zero),
    })
