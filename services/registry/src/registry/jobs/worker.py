"""The job worker: a background loop in every registry process that claims jobs from the
database with a lease, heartbeats while it runs one, and hands it back when it stops.

Any number of replicas share one database: a claim is one atomic UPDATE (queries.claim), every
chunk commits only while its worker still holds the lease, and a job whose worker died (no
heartbeat for `job_lease_seconds`) is claimed again by whichever worker looks next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Any

from registry.events import jobs as job_events
from registry.jobs import queries, runners
from shared.contracts import registry as contracts
from shared.db import utcnow
from shared.logging import get_logger
from shared.uow import UnitOfWork

log = get_logger("registry.jobs")

_workers: list[JobWorker] = []


def wake() -> None:
    """A job was queued here: look now rather than at the next poll."""
    for w in _workers:
        w.wake.set()


class Stop(Exception):
    """The job must stop between chunks: cancelled, the lease lost, or the process stopping."""


class JobWorker:
    def __init__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self.sessionmaker = state["sessionmaker"]
        self.outbox = state["outbox"]
        self.name = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self.stopping = False
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> JobWorker:
        _workers.append(self)
        self._task = asyncio.create_task(self._loop(), name="registry.jobs")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stopping = True
        self.wake.set()
        if self in _workers:
            _workers.remove(self)
        if self._task is not None:
            try:  # the job in hand stops at its next chunk and is handed back
                await asyncio.wait_for(self._task, 10)
            except TimeoutError:
                log.warning("jobs.stop_timeout", worker=self.name)

    async def _loop(self) -> None:
        while not self.stopping:
            self.wake.clear()
            try:
                job = await self._claim()
                if job is not None:
                    await self._run(job)
                    continue
            except Exception as exc:  # the database may be away; try again at the next poll
                log.warning("jobs.loop_error", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.job_poll_seconds)

    async def _claim(self) -> dict | None:
        async with self.sessionmaker() as session:
            job = await queries.claim(session, self.name, self.settings.job_lease_seconds)
            await session.commit()
        if job is not None:
            log.info("jobs.claimed", job=job["id"], kind=job["kind"], attempts=job["attempts"],
                     worker=self.name)
        return job

    async def _run(self, job: dict) -> None:
        ctx = JobContext(self, job)
        beat = asyncio.create_task(ctx.heartbeat())
        try:
            await ctx.check()
            run = runners.RUNNERS[job["kind"]]
            await run(ctx)
        except Stop as why:
            log.info("jobs.stopped", job=job["id"], reason=str(why))
            if str(why) == "cancelled":
                await ctx.finish("cancelled")
            elif str(why) == "stopping":
                async with self.sessionmaker() as session:
                    await queries.release(session, job["id"], self.name)
                    await session.commit()
        except Exception as exc:
            log.warning("jobs.failed", job=job["id"], error=repr(exc), exc_info=True)
            with contextlib.suppress(Stop):
                failure = {"field": "job", "type": "internal",
                           "message": f"the job failed: {type(exc).__name__}"}
                await ctx.finish("failed", errors=[*ctx.errors[:99], failure])
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat


class JobContext:
    """What a runner uses: the job, the settings, sessions, and the checks between chunks."""

    def __init__(self, worker: JobWorker, job: dict) -> None:
        self.worker = worker
        self.job = job
        self.settings = worker.settings
        self.sessionmaker = worker.sessionmaker
        self.errors: list[dict] = list(job.get("errors") or [])
        self.lost = False

    def uow(self, session) -> UnitOfWork:
        return UnitOfWork(session, self.worker.outbox)

    async def heartbeat(self) -> None:
        every = self.settings.job_lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self.sessionmaker() as session:
                    held = await queries.extend_lease(session, self.job["id"], self.worker.name,
                                                      self.settings.job_lease_seconds)
                    await session.commit()
                if not held:
                    self.lost = True
                    return
            except Exception as exc:  # the next beat, or the chunk's own renewal, tries again
                log.warning("jobs.heartbeat_error", job=self.job["id"], error=repr(exc))

    async def check(self) -> None:
        """Between chunks: stop if the process is stopping, the lease is lost or cancelled."""
        if self.worker.stopping:
            raise Stop("stopping")
        if self.lost:
            raise Stop("lease lost")
        async with self.sessionmaker() as session:
            if await queries.cancel_requested(session, self.job["id"]):
                raise Stop("cancelled")

    async def commit_chunk(self, session, rows_done: int, **values: Any) -> None:
        """Records progress in the chunk's own transaction and commits both, only while this
        worker holds the lease: a chunk is written once, by the job's one worker."""
        held = await queries.extend_lease(session, self.job["id"], self.worker.name,
                                          self.settings.job_lease_seconds, rows_done=rows_done,
                                          errors=self.errors[:100], **values)
        if not held:
            await session.rollback()
            self.lost = True
            raise Stop("lease lost")
        await session.commit()
        self.job["rows_done"] = rows_done

    async def finish(self, state: str, session=None, **values: Any) -> None:
        """Ends the job and records job.completed in the same transaction."""
        async with contextlib.AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(self.sessionmaker())
            now = utcnow()
            if "errors" not in values:
                values["errors"] = self.errors[:100]
            if not await queries.finish(session, self.job["id"], self.worker.name, state, now,
                                        **values):
                await session.rollback()
                raise Stop("lease lost")
            job = {**self.job, **values}
            await self.uow(session).emit(contracts.JOB_COMPLETED, job["id"], job_events.completed(
                job, state, job["rows_done"], now))
            await session.commit()
        log.info("jobs.finished", job=self.job["id"], state=state)


def job_worker(state: dict[str, Any]) -> JobWorker:
    return JobWorker(state)
