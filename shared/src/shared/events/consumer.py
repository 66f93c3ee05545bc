"""Durable pull consumers that handle each event exactly once.

The handler runs in a transaction that also records the event id (inbox); the message is
acked only after that commits, so a redelivery or re-publish finds the id and changes
nothing. A failing event is retried with back-off up to a bound, then kept as a dead letter
that ops can list and replay; later events are not held up meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import database_unavailable, dialect_insert, new_id, utcnow
from shared.events.nats_conn import NatsConnection, ensure_stream
from shared.jsonutil import loads
from shared.logging import get_logger
from shared.tracing import TRACEPARENT, bind, child_of

log = get_logger(__name__)

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class StreamSpec:
    """A producing service's stream: its name and the subjects it holds."""

    name: str
    subjects: tuple[str, ...]


class HandlerRegistry:
    """Event type -> the handlers that apply it, in the order they were registered (a shared
    projection first, then what one service adds), plus how to wipe the projections for a
    rebuild. `handlers` holds one callable per type that runs them all in one transaction."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.resetters: list[Callable[[AsyncSession], Awaitable[None]]] = []
        self._chains: dict[str, list[Handler]] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            chain = self._chains.setdefault(event_type, [])
            chain.append(fn)
            self.handlers[event_type] = fn if len(chain) == 1 else _run_all(tuple(chain))
            return fn
        return register

    def chain(self, event_type: str) -> tuple[Handler, ...]:
        """The handlers registered for a type, in the order they run."""
        return tuple(self._chains.get(event_type, ()))

    def on_reset(self, fn: Callable[[AsyncSession], Awaitable[None]]):
        self.resetters.append(fn)
        return fn


def _run_all(chain: tuple[Handler, ...]) -> Handler:
    async def run_all(session: AsyncSession, env: dict[str, Any]) -> None:
        for handler in chain:
            await handler(session, env)
    return run_all


class EventApplier:
    """Runs a handler once per event id, in a transaction that records the id."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], inbox: Table,
                 dead_letter: Table, registry: HandlerRegistry) -> None:
        self.maker = maker
        self.inbox = inbox
        self.dead_letter = dead_letter
        self.registry = registry
        self._inbox_insert: dict[str, Any] = {}

    async def _record(self, session: AsyncSession, env: dict[str, Any]) -> bool:
        """Write the event id into the inbox; False if it is there already. One statement
        (INSERT .. ON CONFLICT DO NOTHING): a concurrent replica applying the same event waits
        on the key and then finds it, rather than failing."""
        dialect = session.bind.dialect.name
        stmt = self._inbox_insert.get(dialect)
        if stmt is None:  # built once per dialect; only the parameters change per event
            stmt = dialect_insert(session, self.inbox).on_conflict_do_nothing(
                index_elements=[self.inbox.c.event_id])
            self._inbox_insert[dialect] = stmt
        result = await session.execute(
            stmt, {"event_id": env["id"], "type": env["type"], "processed_at": utcnow()})
        return result.rowcount == 1

    async def apply(self, env: dict[str, Any]) -> bool:
        """Apply `env`; False if it had been applied before (or no handler wants it)."""
        handler = self.registry.handlers.get(env.get("type", ""))
        if handler is None:
            return False
        async with self.maker() as session:
            if not await self._record(session, env):
                await session.rollback()
                return False
            await handler(session, env)
            await session.commit()
        return True

    async def apply_many(self, envs: list[dict[str, Any]]) -> int:
        """Apply a backlog in one transaction (one commit, not one per event); returns how
        many were applied. Any failure rolls all of it back: the caller then applies them one
        by one, so retries and dead letters stay per event."""
        wanted = [e for e in envs if e.get("type", "") in self.registry.handlers]
        if not wanted:
            return 0
        applied = 0
        async with self.maker() as session:
            for env in wanted:
                # The inbox row also turns away the same event twice in one batch.
                if not await self._record(session, env):
                    continue
                trace_token = bind(child_of(env.get("traceparent")))
                try:
                    with structlog.contextvars.bound_contextvars(event_id=env["id"],
                                                                 event_type=env["type"]):
                        await self.registry.handlers[env["type"]](session, env)
                finally:
                    TRACEPARENT.reset(trace_token)
                applied += 1
            await session.commit()
        return applied

    async def record_dead(self, env: dict[str, Any], subject: str, error: str,
                          attempts: int) -> None:
        async with self.maker() as session:
            await session.execute(insert(self.dead_letter).values(
                id=new_id(), event_id=env.get("id", "?"), type=env.get("type", "?"),
                nats_subject=subject, envelope=_dump(env), error=error[:4000], attempts=attempts,
                status="dead", created_at=utcnow()))
            await session.commit()

    async def replay(self, dead_letter_id: str) -> dict[str, Any]:
        """Apply a dead letter's event again; marks it replayed if the handler now succeeds."""
        async with self.maker() as session:
            row = (await session.execute(select(self.dead_letter)
                   .where(self.dead_letter.c.id == dead_letter_id))).mappings().first()
            await session.rollback()
        if row is None:
            raise LookupError(dead_letter_id)
        if row["status"] == "replayed":
            return dict(row)
        await self.apply(loads(row["envelope"]))
        async with self.maker() as session:
            await session.execute(update(self.dead_letter)
                                  .where(self.dead_letter.c.id == dead_letter_id)
                                  .values(status="replayed", replayed_at=utcnow()))
            await session.commit()
            row = (await session.execute(select(self.dead_letter)
                   .where(self.dead_letter.c.id == dead_letter_id))).mappings().first()
        return dict(row)


def _dump(env: dict[str, Any]) -> str:
    from shared.jsonutil import dumps

    return dumps(env).decode()


class Consumer:
    """One durable pull consumer on one stream, feeding an EventApplier."""

    def __init__(self, *, nats: NatsConnection, stream: StreamSpec, durable: str,
                 applier: EventApplier, batch_size: int = 100, max_attempts: int = 5,
                 backoff: list[float] | None = None, ack_wait: float = 30.0,
                 replicas: int = 1) -> None:
        self.nats = nats
        self.stream = stream
        self.durable = durable
        self.applier = applier
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff = backoff or [0.2, 0.5, 1.0, 2.0, 5.0]
        self.ack_wait = ack_wait
        self.replicas = replicas
        self.applied_total = 0
        self.dead_total = 0
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._sub = None
        self._waiting = 0
        self._in_hand: list = []  # the batch being applied one by one (see _hold_through_outage)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.durable}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _subscribe(self):
        js = self.nats.js
        await ensure_stream(js, self.stream.name, list(self.stream.subjects), self.replicas)
        config = ConsumerConfig(
            durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait,
            # We count attempts ourselves and dead-letter; the server's bound is a backstop.
            max_deliver=self.max_attempts + 5, max_ack_pending=20_000,
            # No num_replicas: the consumer takes the stream's (R3 on a cluster: checked in
            # tests/scaleout/test_nats_cluster.py), and nats-server 2.15 scales it with the
            # stream when nats_stream_replicas is raised later (seen by hand, R1 -> R3).
        )
        subject = self.stream.subjects[0] if len(self.stream.subjects) == 1 else None
        return await js.pull_subscribe(subject or "", durable=self.durable,
                                       stream=self.stream.name, config=config)

    async def _run(self) -> None:
        await self.nats.ready.wait()
        while not self._stopping:
            try:
                if self._sub is None:
                    self._sub = await self._subscribe()
                # A fetch for N waits until N arrive or the timeout: when caught up, ask for one
                # (no added latency); with a backlog, for as many as are waiting (bounded).
                want = min(self.batch_size, self._waiting) if self._waiting else 1
                try:
                    msgs = await self._sub.fetch(want, timeout=1.0)
                except (NatsTimeout, TimeoutError):
                    self._waiting = 0
                    continue
                await self._handle_batch(msgs)
                last = msgs[-1].metadata if msgs else None
                self._waiting = int(last.num_pending) if last is not None else 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer.fetch_failed", durable=self.durable, error=repr(exc))
                await asyncio.sleep(0.5)

    async def _handle_batch(self, msgs) -> None:
        """A backlog is applied in one transaction and acked after its commit; a single
        message, or a batch that fails, goes one by one (retries, dead letters)."""
        if len(msgs) > 1:
            try:
                envs = [loads(m.data) for m in msgs]
                applied = await self.applier.apply_many(envs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("consumer.batch_fallback", size=len(msgs), error=repr(exc))
            else:
                self.applied_total += applied
                for msg in msgs:
                    with contextlib.suppress(Exception):
                        await msg.ack()  # a lost ack: the inbox turns the redelivery away
                return
        self._in_hand = msgs
        try:
            for msg in msgs:
                await self._handle(msg)
        finally:
            self._in_hand = []

    async def _handle(self, msg) -> None:
        try:
            env = loads(msg.data)
        except Exception:
            log.error("consumer.undecodable", subject=msg.subject)
            await msg.term()
            return
        attempts = msg.metadata.num_delivered if msg.metadata else 1
        # Continue the producer's trace: events the handler emits carry it on.
        trace_token = bind(child_of(env.get("traceparent")))
        try:
            await self._apply(msg, env, attempts)
        finally:
            TRACEPARENT.reset(trace_token)

    async def _apply(self, msg, env: dict[str, Any], attempts: int) -> None:
        with structlog.contextvars.bound_contextvars(event_id=env.get("id"),
                                                     event_type=env.get("type")):
            outage = 0
            while True:
                try:
                    if await self.applier.apply(env):
                        self.applied_total += 1
                    break
                except Exception as exc:
                    if self._stopping or not database_unavailable(exc):
                        await self._failed(msg, env, attempts, exc)
                        return
                    # The database is away (restart, failover); the event is not at fault:
                    # hold the message and try again, using up no attempt and making no
                    # dead letter (nothing behind it could be applied meanwhile either).
                    outage += 1
                    await self._hold_through_outage(msg, exc, outage)
        with contextlib.suppress(Exception):
            # If this ack is lost the event comes again and the inbox turns it away.
            await msg.ack()

    async def _hold_through_outage(self, msg, exc: Exception, tries: int) -> None:
        log.warning("consumer.database_unavailable", tries=tries, error=repr(exc))
        # Restarts ack_wait for this event and the rest of its batch: the server does not
        # deliver them again meanwhile.
        for held in self._in_hand or [msg]:
            with contextlib.suppress(Exception):
                await held.in_progress()
        await asyncio.sleep(min(0.1 * 2 ** tries, 2.0))

    async def _failed(self, msg, env: dict[str, Any], attempts: int, exc: Exception) -> None:
        """Retry later with back-off, or, attempts used up, keep it as a dead letter."""
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            log.error("consumer.dead_letter", attempts=attempts, error=error)
            await self.applier.record_dead(env, msg.subject, error, attempts)
            self.dead_total += 1
            await msg.ack()
        else:
            delay = self.backoff[min(attempts - 1, len(self.backoff) - 1)]
            log.warning("consumer.retry", attempts=attempts, delay=delay, error=error)
            await msg.nak(delay=delay)

    async def lag(self) -> int | None:
        """Messages in the stream this consumer has not yet acknowledged."""
        if self._sub is None:
            return None
        try:
            info = await self._sub.consumer_info()
        except Exception:
            return None
        return int(info.num_pending + info.num_ack_pending)


async def rebuild_projections(*, nats: NatsConnection, stream: StreamSpec,
                              applier: EventApplier, idle_timeout: float = 2.0,
                              reset: bool = True, replicas: int = 1) -> int:
    """Wipe the projections and the inbox, then replay the whole stream into them.

    A service consuming several streams resets once, then replays each (reset=False after
    the first), so replaying a later stream does not wipe what an earlier one rebuilt.
    `replicas` is the service's setting: declaring the stream with fewer would scale a
    replicated stream down.
    """
    if reset:
        async with applier.maker() as session:
            for resetter in applier.registry.resetters:
                await resetter(session)
            await session.execute(delete(applier.inbox))
            await session.commit()
    await nats.ready.wait()
    js = nats.js
    await ensure_stream(js, stream.name, list(stream.subjects), replicas)
    sub = await js.pull_subscribe(
        stream.subjects[0], stream=stream.name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                              inactive_threshold=60.0))
    applied = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=idle_timeout)
            except (NatsTimeout, TimeoutError):
                info = await sub.consumer_info()
                if info.num_pending == 0:
                    break
                continue
            envs = [loads(msg.data) for msg in msgs]
            try:
                # One transaction per fetch, as the consumer does with a backlog (one per
                # event took 52 s for 5,000 events on PostgreSQL: test_nats_cluster.py).
                applied += await applier.apply_many(envs)
            except Exception:
                # Rolled back whole; one by one, so the event that fails is the one raised.
                for env in envs:
                    if await applier.apply(env):
                        applied += 1
            for msg in msgs:
                await msg.ack()
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return applied
