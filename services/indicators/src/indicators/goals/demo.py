"""Demo figures for the seed theme's goals: approved half-year reports of some of the theme's
projects, so that the theme view shows progress (and, with a draft and a submitted report
left as they are, that only approved figures count). Synthetic numbers, same seed, same data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select

from indicators.common import period_of
from indicators.models import Report, project_extra, project_projection
from indicators.reports import service as report_service
from shared.identity import Identity
from shared.uow import UnitOfWork

DEMO_ACTOR = Identity(sub="demo", kind="user", roles=("admin",))
PROJECTS = 12


def _gender(total: int, rnd: random.Random) -> dict[str, Any]:
    women = rnd.randint(0, total)
    return {"gender": {"women": women, "men": total - women, "non_binary": 0}}


def _values(rnd: random.Random) -> list[dict[str, Any]]:
    participants = rnd.randint(20, 120)
    return [{"indicator_code": "EECO01", "value": participants,
             "disaggregations": _gender(participants, rnd)},
            {"indicator_code": "EECR03", "value": (q := rnd.randint(0, participants // 4)),
             "disaggregations": _gender(q, rnd)},
            {"indicator_code": "EECO13", "value": (t := rnd.randint(0, 6)),
             "disaggregations": _gender(t, rnd)},
            {"indicator_code": "EECO19", "value": rnd.randint(2, 15)}]


async def _theme_projects(session, theme_id: str) -> list[dict[str, Any]]:
    today = dt.date.today()
    rows = (await session.execute(
        select(project_projection.c.id, project_projection.c.start_date)
        .join(project_extra, project_extra.c.id == project_projection.c.id)
        .where(project_extra.c.theme_id == theme_id,
               project_projection.c.start_date <= today - dt.timedelta(days=200))
        .order_by(project_projection.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def wait_for_projects(maker, theme_id: str, timeout: float = 30.0) -> int:
    """The registry's project events arrive after its seed: wait until the count settles."""
    last, loop = -1, asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with maker() as session:
            n = await session.scalar(select(func.count()).select_from(project_extra)
                                     .where(project_extra.c.theme_id == theme_id))
        if n and n == last:
            return n
        last = n
        await asyncio.sleep(1.0)
    return max(last, 0)


async def load(maker, outbox, theme_id: str, seed: int = 2021) -> int:
    """Reports for up to PROJECTS of the theme's projects, unless the theme has reports."""
    rnd = random.Random(seed)
    async with maker() as session:
        projects = await _theme_projects(session, theme_id)
        ids = [p["id"] for p in projects]
        if not ids or await session.scalar(select(Report.id).where(Report.project_id.in_(ids)).limit(1)):
            return 0
        uow = UnitOfWork(session, outbox)
        made = 0
        for n, p in enumerate(projects[:PROJECTS]):
            period = period_of(p["start_date"] + dt.timedelta(days=100), "H")
            r = await report_service.create(session, DEMO_ACTOR, {
                "project_id": p["id"], "period": period, "values": _values(rnd)})
            if n % 6 != 5:      # every sixth stays a draft: it does not count
                await report_service.submit(uow, DEMO_ACTOR, r)
                if n % 6 != 4:  # and one more is submitted, not yet approved
                    await report_service.approve(uow, DEMO_ACTOR, r)
            made += 1
        await session.commit()
    return made
