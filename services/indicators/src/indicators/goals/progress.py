"""A theme's goals measured: per goal its indicators with the theme-level baseline and target,
the current value from the theme's projects' figures, the progress share, and the gaps.

Where the current value comes from:
- Reported values: only approved (or locked) reports of the theme's projects count, within the
  goal indicator's period. Per project: summed over periods (`sum`, `count`) or its latest
  value (the others). Across projects: summed (`sum`, `count`, `last`), averaged (`average`,
  `weighted_average`: the mean of the projects' latest values), or the `min` / `max`.
- Survey rounds: an indicator an instrument measures (its total or one of its dimensions)
  takes the closed rounds of the theme's projects closing within the period, the latest round
  per organisation and project, pooled (mean over every respondent). A round with fewer
  respondents than the privacy threshold k is left out of the pool altogether (counted in
  `rounds_withheld`): pools then differ only by whole rounds of k or more, so no difference
  of two published figures is about fewer than k people. The pooled figure passes
  `privacy.protect` like every published survey figure; if it is withheld, `current` is null
  and `suppressed` true. Survey figures take precedence over reported values for the same
  indicator (an instrument measures it directly).

A pooled figure of fewer than three organisations is, in effect, one organisation's result
(or two, each able to subtract its own): other analyses show those only to national roles, so
here too a caller outside the coordination project, the ministries and admins sees it withheld
(`withheld_reason`: "organisations"); national roles see it whenever k holds.

Gaps: goals without any indicator, and goal indicators for which no project of the theme has
an approved value or a closed survey round in the period (nothing measures them yet).

Read access: public. Every figure is an aggregate of approved figures (as the public rollup
publishes them) or a survey figure protected as above; goals are the public theme card's.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import period_of
from indicators.goals import queries
from indicators.models import GoalIndicator, IndicatorDefinition, SurveyRound
from indicators.surveys import privacy
from indicators.surveys import queries as survey_queries
from shared.errors import NotFound

if TYPE_CHECKING:  # numpy is imported where the maths runs: ~13 MB of an idle process
    import numpy as np

SUMMED = ("sum", "count")
MIN_ORGANISATIONS = 3   # survey figures pooled from fewer: national roles only


async def theme_goals(session: AsyncSession, theme_id: str, k: int,
                      national: bool) -> dict[str, Any]:
    if not await queries.theme_known(session, theme_id):
        raise NotFound(f"no theme {theme_id} known to indicators")
    goals = await queries.goals_of(session, theme_id)
    inds = await queries.indicators_of(session, [g.id for g in goals])
    codes = {i.indicator_code for gi in inds.values() for i in gi}
    defs = await current_definitions(session, codes)
    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await queries.approved_values(session, theme_id, codes):
        by_code[row["indicator_code"]].append(row)
    surveys = _SurveyFigures(session, theme_id, k, national)
    await surveys.load(codes)
    out_goals, gaps_goals, gaps_inds = [], [], []
    for g in goals:
        items = []
        for i in inds[g.id]:
            item = await _measure(i, defs.get(i.indicator_code), by_code[i.indicator_code], surveys)
            items.append(item)
            if not item["projects_reporting"]:
                gaps_inds.append({"goal_id": g.id, "goal_code": g.code,
                                  "indicator_code": i.indicator_code, "period": i.period})
        if not items:
            gaps_goals.append({"goal_id": g.id, "code": g.code, "name": g.name})
        out_goals.append({"id": g.id, "code": g.code, "name": g.name, "description": g.description,
                          "version": g.version, "indicators": items})
    return {"theme_id": theme_id, "k": k, "goals": out_goals,
            "gaps": {"goals_without_indicators": gaps_goals,
                     "indicators_not_reported": gaps_inds}}


def _share(current: float | None, baseline: float | None, target: float,
           aggregation: str) -> float | None:
    """(current - baseline) / (target - baseline); a count's missing baseline is 0."""
    if current is None:
        return None
    if baseline is None:
        if aggregation not in SUMMED:
            return None
        baseline = 0.0
    span = target - baseline
    return round((current - baseline) / span, 4) if span else None


async def _measure(i: GoalIndicator, d: IndicatorDefinition | None, rows: list[dict[str, Any]],
                   surveys: _SurveyFigures) -> dict[str, Any]:
    aggregation = d.aggregation if d else "sum"
    item: dict[str, Any] = {
        "indicator_code": i.indicator_code, "name": d.name if d else None,
        "unit": i.unit or (d.unit if d else None), "higher_is_better": d.higher_is_better if d else True,
        "period": i.period, "baseline": i.baseline, "target": i.target,
        "unverified": i.unverified, "note": i.note, "aggregation": aggregation,
        "current": None, "source": None, "latest_period": None, "projects_reporting": 0,
        "progress_share": None, "suppressed": False, "withheld_reason": None}
    survey = await surveys.figure(i)
    if survey is not None:
        item.update(survey)
    else:
        item.update(_from_reports(i, aggregation, rows))
    item["progress_share"] = _share(item["current"], i.baseline, i.target, aggregation)
    return item


def _from_reports(i: GoalIndicator, aggregation: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    per_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:   # ordered by period end
        if r["period_start"] >= i.period_start and r["period_end"] <= i.period_end:
            per_project[r["project_id"]].append(r)
    if not per_project:
        return {}
    values = [sum(r["value"] for r in rs) if aggregation in SUMMED else rs[-1]["value"]
              for rs in per_project.values()]
    if aggregation in (*SUMMED, "last"):
        current = sum(values)
    elif aggregation == "min":
        current = min(values)
    elif aggregation == "max":
        current = max(values)
    else:
        current = sum(values) / len(values)
    latest = max((rs[-1] for rs in per_project.values()), key=lambda r: r["period_end"])
    return {"current": round(current, 6), "source": "reports", "latest_period": latest["period"],
            "projects_reporting": len(per_project)}


class _SurveyFigures:
    """Theme-level survey figures for the indicators an instrument measures."""

    def __init__(self, session: AsyncSession, theme_id: str, k: int, national: bool) -> None:
        self.session, self.theme_id, self.k, self.national = session, theme_id, k, national
        self.measures: dict[str, tuple[Any, str | None]] = {}   # code -> (instrument, dim)
        self.rounds: dict[str, list[SurveyRound]] = defaultdict(list)   # instrument id -> rounds
        self.counts: dict[str, int] = {}
        self.scores: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}

    async def load(self, codes: set[str]) -> None:
        for ins in await queries.instruments(self.session):
            if ins.indicator_code in codes:
                self.measures[ins.indicator_code] = (ins, None)
            for dim in ins.dimensions:
                if dim.get("indicator_code") in codes:
                    self.measures[dim["indicator_code"]] = (ins, dim["code"])
        ids = {ins.id for ins, _ in self.measures.values()}
        rounds = await queries.closed_rounds(self.session, self.theme_id, ids)
        for r in rounds:
            self.rounds[r.instrument_id].append(r)
        self.counts = await queries.response_counts(self.session, [r.id for r in rounds])

    async def _pooled_scores(self, r: SurveyRound, ins: Any, dim: str | None) -> np.ndarray:
        if r.id not in self.scores:
            codes = [d["code"] for d in ins.dimensions]
            _, total, dims = await survey_queries.load_scores(self.session, r.id, codes)
            self.scores[r.id] = (total, dims, codes)
        total, dims, codes = self.scores[r.id]
        return total if dim is None else dims[:, codes.index(dim)]

    async def figure(self, i: GoalIndicator) -> dict[str, Any] | None:
        """The pooled figure, or None when no instrument measures the indicator or no closed
        round of the theme's projects falls in the period (then reported values count)."""
        import numpy as np
        if i.indicator_code not in self.measures:
            return None
        ins, dim = self.measures[i.indicator_code]
        latest: dict[tuple, SurveyRound] = {}
        for r in self.rounds.get(ins.id, []):   # ordered by close day
            if i.period_start <= r.closes_on <= i.period_end:
                latest[(r.organisation_id, r.project_id)] = r
        if not latest:
            return None
        pooled, withheld, orgs = [], 0, set()
        for r in latest.values():
            if self.counts.get(r.id, 0) < self.k:
                withheld += 1
                continue
            pooled.append(await self._pooled_scores(r, ins, dim))
            orgs.add(r.organisation_id)
        scores = np.concatenate(pooled) if pooled else np.empty(0)
        n = len(scores)
        table = privacy.protect(self.k, [np.zeros(n, dtype=np.int64)], None, 0)
        shown = n > 0 and table.shown(("total",))
        reason = None if shown else "privacy_threshold"
        if shown and not self.national and len(orgs) < MIN_ORGANISATIONS:
            shown, reason = False, "organisations"
        return {"source": "surveys", "instrument": ins.code, "dimension": dim,
                "withheld_reason": reason,
                "current": round(float(scores.mean()), 4) if shown else None,
                "respondents": n if shown else None, "rounds": len(pooled) if shown else None,
                "rounds_withheld": withheld, "suppressed": not shown,
                "latest_period": period_of(max(r.closes_on for r in latest.values()), "H"),
                "projects_reporting": len({r.project_id for r in latest.values()})}
