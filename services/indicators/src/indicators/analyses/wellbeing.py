"""Well-being and productivity together: first vs latest survey round per organisation,
against the organisation's productivity figures for the matching periods."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from indicators.catalogue.service import current_definitions
from indicators.common import field_error, period_of
from indicators.models import (
    Instrument,
    SurveyRound,
    organisation_figure,
    organisation_projection,
    participation,
    project_extra,
    project_projection,
)
from indicators.surveys import privacy, stats
from indicators.surveys.queries import load_scores
from shared.errors import Unprocessable

CLASSES = ("both_improved", "wellbeing_only", "productivity_only", "neither")


@dataclass(frozen=True)
class Thresholds:
    wellbeing_min_effect_size_d: float
    productivity_min_change_pct: float
    privacy_min_respondents: int


def _label_no(label: str) -> int:
    m = re.match(r"^T(\d+)$", label)
    return int(m.group(1)) if m else 0


def _figure(figs: dict[str, float], day) -> tuple[str, float] | None:
    """The organisation's figure for the period a round closed in (half-year, else year)."""
    for kind in ("H", "Y"):
        p = period_of(day, kind)
        if p in figs:
            return p, figs[p]
    return None


async def _inputs(session: AsyncSession, instrument: str, indicator: str):
    """The instrument, whether higher productivity is better, closed rounds by organisation
    and productivity figures by organisation and period."""
    ins = await session.scalar(select(Instrument).where(Instrument.code == instrument))
    defs = await current_definitions(session, [indicator])
    if ins is None or indicator not in defs:
        raise Unprocessable("unknown instrument or indicator", errors=[field_error(
            "query/instrument" if ins is None else "query/productivity_indicator", "unknown",
            "no such instrument or indicator")])
    rounds = (await session.scalars(select(SurveyRound).where(
        SurveyRound.instrument_id == ins.id, SurveyRound.status == "closed"))).all()
    by_org: dict[str, list[SurveyRound]] = defaultdict(list)
    for r in rounds:
        by_org[r.organisation_id].append(r)
    figs: dict[str, dict[str, float]] = defaultdict(dict)
    for org, period, value in (await session.execute(
            select(organisation_figure.c.organisation_id, organisation_figure.c.period,
                   organisation_figure.c.value)
            .where(organisation_figure.c.indicator_code == indicator))).all():
        figs[org][period] = value
    return ins, defs[indicator].higher_is_better, by_org, figs


async def classify(session: AsyncSession, instrument: str, indicator: str,
                   th: Thresholds) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Organisations classified (and those whose effect size is undefined)."""
    ins, higher_better, by_org, figs = await _inputs(session, instrument, indicator)
    k, wb_t, pr_t = th.privacy_min_respondents, th.wellbeing_min_effect_size_d, th.productivity_min_change_pct
    dim_codes = [d["code"] for d in ins.dimensions]
    orgs: list[dict[str, Any]] = []
    unclassified: list[dict[str, Any]] = []
    for org, rs in by_org.items():
        if len(rs) < 2:
            continue
        rs.sort(key=lambda r: _label_no(r.label))
        first, last = rs[0], rs[-1]
        f0, f1 = _figure(figs.get(org, {}), first.closes_on), _figure(figs.get(org, {}), last.closes_on)
        if not f0 or not f1 or f0[0] == f1[0]:
            continue
        _, a, _ = await load_scores(session, first.id, dim_codes)
        _, b, _ = await load_scores(session, last.id, dim_codes)
        if not (len(a) and len(b) and privacy.publishable_total(len(a), k)
                and privacy.publishable_total(len(b), k)):
            continue  # too few respondents: no figure about them leaves
        d = stats.cohens_d(a, b)
        if d is None:
            # No variation in either round: an effect size is undefined, not zero or huge.
            unclassified.append({"organisation_id": org, "from_round": first.label,
                                 "to_round": last.label, "effect_size_d": None,
                                 "reason": "effect size undefined: no variation in the scores"})
            continue
        change = (f1[1] - f0[1]) / abs(f0[1]) * 100 if f0[1] else None
        wb = d is not None and d >= wb_t
        pr = change is not None and (change >= pr_t if higher_better else -change >= pr_t)
        cls = CLASSES[0] if wb and pr else CLASSES[1] if wb else CLASSES[2] if pr else CLASSES[3]
        orgs.append({"organisation_id": org, "project_id": last.project_id or first.project_id,
                     "from_round": first.label, "to_round": last.label, "effect_size_d": d,
                     "productivity_from": f0, "productivity_to": f1,
                     "productivity_change_pct": round(change, 2) if change is not None else None,
                     "classification": cls})
    return orgs, unclassified


async def group(session: AsyncSession, orgs: list[dict[str, Any]], group_by: str) -> list[dict[str, Any]]:
    """Counts and shares per group. Group keys: the round's project (else the organisation's
    participations), region, theme."""
    part = defaultdict(set)
    for org, pid in (await session.execute(select(participation.c.organisation_id,
                                                  participation.c.project_id))).all():
        part[org].add(pid)
    projects = {r["id"]: r for r in (await session.execute(
        select(project_projection.c.id, project_projection.c.region_codes, project_extra.c.theme_id)
        .outerjoin(project_extra, project_extra.c.id == project_projection.c.id))).mappings().all()}
    org_region = dict((await session.execute(select(organisation_projection.c.id,
                                                    organisation_projection.c.region_code))).all())
    groups: dict[str, Counter] = defaultdict(Counter)
    for o in orgs:
        pids = {o["project_id"]} if o["project_id"] else part.get(o["organisation_id"], set()) or {None}
        if group_by == "project":
            keys = {p or "unknown" for p in pids}
        elif group_by == "region":
            reg = org_region.get(o["organisation_id"])
            from_projects = {c for p in pids for c in (projects.get(p) or {}).get("region_codes") or []}
            keys = {reg} if reg else from_projects or {"unknown"}
        else:
            keys = {(projects.get(p) or {}).get("theme_id") or "unknown" for p in pids}
        for key in keys:
            groups[key][o["classification"]] += 1
    summary = []
    for key, cnt in sorted(groups.items()):
        n = sum(cnt.values())
        summary.append({group_by: key, "organisations": n,
                        **{c: cnt[c] for c in CLASSES},
                        **{f"{c}_share": round(cnt[c] / n, 4) for c in CLASSES}})
    return summary


async def wellbeing_productivity(session: AsyncSession, instrument: str, indicator: str,
                                 th: Thresholds, group_by: str,
                                 with_organisations: bool) -> dict[str, Any]:
    """The whole analysis; the per-organisation lists only `with_organisations`."""
    orgs, unclassified = await classify(session, instrument, indicator, th)
    summary = await group(session, orgs, group_by)
    total = Counter(o["classification"] for o in orgs)
    result = {"instrument": instrument, "productivity_indicator": indicator,
              "thresholds": {"wellbeing_min_effect_size_d": th.wellbeing_min_effect_size_d,
                             "productivity_min_change_pct": th.productivity_min_change_pct,
                             "privacy_min_respondents": th.privacy_min_respondents},
              "organisations_classified": len(orgs),
              "organisations_unclassified": len(unclassified),
              "totals": {c: total[c] for c in CLASSES}, "groups": summary}
    if with_organisations:
        result["organisations"] = orgs
        result["unclassified"] = unclassified
    return result
