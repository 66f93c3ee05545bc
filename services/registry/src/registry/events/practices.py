"""Payloads of practice.* and adoption.* events."""

from __future__ import annotations

from typing import Any

from registry.models import Practice

ADOPTION_FIELDS = ("id", "practice_id", "organisation_id", "adopted_on", "scope", "region_code",
                   "project_id", "within_origin")


def state(p: Practice) -> dict[str, Any]:
    """The practice's public state: practice.published, and the change feed's row."""
    return {"id": p.id, "version": p.version, "name": p.name, "kind": p.kind,
            "maturity": p.maturity, "project_ids": list(p.project_ids or []),
            "sub_themes": list(p.sub_themes or []), "target_groups": list(p.target_groups or []),
            "published": bool(p.published)}


def maturity_changed(p: Practice, from_maturity: str) -> dict[str, Any]:
    return {**state(p), "from_maturity": from_maturity}


def adoption_recorded(view: dict[str, Any]) -> dict[str, Any]:
    """adoption.recorded from the adoption's response view (its notes stay out)."""
    return {k: view[k] for k in ADOPTION_FIELDS}
