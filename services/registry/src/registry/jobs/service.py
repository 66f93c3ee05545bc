"""The jobs' rules: the active-jobs quota, who sees which job, cancel, the result's lifetime."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.events import jobs as job_events
from registry.jobs import queries
from registry.projects.imports.writing import lock_key
from shared.contracts import registry as contracts
from shared.db import new_id, utcnow
from shared.errors import AppError, Conflict, Forbidden, NotFound
from shared.identity import Identity
from shared.jsonutil import loads
from shared.pagination import decode_cursor, encode_cursor
from shared.uow import UnitOfWork

MAX_ERRORS = 100  # a job keeps its first errors; the import report lists every rejected row
RETRY_AFTER_SECONDS = 30  # a rough wait for one of the caller's jobs to end


class TooManyJobs(AppError):
    status, slug, title = 429, "too-many-jobs", "Too many active jobs"


class Gone(AppError):
    status, slug, title = 410, "gone", "Gone"


def identity_json(identity: Identity) -> dict[str, Any]:
    return {"sub": identity.sub, "kind": identity.kind, "roles": list(identity.roles),
            "org": identity.org, "scopes": list(identity.scopes), "name": identity.name}


def identity_from(data: dict[str, Any]) -> Identity:
    return Identity(sub=data["sub"], kind=data["kind"], roles=tuple(data["roles"]),
                    org=data.get("org"), scopes=tuple(data.get("scopes") or ()),
                    name=data.get("name"))


async def limit_for(session: AsyncSession, subject: str, default: int) -> tuple[int, bool]:
    override = await queries.quota(session, subject)
    return (default, True) if override is None else (override, False)


async def create(uow: UnitOfWork, identity: Identity, kind: str, params: dict[str, Any],
                 max_active: int, rows_total: int | None = None,
                 input_rows: bytes | None = None) -> dict:
    """A queued job for `identity`, or 429 when they already have their quota of active jobs."""
    session = uow.session
    # Serialises the count and the insert per identity (PostgreSQL; SQLite has one writer).
    await lock_key(session, f"jobs|{identity.sub}")
    allowed, _ = await limit_for(session, identity.sub, max_active)
    active = await queries.active_count(session, identity.sub)
    if active >= allowed:
        raise TooManyJobs(f"{active} of your jobs are queued or running (at most {allowed}); "
                          "wait for one to end, or cancel one",
                          headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    job_id = new_id()
    await queries.insert(session, {
        "id": job_id, "kind": kind, "state": "queued", "owner": identity.sub,
        "identity": identity_json(identity), "params": params, "rows_total": rows_total,
        "rows_done": 0, "errors": [], "cancel_requested": False, "attempts": 0,
        "created_at": utcnow()})
    if input_rows is not None:
        await queries.write_part(session, job_id, "input", input_rows)
    return await queries.get(session, job_id)


async def get(session: AsyncSession, identity: Identity, job_id: str) -> dict:
    """The job, if the caller asked for it or is an admin; anyone else gets 404."""
    job = await queries.get(session, job_id)
    if job is None or (job["owner"] != identity.sub and not identity.has_role("admin")):
        raise NotFound(f"no job {job_id}")
    return job


async def page(session: AsyncSession, identity: Identity, cursor: str | None,
               limit: int) -> tuple[list[dict], int, str | None]:
    after = decode_cursor(cursor)
    if after is not None:
        try:
            after = (dt.datetime.fromisoformat(after[0]), str(after[1]))
        except (ValueError, IndexError, TypeError):
            raise NotFound("invalid cursor") from None
    owner = None if identity.has_role("admin") else identity.sub
    rows, total = await queries.page(session, owner, after, limit)
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = encode_cursor([rows[-1]["created_at"].isoformat(), rows[-1]["id"]])
    return rows, total, nxt


async def cancel(uow: UnitOfWork, identity: Identity, job_id: str) -> dict:
    """A queued job ends at once (job.completed, cancelled); a running one stops at its next
    chunk. A finished job cannot be cancelled (409)."""
    job = await get(uow.session, identity, job_id)
    outcome = await queries.cancel(uow.session, job_id)
    if outcome is None:
        raise Conflict(f"the job has already ended ({job['state']})")
    job = await queries.get(uow.session, job_id)
    if outcome == "cancelled":
        await uow.emit(contracts.JOB_COMPLETED, job_id,
                       job_events.completed(job, "cancelled", job["rows_done"], job["finished_at"]))
    return job


async def result_file(session: AsyncSession, identity: Identity, job_id: str) -> tuple[dict, bytes]:
    """A finished export's file while its link lives: 409 before, 410 after."""
    job = await get(session, identity, job_id)
    if job["kind"] != "projects.export" or job["state"] != "succeeded":
        raise Conflict(f"no file: the job is {job['state']}" if job["kind"] == "projects.export"
                       else "an import job has no file; its report is in the job")
    if job["result_expires_at"] is None or job["result_expires_at"] <= utcnow():
        raise Gone("the download link has expired; export again")
    content = await queries.read_part(session, job_id, "result")
    if content is None:
        raise Gone("the download link has expired; export again")
    return job, content


async def report(session: AsyncSession, job: dict) -> dict | None:
    if job["kind"] != "projects.import":
        return None
    raw = await queries.read_part(session, job["id"], "report")
    return None if raw is None else loads(raw)


async def set_quota(session: AsyncSession, identity: Identity, subject: str,
                    max_active: int) -> None:
    if not identity.has_role("admin"):
        raise Forbidden("only administrators set job quotas")
    await queries.set_quota(session, subject, max_active, identity.sub)


def require_admin(identity: Identity) -> None:
    if not identity.has_role("admin"):
        raise Forbidden("only administrators read job quotas")
