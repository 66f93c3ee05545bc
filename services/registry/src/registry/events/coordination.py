"""Payloads of steering_meeting.* and service_need.* events (no personal data: no names, no
free-text evidence)."""

from __future__ import annotations

from typing import Any

from registry.models import ServiceNeed, SteeringMeeting


def meeting_recorded(m: SteeringMeeting) -> dict[str, Any]:
    return {"id": m.id, "project_id": m.project_id, "date": m.date.isoformat(),
            "participant_roles": sorted({p["role"] for p in m.participants or []}),
            "coordination_attended": m.coordination_attended, "funder_attended": m.funder_attended}


def need_state(n: ServiceNeed) -> dict[str, Any]:
    return {"id": n.id, "version": n.version, "theme_id": n.theme_id, "title": n.title,
            "region_codes": list(n.region_codes or []),
            "target_group_codes": list(n.target_group_codes or []),
            "project_ids": list(n.project_ids or []), "status": n.status,
            "organisation_id": n.organisation_id}


def need_transitioned(n: ServiceNeed, from_status: str, reason: str | None) -> dict[str, Any]:
    return {**need_state(n), "from_status": from_status, "to_status": n.status, "reason": reason}
