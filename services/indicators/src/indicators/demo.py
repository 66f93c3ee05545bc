"""Demo data of indicators beyond the goals' reports (`indicators.goals.demo`), so that every
list and dashboard has something in it on `make run`: targets of the theme's projects, a locked
report (with the draft, submitted and approved ones the goals' demo leaves), and closed survey
rounds with enough respondents for their results to be shown (k, `surveys.privacy`).

Loaded by `indicators.cli seed-goals --demo-figures` after the goals' reports. Each part is
loaded once: a part the demo actor has made before is left alone. Synthetic, same seed, same
data.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import numpy as np
from sqlalchemy import select

from indicators.models import Report, SurveyRound, Target, project_extra, project_projection
from indicators.reports import service as report_service
from indicators.reports import targets as target_service
from indicators.reports.schemas import TargetIn
from indicators.surveys import queries as survey_queries
from indicators.surveys import service as survey_service
from indicators.surveys.schemas import RoundIn
from shared.identity import Identity
from shared.uow import UnitOfWork

ACTOR = Identity(sub="demo", kind="user", roles=("admin",))
TARGET_PROJECTS = 12
SURVEY_PROJECTS = 4
RESPONDENTS = 24  # per round: well above k = 5, so totals and dimensions are shown


async def _projects(session, theme_id: str) -> list[dict[str, Any]]:
    """The theme's projects that started at least 200 days ago (as the goals' demo takes)."""
    today = dt.date.today()
    rows = (await session.execute(
        select(project_projection.c.id, project_projection.c.organisation_id,
               project_projection.c.start_date, project_projection.c.end_date)
        .join(project_extra, project_extra.c.id == project_projection.c.id)
        .where(project_extra.c.theme_id == theme_id,
               project_projection.c.start_date <= today - dt.timedelta(days=200))
        .order_by(project_projection.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def _targets(session, projects: list[dict[str, Any]], rnd: random.Random) -> int:
    if await session.scalar(select(Target.id).where(Target.created_by == ACTOR.sub).limit(1)):
        return 0
    made = 0
    for p in projects[:TARGET_PROJECTS]:
        end = p["end_date"] or p["start_date"] + dt.timedelta(days=3 * 365)
        for code, target in (("EECO01", rnd.randint(80, 300)), ("EECO19", rnd.randint(10, 40))):
            await target_service.create(session, ACTOR, TargetIn(
                project_id=p["id"], indicator_code=code, baseline_value=0,
                baseline_date=p["start_date"], target_value=target, target_date=end))
            made += 1
    return made


async def _lock(session) -> int:
    """Lock the first approved demo report, unless one is locked already."""
    mine = (Report.created_by == ACTOR.sub)
    if await session.scalar(select(Report.id).where(mine, Report.status == "locked").limit(1)):
        return 0
    r = await session.scalar(select(Report).where(mine, Report.status == "approved")
                             .order_by(Report.project_id).limit(1))
    if r is None:
        return 0
    await report_service.lock(session, ACTOR, r)
    return 1


def _answers(ins, n: int, level: float, rnd: np.random.Generator) -> np.ndarray:
    """n respondents' whole-number answers on the instrument's scale, around `level` (0..1)."""
    lo, hi = ins.scale_min, ins.scale_max
    centre = lo + level * (hi - lo)
    raw = rnd.normal(centre, (hi - lo) / 5, size=(n, len(ins.items)))
    return np.clip(np.rint(raw), lo, hi).astype(float)


async def _rounds(uow: UnitOfWork, projects: list[dict[str, Any]], k: int) -> int:
    """A T0 and a T1 round of UWES-9 for a few projects, both closed with their responses."""
    session = uow.session
    if await session.scalar(select(SurveyRound.id).where(
            SurveyRound.created_by == ACTOR.sub).limit(1)):
        return 0
    ins = await survey_queries.find_instrument(session, "UWES-9")
    if ins is None:
        return 0
    rnd = np.random.default_rng(2021)
    today = dt.date.today()
    made = 0
    for n, p in enumerate(p for p in projects if p["organisation_id"]):
        if n == SURVEY_PROJECTS:
            break
        for label, ago, level in (("T0", 330, 0.55), ("T1", 60, 0.62 + 0.02 * n)):
            closes = max(p["start_date"], today - dt.timedelta(days=ago))
            r = await survey_service.create_round(session, ACTOR, RoundIn(
                instrument_code=ins.code, organisation_id=p["organisation_id"],
                project_id=p["id"], label=label, opens_on=closes - dt.timedelta(days=21),
                closes_on=closes))
            count = RESPONDENTS + 3 * n
            await survey_service.store_scored(session, r, ins, _answers(ins, count, level, rnd),
                                              [None] * count)
            await survey_service.close(uow, ACTOR, r, k)
            made += 1
    return made


async def load(maker, outbox, theme_id: str, k: int, seed: int = 2021) -> dict[str, int]:
    """Counts of what was added (zeros on a second run)."""
    rnd = random.Random(seed)
    async with maker() as session:
        projects = await _projects(session, theme_id)
        counts = {"targets": await _targets(session, projects, rnd),
                  "locked reports": await _lock(session),
                  "closed survey rounds": await _rounds(UnitOfWork(session, outbox), projects, k)}
        await session.commit()
    return counts
