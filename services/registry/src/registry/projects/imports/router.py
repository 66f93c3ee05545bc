"""The bulk import route (HTTP only: rights, body, Idempotency-Key, the answer)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import ORJSONResponse

from registry.jobs import router as jobs
from registry.projects.imports import service as import_service
from registry.projects.imports.parsing import parse_body
from registry.projects.imports.schemas import ImportRefused, ImportRefusedProblem, ImportReport
from shared import idempotency, limits
from shared.errors import PROBLEM_MEDIA_TYPE, Forbidden, problem_responses
from shared.identity import Authenticated
from shared.jsonutil import dumps, loads
from shared.uow import UnitOfWorkDep

router = APIRouter(prefix="/projects", tags=["import"])


_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ImportReport, "description": "The per-row report"},
    **jobs.ACCEPTED,
    **problem_responses(401, 403, 413, 415),
    422: {"model": ImportRefusedProblem,
          "description": "Invalid input, or an all-or-nothing import refused (with its report)",
          "content": {PROBLEM_MEDIA_TYPE: {
              "schema": {"$ref": "#/components/schemas/ImportRefusedProblem"}}}},
}


# The body as each media type the handler reads (parsing.parse_body): JSON {"projects": [...]},
# and CSV with a header row. A bare JSON list of projects is read too but not declared: a oneOf
# of an array and an object made generated clients fail (openapi-python-client's isinstance
# on list[...]), and one JSON shape is what a client needs.
_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "required": ["projects"],
        "properties": {"projects": {
            "type": "array", "maxItems": limits.IMPORT_ROWS,
            "items": {"$ref": "#/components/schemas/ProjectCreate"}}}}},
    # CSV as a file (format binary): generated clients then send bytes, not a typed string.
    "text/csv": {"schema": {
        "type": "string", "format": "binary", "maxLength": limits.BULK_BODY_BYTES, "description": (
        "A header row: code, name_fi/name_sv/name_en, goals_fi..., budget_<source>, lists "
        "(region_codes, target_groups, sub_themes, case_numbers) separated by ';'.")}},
    "application/csv": {"schema": {"type": "string", "format": "binary",
                                   "maxLength": limits.BULK_BODY_BYTES}},
}}}


@router.post("/import", summary="Bulk import projects (JSON or CSV)", responses=_IMPORT_RESPONSES,
             openapi_extra=_IMPORT_BODY)
async def import_projects(
    request: Request, uow: UnitOfWorkDep, identity: Authenticated,
    mode: Literal["best_effort", "all_or_nothing"] = "best_effort",
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing.")] = False,
    prefer: jobs.PreferHeader = None,
) -> ORJSONResponse:
    """Upsert by project code; per-row report (created / updated / rejected, with reasons).

    `mode=all_or_nothing` writes nothing if any row is rejected, and answers 422 problem+json
    with the report as extension members. The same `Idempotency-Key` with
    the same body returns the first result and changes nothing; with another body it is refused.
    """
    if not identity.has_role("admin", "coordinator", "implementer"):
        raise Forbidden("only implementers, coordinators and admins import projects")
    body = await request.body()
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    digest = idempotency.request_hash(body, ctype, mode, str(dry_run))
    if idempotency_key is not None:
        hit = await import_service.replay(uow.session, identity, idempotency_key, digest)
        if hit is not None:
            headers = {"Idempotent-Replay": "true"}
            if hit[0] == 202:  # the job this key made
                headers["Location"] = f"/api/v1/jobs/{hit[1]['id']}"
            return ORJSONResponse(hit[1], status_code=hit[0], headers=headers)
    with import_service.gc_paused():
        rows = parse_body(body, ctype)
        preferred = jobs.wants_async(prefer)
        if preferred or len(rows) > jobs.settings_of(request).job_import_async_rows:
            answer = await jobs.accept(uow, request, identity, "projects.import",
                                       {"mode": mode, "dry_run": dry_run}, len(rows),
                                       dumps(rows), preferred)
            if idempotency_key is not None:
                await import_service.remember(uow.session, identity, idempotency_key, digest,
                                              202, loads(answer.body))
            return answer
        status_code, result = await import_service.run_import(uow, identity, rows, mode, dry_run)
        if status_code == 422:  # all or nothing, and some row was rejected: nothing written
            rejected, total = result["summary"]["rejected"], len(result["rows"])
            raise ImportRefused(f"{rejected} of {total} rows rejected; mode=all_or_nothing "
                                "wrote nothing (see rows)", **result)
        if idempotency_key is not None and status_code < 400 and not dry_run:
            await import_service.remember(uow.session, identity, idempotency_key, digest,
                                          status_code, result)
        return ORJSONResponse(result, status_code=status_code)
