"""The list of operations: which projects it lists, and each one's row.

Which projects: those the public may see (access.project_filter for an anonymous caller:
published and not archived), whoever asks; drafts never appear. The columns and their
headings are data (reference/list_of_operations.json). Natural persons are never named: the
beneficiary is the lead implementer organisation, and no person field is read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import access, exports, reference
from registry.models import Project, Theme
from shared.exports import Column
from shared.identity import ANONYMOUS

MAX_ROWS = 100_000


def columns() -> list[Column]:
    return [Column(f["key"], {k: f[k] for k in ("fi", "sv", "en")})
            for f in reference.list_of_operations()["fields"]]


async def projects(session: AsyncSession, limit: int = MAX_ROWS) -> list[Project]:
    """The public projects, in code order (the operation code is unique)."""
    return list((await session.scalars(select(Project).where(
        access.project_filter(ANONYMOUS)).order_by(Project.code).limit(limit))).all())


async def objectives(session: AsyncSession, theme_ids: set[str]) -> dict[str, str | None]:
    if not theme_ids:
        return {}
    return dict((await session.execute(select(Theme.id, Theme.specific_objective).where(
        Theme.id.in_(sorted(theme_ids))))).tuples().all())


def list_date(rows: list[Project]) -> dt.date | None:
    """The date of the list's last update: its most recently changed project's."""
    latest = max((p.updated_at for p in rows), default=None)
    return latest.date() if latest is not None else None


def _labelled(name: str, code: str | None, lang: str) -> str | None:
    if not code:
        return None
    label = reference.label(name, code, lang)
    return code if label == code else f"{code} {label}"


def row(p: Project, names: exports.Names, objective: str | None, updated: dt.date | None,
        lang: str) -> dict[str, Any]:
    defaults = reference.list_of_operations()["defaults"]
    fund = defaults.get("fund") or {}
    rate = p.co_financing_rate if p.co_financing_rate is not None \
        else defaults.get("co_financing_rate")
    return {
        "operation_code": p.code,
        "beneficiary": exports.org_name(names, p.organisation_id, lang),
        "operation_name": exports._text(p.name, lang),
        "purpose": exports._text(p.goals, lang),
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "end_date": p.end_date.isoformat() if p.end_date else None,
        "total_cost": str(p.budget_total) if p.budget_total is not None else None,
        "fund": fund.get(lang) or fund.get("code"),
        "specific_objective": _labelled("specific_objectives", objective, lang),
        "co_financing_rate": str(rate) if rate is not None else None,
        "location": [reference.label("regions", c, lang) for c in p.region_codes or []],
        "country": defaults.get("country"),
        "intervention_type": exports.intervention_label(p.intervention_type, lang),
        "last_updated": updated.isoformat() if updated else None,
    }


async def rows(session: AsyncSession, lang: str) -> tuple[list[dict[str, Any]], dt.date | None]:
    found = await projects(session)
    names = await exports.organisation_names(session, (p.organisation_id for p in found))
    objective = await objectives(session, {p.theme_id for p in found if p.theme_id})
    updated = list_date(found)
    return [row(p, names, objective.get(p.theme_id), updated, lang) for p in found], updated
