"""The spread of practices: adoptions over time, organisations and regions reached (from the
registry's events)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.common import period_of
from indicators.models import adoption, practice_projection

INTERVALS = {"year": "Y", "half": "H", "quarter": "Q"}


async def spread(session: AsyncSession, practice_id: str | None, interval: str) -> list[dict[str, Any]]:
    """Per practice: adoptions, organisations and regions reached, within the originating
    projects' organisations or beyond them, by scope, and a cumulative series per period."""
    q = select(adoption).order_by(adoption.c.adopted_on)
    if practice_id:
        q = q.where(adoption.c.practice_id == practice_id)
    rows = (await session.execute(q)).mappings().all()
    names = dict((await session.execute(select(practice_projection.c.id,
                                               practice_projection.c.name))).all())
    kind = INTERVALS[interval]
    per: dict[str, dict[str, Any]] = {}
    for a in rows:
        p = per.setdefault(a["practice_id"], {
            "practice_id": a["practice_id"], "name": names.get(a["practice_id"]),
            "adoptions": 0, "organisations": set(), "regions": set(), "within_origin": 0,
            "beyond_origin": 0, "by_scope": Counter(), "over_time": Counter()})
        p["adoptions"] += 1
        p["organisations"].add(a["organisation_id"])
        if a["region_code"]:
            p["regions"].add(a["region_code"])
        p["within_origin" if a["within_origin"] else "beyond_origin"] += 1
        p["by_scope"][a["scope"]] += 1
        p["over_time"][period_of(a["adopted_on"], kind)] += 1
    items = []
    for p in per.values():
        running, series = 0, []
        for period in sorted(p["over_time"]):
            running += p["over_time"][period]
            series.append({"period": period, "adoptions": p["over_time"][period], "cumulative": running})
        items.append({**p, "organisations_reached": len(p.pop("organisations")),
                      "regions_reached": len(p["regions"]), "regions": sorted(p.pop("regions")),
                      "by_scope": dict(p["by_scope"]), "over_time": series})
    return items
