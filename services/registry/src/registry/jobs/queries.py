"""The jobs' SQL: claim with a lease (one atomic UPDATE), heartbeat, progress, reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.jobs.models import Job, JobData, JobQuota
from shared.db import utcnow

J = Job.__table__
D = JobData.__table__
ACTIVE = ("queued", "running")
# Every column but none of the blobs (those are in job_data).
COLUMNS = list(J.c)


def _claimable(now: dt.datetime):
    # Queued, or running under a lease that expired (its worker died or was killed).
    return or_(J.c.state == "queued", and_(J.c.state == "running", J.c.lease_until < now))


async def claim(session: AsyncSession, worker: str, lease_seconds: float) -> dict | None:
    """Takes the oldest claimable job for `worker`: an UPDATE whose WHERE re-checks the job is
    still claimable, so of two workers racing for one job exactly one updates a row (on
    PostgreSQL the second waits for the first's row lock and then sees a fresh lease; SQLite
    has one writer at a time)."""
    now = utcnow()
    candidates = (await session.scalars(select(J.c.id).where(_claimable(now))
                                        .order_by(J.c.created_at).limit(5))).all()
    for job_id in candidates:
        done = await session.execute(
            update(J).where(J.c.id == job_id, _claimable(now))
            .values(state="running", lease_owner=worker,
                    lease_until=now + dt.timedelta(seconds=lease_seconds),
                    started_at=func.coalesce(J.c.started_at, now), attempts=J.c.attempts + 1))
        if done.rowcount == 1:
            return await get(session, job_id)
    return None


async def extend_lease(session: AsyncSession, job_id: str, worker: str, lease_seconds: float,
                       **values: Any) -> bool:
    """Renews the lease (and sets `values`) if `worker` still holds it; False: it lost it."""
    done = await session.execute(
        update(J).where(J.c.id == job_id, J.c.lease_owner == worker, J.c.state == "running")
        .values(lease_until=utcnow() + dt.timedelta(seconds=lease_seconds), **values))
    return done.rowcount == 1


async def finish(session: AsyncSession, job_id: str, worker: str, state: str,
                 now: dt.datetime, **values: Any) -> bool:
    done = await session.execute(
        update(J).where(J.c.id == job_id, J.c.lease_owner == worker, J.c.state == "running")
        # lease_owner stays: which worker ran the job to its end.
        .values(state=state, finished_at=now, lease_until=None, **values))
    return done.rowcount == 1


async def release(session: AsyncSession, job_id: str, worker: str) -> None:
    """A worker stopping gracefully hands its job back at once (the lease expires now)."""
    await session.execute(update(J).where(J.c.id == job_id, J.c.lease_owner == worker,
                                          J.c.state == "running").values(lease_until=utcnow()))


async def get(session: AsyncSession, job_id: str) -> dict | None:
    row = (await session.execute(select(*COLUMNS).where(J.c.id == job_id))).mappings().first()
    return dict(row) if row else None


async def page(session: AsyncSession, owner: str | None, after: tuple | None,
               limit: int) -> tuple[list[dict], int]:
    """Jobs newest first (all of them when `owner` is None), and how many there are."""
    where = [] if owner is None else [J.c.owner == owner]
    total = (await session.execute(select(func.count()).select_from(J).where(*where))).scalar_one()
    q = select(*COLUMNS).where(*where)
    if after is not None:
        at, jid = after
        q = q.where(or_(J.c.created_at < at, and_(J.c.created_at == at, J.c.id < jid)))
    rows = (await session.execute(q.order_by(J.c.created_at.desc(), J.c.id.desc())
                                  .limit(limit + 1))).mappings().all()
    return [dict(r) for r in rows], total


async def active_count(session: AsyncSession, owner: str) -> int:
    return (await session.execute(select(func.count()).select_from(J).where(
        J.c.owner == owner, J.c.state.in_(ACTIVE)))).scalar_one()


async def quota(session: AsyncSession, subject: str) -> int | None:
    return (await session.execute(select(JobQuota.max_active)
                                  .where(JobQuota.subject == subject))).scalar()


async def set_quota(session: AsyncSession, subject: str, max_active: int, by: str) -> None:
    await session.execute(delete(JobQuota).where(JobQuota.subject == subject))
    session.add(JobQuota(subject=subject, max_active=max_active, set_by=by, set_at=utcnow()))
    await session.flush()


async def cancel(session: AsyncSession, job_id: str) -> str | None:
    """A queued job is cancelled at once; a running one is asked to stop between chunks.
    Returns 'cancelled', 'requested' or None (already finished)."""
    now = utcnow()
    done = await session.execute(update(J).where(J.c.id == job_id, J.c.state == "queued")
                                 .values(state="cancelled", finished_at=now, cancel_requested=True))
    if done.rowcount == 1:
        return "cancelled"
    done = await session.execute(update(J).where(J.c.id == job_id, J.c.state == "running")
                                 .values(cancel_requested=True))
    return "requested" if done.rowcount == 1 else None


async def cancel_requested(session: AsyncSession, job_id: str) -> bool:
    return bool((await session.execute(select(J.c.cancel_requested)
                                       .where(J.c.id == job_id))).scalar())


async def read_part(session: AsyncSession, job_id: str, part: str) -> bytes | None:
    return (await session.execute(select(D.c.content).where(D.c.job_id == job_id,
                                                            D.c.part == part))).scalar()


async def write_part(session: AsyncSession, job_id: str, part: str, content: bytes) -> None:
    await session.execute(delete(D).where(D.c.job_id == job_id, D.c.part == part))
    await session.execute(D.insert().values(job_id=job_id, part=part, content=content))


async def insert(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(J.insert().values(**values))
