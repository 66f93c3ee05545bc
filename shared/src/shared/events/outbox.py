"""Transactional outbox: the event row is written with the change; a relay publishes it.

The relay wakes when a transaction that wrote events commits (and on a poll timer as a
safety net), publishes in commit order with `Nats-Msg-Id` = event id through async publish
with a bounded in-flight window, and marks rows published. Published rows stay for a
retention window so they can be re-published if NATS loses unsynced messages in a crash.

With several replicas of a service, one relay publishes at a time: the one holding the
table's lease (shared.background.Lease). Two relays publishing the same rows side by side
would reorder one entity's events across their batches, and JetStream's Nats-Msg-Id
dedupe only covers its duplicate window (2 minutes). The others wait, and take over within
the lease's expiry when the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, delete, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from shared.background import Lease
from shared.db import bulk_insert, create_engine, make_sessionmaker, new_ids, utcnow
from shared.events.envelope import event_time, make_envelope, type_to_subject
from shared.events.nats_conn import NatsConnection
from shared.events.tables import lease_table
from shared.jsonutil import dumps
from shared.logging import get_logger
from shared.tracing import TRACEPARENT

log = get_logger(__name__)

_WAKERS: list[Callable[[], None]] = []
# Longer than a batch can take (publish_timeout twice: queueing, then acks) past the holder's
# last renewal, so a live holder is never overtaken; also how long a dead one holds events back.
RELAY_LEASE_SECONDS = 20.0
_FLAG = "teke_outbox_written"
# The relay's back-off after a failed batch doubles from 0.4 s up to this. Short: a NATS
# cluster elects a new stream leader in ~6 s, and a longer sleep then only adds to the pause
# (a 5 s cap did, tests/scaleout/test_nats_cluster.py); a retry while NATS is down costs one
# read of the batch.
RETRY_MAX_SECONDS = 2.0


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        for wake in _WAKERS:
            wake()


@event.listens_for(Session, "after_rollback")
def _forget_flag(session: Session) -> None:
    session.info.pop(_FLAG, None)


class Outbox:
    """Writes events into a service's outbox table inside the caller's transaction."""

    def __init__(self, table: Table, source: str) -> None:
        self.table = table
        self.source = source
        self._insert = insert(table)  # built once: one row a call, parameters only

    async def record(self, session: AsyncSession, event_type: str, entity_id: str,
                     data: dict[str, Any]) -> dict[str, Any]:
        env = make_envelope(source=self.source, event_type=event_type, subject=entity_id, data=data,
                            traceparent=TRACEPARENT.get())
        await session.execute(self._insert, {
            "id": env["id"], "type": event_type, "nats_subject": type_to_subject(event_type),
            "entity_id": entity_id, "envelope": dumps(env).decode(), "created_at": utcnow(),
        })
        session.sync_session.info[_FLAG] = True
        return env

    async def record_many(self, session: AsyncSession,
                          events: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Bulk variant for imports: one multi-row insert for many events."""
        if not events:
            return
        now = utcnow()
        time, traceparent = event_time(now), TRACEPARENT.get()
        subjects: dict[str, str] = {}
        rows = []
        for (event_type, entity_id, data), event_id in zip(events, new_ids(len(events)),
                                                            strict=True):
            env = make_envelope(source=self.source, event_type=event_type, subject=entity_id,
                                data=data, traceparent=traceparent, event_id=event_id, time=time)
            subject = subjects.get(event_type)
            if subject is None:
                subject = subjects[event_type] = type_to_subject(event_type)
            rows.append({"id": event_id, "type": event_type, "nats_subject": subject,
                         "entity_id": entity_id, "envelope": dumps(env).decode(),
                         "created_at": now})
        await bulk_insert(session, self.table, rows)  # COPY on PostgreSQL
        session.sync_session.info[_FLAG] = True


def _traceparent_of(envelope: str) -> str | None:
    # Cheaper than parsing the whole envelope: the attribute is a fixed-shape string.
    i = envelope.find('"traceparent":"')
    return envelope[i + 15:i + 70] if i >= 0 else None


class Relay:
    """Publishes unpublished outbox rows to JetStream; one task per service process."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], table: Table, nats: NatsConnection,
                 *, read_maker: async_sessionmaker[AsyncSession] | None = None,
                 lease: Lease | None = None, batch_size: int = 500, poll_seconds: float = 1.0,
                 retention_seconds: float = 600.0, publish_timeout: float = 5.0) -> None:
        self.maker = maker
        # SQLite: unpublished rows are read on a connection of their own that takes no lock
        # (WAL readers never wait), and marked published through `maker`, the service's one
        # writing connection, where writes queue fairly instead of sleeping in SQLite's busy
        # handler. PostgreSQL reads and marks in one transaction (FOR UPDATE SKIP LOCKED).
        self.read_maker = read_maker or maker
        self.table = table
        self.nats = nats
        # None: this relay is the only one (a CLI, a test); publish_batch itself never asks.
        self.lease = lease
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = dt.timedelta(seconds=retention_seconds)
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.published_total = 0
        self._is_pg = maker.kw["bind"].dialect.name == "postgresql"

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        _WAKERS.append(self.wake)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        if self.wake in _WAKERS:
            _WAKERS.remove(self.wake)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.lease is not None:
            await self.lease.release()  # a replica takes over now, not at expiry

    async def backlog(self) -> int:
        async with self.maker() as s:
            return int(await s.scalar(
                select(func.count()).select_from(self.table)
                .where(self.table.c.published_at.is_(None))) or 0)

    async def _run(self) -> None:
        await self.nats.ready.wait()
        last_cleanup = 0.0
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._wake.clear()
            if self.lease is not None and not await self.lease.hold():
                # Another replica publishes; asking again at the poll takes over if it died.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                continue
            try:
                sent = await self.publish_batch()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("outbox.publish_failed", error=repr(exc), failures=failures)
                await asyncio.sleep(min(0.2 * 2 ** min(failures, 5), RETRY_MAX_SECONDS))
                continue
            if loop.time() - last_cleanup > 30:
                last_cleanup = loop.time()
                await self._cleanup()
            if sent >= self.batch_size:
                continue  # more is waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def publish_batch(self) -> int:
        """Publish one batch in commit order; returns how many were acknowledged."""
        t = self.table
        query = (select(t.c.seq, t.c.id, t.c.nats_subject, t.c.envelope)
                 .where(t.c.published_at.is_(None)).order_by(t.c.seq).limit(self.batch_size))
        if self._is_pg:
            # Several replicas may relay the same table: each claims rows no other holds.
            query = query.with_for_update(skip_locked=True)
            async with self.maker() as session:
                rows = (await session.execute(query)).all()
                if not rows:
                    return 0
                acked, failed = await self._publish_and_mark(session, rows)
        else:
            async with self.read_maker() as reader:
                rows = (await reader.execute(query)).all()
                await reader.rollback()
            if not rows:
                return 0
            async with self.maker() as session:
                acked, failed = await self._publish_and_mark(session, rows)
        self.published_total += len(acked)
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(rows)} events not acknowledged")
        return len(acked)

    async def _publish_and_mark(self, session: AsyncSession, rows) -> tuple[list[int], list[int]]:
        t = self.table
        acked = await self._publish(rows)
        if acked:
            await session.execute(update(t).where(t.c.seq.in_(acked)).values(published_at=utcnow()))
        acked_set = set(acked)
        failed = [r.seq for r in rows if r.seq not in acked_set]
        if failed:
            await session.execute(update(t).where(t.c.seq.in_(failed))
                                  .values(attempts=t.c.attempts + 1))
        await session.commit()
        return acked, failed

    async def _publish(self, rows) -> list[int]:
        js = self.nats.js
        if js is None or not self.nats.is_connected:
            raise RuntimeError("NATS not connected")
        futures: list[tuple[int, asyncio.Future]] = []
        try:
            for r in rows:
                headers = {"Nats-Msg-Id": r.id}
                traceparent = _traceparent_of(r.envelope)
                if traceparent:
                    headers["traceparent"] = traceparent
                fut = await js.publish_async(
                    r.nats_subject, r.envelope.encode(), headers=headers,
                    wait_stall=self.publish_timeout,
                )
                futures.append((r.seq, fut))
        except Exception as exc:
            log.warning("outbox.publish_stalled", error=repr(exc), queued=len(futures))
        if not futures:
            return []
        done, pending = await asyncio.wait([f for _, f in futures], timeout=self.publish_timeout)
        for f in pending:
            f.cancel()  # frees the in-flight slot; a later re-publish is deduplicated
        acked = []
        in_order = True
        for seq, f in futures:
            # Every future is looked at (a failure not looked at is logged as "never
            # retrieved": dozens a batch while a NATS cluster elects a stream leader).
            ok = f in done and not f.cancelled() and f.exception() is None
            # Keep per-entity order: nothing after the first failure counts as sent.
            in_order = in_order and ok
            if in_order:
                acked.append(seq)
        return acked

    async def _cleanup(self) -> None:
        cutoff = utcnow() - self.retention
        async with self.maker() as session:
            await session.execute(delete(self.table).where(self.table.c.published_at < cutoff))
            await session.commit()

    async def republish_since(self, since: dt.datetime) -> int:
        """Mark rows published after `since` unpublished again (after a NATS crash)."""
        async with self.maker() as session:
            result = await session.execute(
                update(self.table).where(self.table.c.published_at >= since)
                .values(published_at=None))
            await session.commit()
        self.wake()
        return result.rowcount or 0


def make_relay(database_url: str, maker: async_sessionmaker[AsyncSession], table: Table,
               nats: NatsConnection, **options: Any) -> tuple[Relay, AsyncEngine]:
    """A service's relay and the engine it alone uses (dispose it after the relay stops).

    The relay does not share the request pool: there it queued behind every waiting request
    and under a burst held events back for seconds (bench/RESULTS.md, event_lag). On SQLite
    its own connection only reads (no lock) and marks through the service's writer, `maker`;
    on PostgreSQL it reads and marks on its own connection. Either way it publishes only while
    it holds the table's lease (taken through the connection that marks)."""
    leases = lease_table(table.metadata)
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, pool_size=1, sqlite_reader=True)
        return Relay(maker, table, nats, read_maker=make_sessionmaker(engine),
                     lease=Lease(maker, leases, f"relay:{table.name}", RELAY_LEASE_SECONDS),
                     **options), engine
    engine = create_engine(database_url, pool_size=1)
    writer = make_sessionmaker(engine)
    return Relay(writer, table, nats,
                 lease=Lease(writer, leases, f"relay:{table.name}", RELAY_LEASE_SECONDS),
                 **options), engine
