"""Progress against targets, rollups (indicator x period x place) and the EU-style report:
the approved figures, read and combined."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import field_error, get_project, require_see, visible_project_filter
from indicators.models import (
    IndicatorDefinition,
    Report,
    Target,
    project_extra,
    project_projection,
    reported_value,
    rollup,
)
from indicators.reports.queries import achieved
from shared.errors import Unprocessable
from shared.identity import Identity

DIMS = {"indicator": rollup.c.indicator_code, "year": rollup.c.year, "period": rollup.c.period,
        "region": rollup.c.region_code, "funder": rollup.c.funder_id, "theme": rollup.c.theme_id,
        "programme": rollup.c.programme_id}
UNKNOWN_OBJECTIVE = "unknown"


async def progress(session: AsyncSession, identity: Identity, project_id: str) -> list[dict[str, Any]]:
    """Per target: baseline, target and the approved value so far, with progress in %."""
    require_see(identity, await get_project(session, project_id))
    targets = (await session.scalars(select(Target).where(Target.project_id == project_id)
                                     .order_by(Target.indicator_code, Target.target_date))).all()
    defs = await current_definitions(session, {t.indicator_code for t in targets})
    items = []
    for t in targets:
        d = defs.get(t.indicator_code)
        value, period = await achieved(session, project_id, t.indicator_code,
                                       d.aggregation if d else "sum", until=t.target_date)
        base = t.baseline_value or 0.0
        span = t.target_value - base
        pct = round((value - base) / span * 100, 1) if value is not None and span else None
        items.append({"target_id": t.id, "indicator_code": t.indicator_code,
                      "baseline_value": t.baseline_value, "baseline_date": t.baseline_date,
                      "target_value": t.target_value, "target_date": t.target_date,
                      "achieved": value, "latest_period": period, "progress_pct": pct,
                      "reached_on": t.reached_on})
    return items


def rollup_keys(group_by: str, indicator_code: list[str] | None) -> list[str]:
    """The dimensions to group by; the indicator is always one (unless only one is asked
    for): different indicators never add up."""
    keys = [k.strip() for k in group_by.split(",") if k.strip()]
    bad = [k for k in keys if k not in DIMS]
    if bad or not keys or len(set(keys)) != len(keys):
        raise Unprocessable("invalid group_by", errors=[field_error(
            "query/group_by", "value_error", f"use a comma list of {sorted(DIMS)}")])
    if "indicator" not in keys and not (indicator_code and len(indicator_code) == 1):
        keys = ["indicator", *keys]  # never add up different indicators
    return keys


async def rollup_items(session: AsyncSession, keys: list[str], indicator_code: list[str] | None,
                       filters: dict[str, str | None], year_from: int | None,
                       year_to: int | None) -> list[dict[str, Any]]:
    """Sums from the pre-aggregated table; averages divided out per indicator.
    `filters`: region, funder, theme, programme."""
    cols = [DIMS[k].label(k) for k in keys]
    q = select(*cols, func.sum(rollup.c.total).label("total"), func.sum(rollup.c.n).label("n"))
    if indicator_code:
        q = q.where(rollup.c.indicator_code.in_(indicator_code))
    for col, v in ((rollup.c.region_code, filters.get("region")),
                   (rollup.c.funder_id, filters.get("funder")),
                   (rollup.c.theme_id, filters.get("theme")),
                   (rollup.c.programme_id, filters.get("programme"))):
        if v:
            q = q.where(col == v)
    if year_from:
        q = q.where(rollup.c.year >= year_from)
    if year_to:
        q = q.where(rollup.c.year <= year_to)
    dims = [DIMS[k] for k in keys]
    q = q.group_by(*dims).having(func.sum(rollup.c.n) > 0).order_by(*dims)
    rows = (await session.execute(q)).mappings().all()
    codes = {r["indicator"] for r in rows} if "indicator" in keys else set(indicator_code or [])
    aggs = dict((await session.execute(select(IndicatorDefinition.code, IndicatorDefinition.aggregation)
                                       .where(IndicatorDefinition.code.in_(codes)))).all())
    items = []
    for r in rows:
        item = dict(r)
        code = item.get("indicator") or (indicator_code or [None])[0]
        if aggs.get(code, "sum") in ("average", "weighted_average"):
            item["value"] = round(item["total"] / item["n"], 6) if item["n"] else None
        else:
            item["value"] = item["total"]
        item["aggregation"] = aggs.get(code, "sum")
        items.append(item)
    return items


def cutoff_end(cutoff: str) -> dt.date:
    """The last day of a YYYY06 or YYYY12 cut-off."""
    year, month = int(cutoff[:4]), int(cutoff[4:])
    return dt.date(year, 6, 30) if month == 6 else dt.date(year, 12, 31)


async def eu_report(session: AsyncSession, identity: Identity, end: dt.date,
                    lang: str) -> list[dict[str, Any]]:
    """Cumulative approved EEC* values up to `end` by specific objective and gender, with
    composites from their parts; an unknown objective is its own row, never dropped."""
    t = reported_value
    q = (select(project_extra.c.specific_objective, t.c.indicator_code, t.c.value,
                t.c.disaggregations)
         .join(Report, Report.id == t.c.report_id)
         .join(project_projection, project_projection.c.id == Report.project_id)
         .outerjoin(project_extra, project_extra.c.id == Report.project_id)
         .where(Report.status.in_(("approved", "locked")), Report.period_end <= end,
                t.c.indicator_code.like("EEC%")))
    cond = visible_project_filter(identity)
    if cond is not None:
        q = q.where(cond)
    acc: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for so, code, value, dis in (await session.execute(q)).all():
        cell = acc[(so or UNKNOWN_OBJECTIVE, code)]
        cell["total"] += value
        for g, n in ((dis or {}).get("gender") or {}).items():
            cell[g] += n
    defs = await current_definitions(session, on=end)
    for d in defs.values():
        if d.parts and d.code.startswith("EEC"):
            for so in {k[0] for k in acc}:
                if (so, d.code) not in acc and any((so, p) in acc for p in d.parts):
                    cell = acc[(so, d.code)]
                    for p in d.parts:
                        for g, n in acc.get((so, p), {}).items():
                            cell[g] += n
    return [{"specific_objective": so, "indicator_code": code,
             "name": (defs[code].name.get(lang) or defs[code].name.get("fi")) if code in defs else code,
             "women": v.get("women", 0), "men": v.get("men", 0),
             "non_binary": v.get("non_binary", 0), "total": v["total"]}
            for (so, code), v in sorted(acc.items())]
