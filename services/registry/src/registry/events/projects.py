"""The project state events carry (`project.created`, `project.updated`): `ProjectState`.

One builder for every writer: a single project (the service, with its ORM object) and the bulk
import (with its plain row records). The keys are `shared.contracts.registry.ProjectState`'s fields
(checked once at import), in the order the payloads have
always had (the outbox stores the JSON as built, so the order is part of the bytes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from shared.contracts.registry import ProjectState


def project_state(project: Any, partner_ids: Iterable[str] | None = None,
                  specific_objective: str | None = None) -> dict[str, Any]:
    """The `ProjectState` payload of `project`: a `Project` or a row record (a mapping with the
    project's columns), its partners' organisation ids, and its theme's ESF+ objective.
    JSON values: dates as ISO strings, the budget as an exact decimal string."""
    get = project.get if isinstance(project, Mapping) else partial(getattr, project)
    start, end, budget = get("start_date"), get("end_date"), get("budget_total")
    return {
        "id": get("id"), "version": get("version"), "code": get("code"), "name": get("name"),
        "status": get("status"),
        "start_date": start.isoformat() if start else None,
        "end_date": end.isoformat() if end else None,
        "organisation_id": get("organisation_id"), "funder_id": get("funder_id"),
        "region_codes": list(get("region_codes") or []),
        "theme_id": get("theme_id"), "programme_id": get("programme_id"), "call_id": get("call_id"),
        "specific_objective": specific_objective,
        "partner_ids": sorted(partner_ids or []),
        "target_groups": list(get("target_groups") or []),
        "sub_themes": list(get("sub_themes") or []),
        "budget_total": str(budget) if budget is not None else None,
        "published": bool(get("published")), "archived": bool(get("archived")),
        "kind": get("kind") or "development",
        # New keys go last: the outbox keeps the JSON as built (issue 15, list of operations).
        "co_financing_rate": str(rate) if (rate := get("co_financing_rate")) is not None else None,
        "intervention_type": get("intervention_type"),
    }


# The keys are the contract's fields (fails at import when ProjectState gains or loses one).
if set(project_state({})) != set(ProjectState.model_fields):  # pragma: no cover
    raise RuntimeError("registry.events.projects.project_state is out of step with ProjectState")
