"""Well-being and productivity together, and the spread of practices."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from indicators.catalogue.router import current_definitions
from indicators.common import field_error, period_of
from indicators.models import (
    Instrument,
    SurveyRound,
    adoption,
    organisation_figure,
    organisation_projection,
    participation,
    practice_projection,
    project_extra,
    project_projection,
)
from indicators.surveys import privacy, stats
from indicators.surveys.service import load_scores
from shared import limits
from shared.db import SessionDep
from shared.errors import Unprocessable, problem_responses
from shared.exports import Column, export_response
from shared.identity import CurrentIdentity

router = APIRouter(prefix="/analyses", tags=["analyses"])
R = problem_responses(401, 403, 404, 422)
Fmt = Annotated[str | None, Query(max_length=limits.CODE, pattern="^(csv|xlsx|json)$")]
CLASSES = ("both_improved", "wellbeing_only", "productivity_only", "neither")


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


@router.get("/wellbeing-productivity", summary="Well-being and productivity together",
            response_model=None, responses=R)
async def wellbeing_productivity(
    request: Request, session: SessionDep, identity: CurrentIdentity,
    instrument: Annotated[str, Query(max_length=40)] = "UWES-9",
    productivity_indicator: Annotated[str, Query(max_length=40)] = "PROD_VALUE_ADDED_FTE",
    wellbeing_min_effect: Annotated[float | None, Query(ge=0, le=5)] = None,
    productivity_min_change_pct: Annotated[float | None, Query(ge=0, le=1000)] = None,
    group_by: Annotated[str, Query(max_length=limits.CODE, pattern="^(project|region|theme)$")] = "project",
    format: Fmt = None,
):
    """For each organisation with two or more rounds and productivity figures for the
    matching periods: first vs latest round. Well-being improved when Cohen's d reaches the
    threshold; productivity when the relative change reaches its threshold (in the better
    direction). Counts and shares per group; the per-organisation list only for national roles."""
    settings = request.app.state.settings
    k = settings.privacy_min_respondents
    wb_t = settings.wellbeing_min_effect_size if wellbeing_min_effect is None else wellbeing_min_effect
    pr_t = settings.productivity_min_change_pct if productivity_min_change_pct is None \
        else productivity_min_change_pct
    ins = await session.scalar(select(Instrument).where(Instrument.code == instrument))
    defs = await current_definitions(session, [productivity_indicator])
    if ins is None or productivity_indicator not in defs:
        raise Unprocessable("unknown instrument or indicator", errors=[field_error(
            "query/instrument" if ins is None else "query/productivity_indicator", "unknown",
            "no such instrument or indicator")])
    higher_better = defs[productivity_indicator].higher_is_better
    rounds = (await session.scalars(select(SurveyRound).where(
        SurveyRound.instrument_id == ins.id, SurveyRound.status == "closed"))).all()
    by_org: dict[str, list[SurveyRound]] = defaultdict(list)
    for r in rounds:
        by_org[r.organisation_id].append(r)
    figs: dict[str, dict[str, float]] = defaultdict(dict)
    for org, period, value in (await session.execute(
            select(organisation_figure.c.organisation_id, organisation_figure.c.period,
                   organisation_figure.c.value)
            .where(organisation_figure.c.indicator_code == productivity_indicator))).all():
        figs[org][period] = value
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
    # Group keys: the round's project (else the organisation's participations), region, theme.
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
    total = Counter(o["classification"] for o in orgs)
    result = {"instrument": instrument, "productivity_indicator": productivity_indicator,
              "thresholds": {"wellbeing_min_effect_size_d": wb_t,
                             "productivity_min_change_pct": pr_t, "privacy_min_respondents": k},
              "organisations_classified": len(orgs),
              "organisations_unclassified": len(unclassified),
              "totals": {c: total[c] for c in CLASSES}, "groups": summary}
    if identity.is_national:
        result["organisations"] = orgs
        result["unclassified"] = unclassified
    if format:
        keys = [group_by, "organisations", *CLASSES, *[f"{c}_share" for c in CLASSES]]
        return export_response(summary, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="wellbeing-productivity")
    return result


@router.get("/spread", summary="Spread of practices", response_model=None, responses=R)
async def spread(session: SessionDep,
                 practice_id: Annotated[str | None, Query(max_length=36)] = None,
                 interval: Annotated[str, Query(max_length=limits.CODE,
                                                pattern="^(year|half|quarter)$")] = "year",
                 format: Fmt = None):
    """Adoptions over time, organisations and regions reached, within the originating
    projects' organisations or beyond them, and by scope (from the registry's events)."""
    q = select(adoption).order_by(adoption.c.adopted_on)
    if practice_id:
        q = q.where(adoption.c.practice_id == practice_id)
    rows = (await session.execute(q)).mappings().all()
    names = dict((await session.execute(select(practice_projection.c.id,
                                               practice_projection.c.name))).all())
    kind = {"year": "Y", "half": "H", "quarter": "Q"}[interval]
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
    if format:
        keys = ["practice_id", "adoptions", "organisations_reached", "regions_reached",
                "within_origin", "beyond_origin"]
        return export_response(items, [Column(x, {"fi": x, "en": x}) for x in keys], format,
                               filename="spread")
    return {"items": items, "total": len(items)}
