"""/jobs: long imports and exports behind the request; /admin/registry/job-quotas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import ORJSONResponse

from registry.jobs import service, worker
from registry.jobs.schemas import JobPage, JobRead, QuotaIn, QuotaRead
from shared.db import SessionDep
from shared.errors import problem_responses
from shared.identity import Authenticated
from shared.limits import IdPath
from shared.pagination import Cursor
from shared.uow import UnitOfWork, UnitOfWorkDep

router = APIRouter(prefix="/jobs", tags=["jobs"])
admin_router = APIRouter(prefix="/admin/registry/job-quotas", tags=["jobs"])

JobLimit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Subject = Annotated[str, Path(max_length=200, description="An identity's `sub` (a user, or "
                                                          "an API key's identity).")]
PreferHeader = Annotated[str | None, Header(max_length=200, description=(
    "`respond-async` (RFC 7240): answer 202 with a job whatever the size."))]


def wants_async(prefer: str | None) -> bool:
    return prefer is not None and any(p.split("=")[0].strip().lower() == "respond-async"
                                      for p in prefer.split(",") for p in p.split(";"))


def settings_of(request: Request):
    return request.app.state.settings


async def job_json(session, job: dict, with_report: bool = True) -> dict[str, Any]:
    done = job["state"] in ("succeeded", "failed", "cancelled")
    result: Any = None
    if job["kind"] == "projects.import" and done and with_report:
        result = await service.report(session, job)
    elif job["kind"] == "projects.export" and job["state"] == "succeeded":
        expires = job["result_expires_at"]
        result = {"href": f"/api/v1/jobs/{job['id']}/result", "media_type": job["result_media_type"],
                  "expires_at": expires, "expired": expires is None or expires <= service.utcnow()}
    body = JobRead.model_validate({
        **job, "progress": {"rows_done": job["rows_done"], "rows_total": job["rows_total"]},
        "errors": job["errors"] or [], "result": result,
        "links": {"self": f"/api/v1/jobs/{job['id']}",
                  "cancel": f"/api/v1/jobs/{job['id']}/cancel"}})
    return body.model_dump(mode="json")


async def accept(uow: UnitOfWork, request: Request, identity, kind: str, params: dict[str, Any],
                 rows_total: int | None = None, input_rows: bytes | None = None,
                 preferred: bool = False) -> ORJSONResponse:
    """202 Accepted with the queued job and its Location (or 429 past the caller's quota)."""
    settings = settings_of(request)
    job = await service.create(uow, identity, kind, params, settings.job_max_active,
                               rows_total, input_rows)
    worker.wake()  # this process looks at once; the job is visible when the request commits
    headers = {"Location": f"/api/v1/jobs/{job['id']}"}
    if preferred:
        headers["Preference-Applied"] = "respond-async"
    return ORJSONResponse(await job_json(uow.session, job), status_code=202, headers=headers)


ACCEPTED = {202: {"model": JobRead, "description": "Accepted as a job: poll `Location` "
                                                    "(`GET /jobs/{id}`) until it has ended",
                  "headers": {"Location": {"schema": {"type": "string"},
                                           "description": "/api/v1/jobs/{id}"}}},
            429: problem_responses(429)[429]}


@router.get("", summary="List your jobs", response_model=JobPage,
            responses=problem_responses(401, 422))
async def list_jobs(session: SessionDep, identity: Authenticated, limit: JobLimit = 50,
                    cursor: Cursor = None) -> ORJSONResponse:
    """The caller's jobs, newest first (administrators: everyone's)."""
    rows, total, nxt = await service.page(session, identity, cursor, limit)
    # A list carries no import reports (up to 10,000 rows each): read the job for that.
    return ORJSONResponse({"items": [await job_json(session, j, with_report=False) for j in rows],
                           "total": total, "next_cursor": nxt})


@router.get("/{job_id}", summary="Read a job: state, progress, errors, result",
            response_model=JobRead, responses=problem_responses(401, 404))
async def read_job(job_id: IdPath, session: SessionDep, identity: Authenticated) -> ORJSONResponse:
    """Kind, state (queued, running, succeeded, failed, cancelled), progress (rows done of
    rows total), errors so far, times; when ended, the import report or the export's link."""
    job = await service.get(session, identity, job_id)
    return ORJSONResponse(await job_json(session, job))


@router.post("/{job_id}/cancel", summary="Cancel a job", response_model=JobRead,
             status_code=202, responses=problem_responses(401, 404, 409))
async def cancel_job(job_id: IdPath, uow: UnitOfWorkDep, identity: Authenticated) -> ORJSONResponse:
    """A queued job is cancelled at once; a running one stops after its current chunk (an
    import keeps the chunks already written and reports them). 409 if it has already ended."""
    job = await service.cancel(uow, identity, job_id)
    return ORJSONResponse(await job_json(uow.session, job), status_code=202)


@router.get("/{job_id}/result", summary="Download an export job's file",
            responses={200: {"description": "The file (CSV, XLSX or JSON)", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                **problem_responses(401, 404, 409, 410)})
async def job_result(job_id: IdPath, session: SessionDep, identity: Authenticated) -> Response:
    """Served from the database by any replica until the link expires (then 410)."""
    job, content = await service.result_file(session, identity, job_id)
    return Response(content, media_type=job["result_media_type"], headers={
        "Content-Disposition": f'attachment; filename="{job["result_filename"]}"'})


@admin_router.get("/{subject}", summary="An identity's active-jobs quota",
                  response_model=QuotaRead, responses=problem_responses(401, 403))
async def read_job_quota(subject: Subject, request: Request, session: SessionDep,
                         identity: Authenticated) -> QuotaRead:
    service.require_admin(identity)
    n, default = await service.limit_for(session, subject, settings_of(request).job_max_active)
    return QuotaRead(subject=subject, max_active=n, default=default)


@admin_router.put("/{subject}", summary="Raise (or lower) an identity's active-jobs quota",
                  response_model=QuotaRead, responses=problem_responses(401, 403, 422))
async def set_job_quota(subject: Subject, body: QuotaIn, session: SessionDep,
                        identity: Authenticated) -> QuotaRead:
    """Administrators. At most `max_active` queued or running jobs for this identity (a user's
    sub, or an API key's identity) instead of the configured default."""
    await service.set_quota(session, identity, subject, body.max_active)
    return QuotaRead(subject=subject, max_active=body.max_active, default=False)

