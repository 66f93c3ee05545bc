"""The data of the events indicators emits, built in one place (each checked against its
contract in shared.contracts.indicators by the tests)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from indicators.models import Report, SurveyRound, Target


def report_event(r: Report, codes: list[str], actor: str | None,
                 reason: str | None = None) -> dict[str, Any]:
    """report.submitted / approved / reopened."""
    return {"id": r.id, "project_id": r.project_id, "period": r.period, "revision": r.revision,
            "status": r.status, "indicator_codes": sorted(set(codes)), "actor": actor,
            "reason": reason}


def target_reached(tg: Target, value: float, period: str) -> dict[str, Any]:
    return {"id": tg.id, "project_id": tg.project_id, "indicator_code": tg.indicator_code,
            "target_value": tg.target_value, "value": value, "period": period,
            "reached_on": tg.reached_on.isoformat()}


def survey_round_closed(r: SurveyRound, instrument_code: str,
                        results_available: bool) -> dict[str, Any]:
    closed_at: dt.datetime = r.closed_at
    return {"id": r.id, "project_id": r.project_id, "organisation_id": r.organisation_id,
            "instrument": instrument_code, "label": r.label,
            "closed_at": closed_at.isoformat().replace("+00:00", "Z"),
            "results_available": results_available}


def goal_state(goal: Any, indicators: list[Any],
               changed_fields: list[str] | None = None) -> dict[str, Any]:
    """goal.created (no changed_fields) / goal.updated: the goal's whole new state."""
    data = {"id": goal.id, "version": goal.version, "theme_id": goal.theme_id, "code": goal.code,
            "name": goal.name, "description": goal.description,
            "indicators": [{"indicator_code": i.indicator_code, "period": i.period,
                            "baseline": i.baseline, "target": i.target, "unit": i.unit,
                            "unverified": i.unverified} for i in indicators]}
    if changed_fields is not None:
        data["changed_fields"] = changed_fields
    return data
