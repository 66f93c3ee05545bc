"""Payloads of theme_evaluation.*, recommendation.* and follow_up.* events, from the records'
response views (no personal data: actors and notes on use stay out)."""

from __future__ import annotations

from typing import Any

EVALUATION_FIELDS = ("id", "version", "theme_id", "kind", "title", "evaluator", "started",
                     "completed", "questions", "findings", "report_url")
RECOMMENDATION_FIELDS = ("id", "version", "evaluation_id", "theme_id", "number", "text",
                         "addressee", "project_ids", "practice_ids", "status")


def evaluation(view: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """theme_evaluation.recorded, or .updated with the changed fields when there is a `before`."""
    state = {k: view[k] for k in EVALUATION_FIELDS}
    if before is None:
        return state
    return {**state, "changed_fields": [k for k in EVALUATION_FIELDS
                                        if k != "version" and state[k] != before.get(k)]}


def recommendation(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in RECOMMENDATION_FIELDS}


def transitioned(view: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    return {"id": view["id"], "version": view["version"], "evaluation_id": view["evaluation_id"],
            "theme_id": view["theme_id"], "from_status": step["from_status"],
            "to_status": step["to_status"], "date": step["date"], "note": step["note"]}


def follow_up(view: dict[str, Any]) -> dict[str, Any]:
    return {"id": view["id"], "project_id": view["project_id"], "theme_id": view["theme_id"],
            "months": view["months"], "date": view["date"], "practices": [
                {"practice_id": p["practice_id"], "in_use": p["in_use"],
                 "organisation_ids": [u["organisation_id"] for u in p["used_by"]
                                      if u.get("organisation_id")],
                 "users": len(p["used_by"])} for p in view["practices"]]}
