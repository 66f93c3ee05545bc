"""Import rows checked: the request model, duplicate codes, references, rights and rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from registry.projects.schemas import ProjectCreate
from registry.projects.service import ALLOWED_STATUS
from shared.errors import validation_errors
from shared.identity import Identity


def reject(report: list, i: int, code: Any, errors: list[dict[str, str]]) -> None:
    report.append({"row": i, "code": code, "result": "rejected", "errors": errors})


def validate_rows(rows: list[dict]) -> tuple[list[dict[str, Any]], list[tuple[int, ProjectCreate, set[str]]]]:
    """Each row through `ProjectCreate`; a code seen earlier in the request is rejected. The
    report of the rejected rows, and (row number, model, keys given) of the others."""
    report: list[dict[str, Any]] = []
    valid: list[tuple[int, ProjectCreate, set[str]]] = []
    seen: set[str] = set()
    for i, raw in enumerate(rows):
        try:
            item = ProjectCreate.model_validate(raw)
        except ValidationError as exc:
            reject(report, i, raw.get("code"), validation_errors(exc.errors()))
            continue
        if item.code in seen:
            reject(report, i, item.code, [{"field": "code", "type": "duplicate",
                                           "message": "this code appears earlier in the request"}])
            continue
        seen.add(item.code)
        valid.append((i, item, set(raw)))
    return report, valid


def row_errors(identity: Identity, item: ProjectCreate, old: dict | None, refs: dict,
                orgs: set[str]) -> list[dict[str, str]]:
    errors = []
    if not identity.is_national:
        owner = old["organisation_id"] if old else (item.organisation_id or identity.org)
        if owner != identity.org or (item.organisation_id and item.organisation_id != identity.org):
            errors.append({"field": "organisation_id", "type": "forbidden",
                           "message": "you may import only your own organisation's projects"})
    # The caller's own organisation is vouched for by its token (see service.check_references).
    if item.organisation_id and item.organisation_id not in orgs \
            and item.organisation_id != identity.org:
        errors.append({"field": "organisation_id", "type": "unknown_id",
                       "message": "no such organisation"})
    if item.funder_id and item.funder_id not in orgs:
        errors.append({"field": "funder_id", "type": "unknown_id", "message": "no such organisation"})
    for key, found in refs.items():
        value = getattr(item, key)
        if value and value not in found:
            errors.append({"field": key, "type": "unknown_id", "message": f"no such {key[:-3]}"})
    for j, p in enumerate(item.partners or []):
        if p.organisation_id not in orgs:
            errors.append({"field": f"partners/{j}/organisation_id", "type": "unknown_id",
                           "message": "no such organisation"})
    if old is not None:
        if old["archived"]:
            errors.append({"field": "code", "type": "archived", "message": "the project is archived"})
        if item.status != old["status"] and "status" in item.model_fields_set \
                and item.status not in ALLOWED_STATUS[old["status"]]:
            errors.append({"field": "status", "type": "transition",
                           "message": f"status cannot move from {old['status']} to {item.status}"})
        lead = item.organisation_id or old["organisation_id"]
        if item.partners and lead in {p.organisation_id for p in item.partners}:
            errors.append({"field": "partners", "type": "partner_is_lead",
                           "message": "the lead implementer cannot also be a partner"})
    return errors
