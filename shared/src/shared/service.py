"""One way to build a TEKE service app: lifespan owns every connection; ops endpoints built in.

A service supplies its settings, tables, routers, the stream it produces and the streams and
handlers it consumes; this module wires the database, NATS, the outbox relay, the consumers,
identity, problem+json, request ids, /healthz, /readyz and the dead-letter admin endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import MetaData, func, select, text

from shared import limits, memory
from shared.db import create_engine, make_sessionmaker
from shared.errors import NotFound, install_error_handlers, problem_responses
from shared.events.consumer import Consumer, EventApplier, HandlerRegistry, StreamSpec
from shared.events.nats_conn import NatsConnection, ensure_stream
from shared.events.outbox import Outbox, Relay, make_relay
from shared.events.tables import make_event_tables
from shared.identity import IdentityMiddleware, InternalTokenVerifier, require_roles
from shared.jsonutil import JSONResponse
from shared.limits import CodeQuery, IdPath
from shared.logging import configure_logging, get_logger
from shared.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EVENTS_APPLIED,
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    MetricsMiddleware,
    metrics_response,
)
from shared.middleware import (
    BodySizeLimitMiddleware,
    DuplicateKeyGuardMiddleware,
    LanguageMiddleware,
    NulGuardMiddleware,
    RequestIdMiddleware,
)
from shared.settings import ServiceSettings
from shared.tracing import TraceMiddleware

log = get_logger(__name__)


@dataclass
class ServiceSpec:
    """What a service is made of; `create_service_app` turns it into a FastAPI app."""

    name: str
    title: str
    metadata: MetaData
    settings_factory: Callable[[], ServiceSettings]
    routers: list[APIRouter] = field(default_factory=list)
    produces: StreamSpec | None = None
    consumes: list[StreamSpec] = field(default_factory=list)
    handlers: HandlerRegistry | None = None
    max_body_bytes: int = limits.BODY_BYTES
    max_bulk_body_bytes: int = limits.BULK_BODY_BYTES
    description: str = ""

    def __post_init__(self) -> None:
        tables = self.metadata.tables
        if "outbox" in tables:
            self.outbox_table, self.inbox_table, self.dead_letter_table = (
                tables["outbox"], tables["inbox"], tables["dead_letter"])
        else:
            self.outbox_table, self.inbox_table, self.dead_letter_table = make_event_tables(
                self.metadata)

    @property
    def source(self) -> str:
        return f"/teke/{self.name}"

    def outbox(self) -> Outbox:
        return Outbox(self.outbox_table, self.source)


class Runtime:
    """The live parts of a running service, reachable from requests as request.state.runtime."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        self.maker = make_sessionmaker(self.engine)
        self.nats = NatsConnection(settings.nats_url, f"teke-{spec.name}",
                                   max_pending=settings.outbox_max_in_flight)
        self.relay: Relay | None = None
        self.relay_engine = None
        self.consumers: list[Consumer] = []
        self.applier: EventApplier | None = None
        if spec.produces is not None:
            self.relay, self.relay_engine = make_relay(
                settings.database_url, self.maker, spec.outbox_table, self.nats,
                batch_size=settings.outbox_batch_size,
                poll_seconds=settings.outbox_poll_seconds,
                retention_seconds=settings.outbox_retention_seconds,
            )
            produces = spec.produces
            self.nats.on_connect(
                lambda: ensure_stream(self.nats.js, produces.name, list(produces.subjects),
                                      settings.nats_stream_replicas))
        if spec.handlers is not None:
            self.applier = EventApplier(self.maker, spec.inbox_table, spec.dead_letter_table,
                                        spec.handlers)
            for stream in spec.consumes:
                self.consumers.append(Consumer(
                    nats=self.nats, stream=stream, durable=spec.name, applier=self.applier,
                    batch_size=settings.consumer_batch_size,
                    max_attempts=settings.consumer_max_attempts,
                    backoff=settings.consumer_backoff_seconds,
                    replicas=settings.nats_stream_replicas,
                ))

    async def start(self) -> None:
        await self.nats.start()
        if self.relay:
            await self.relay.start()
        for c in self.consumers:
            await c.start()

    async def stop(self) -> None:
        for c in self.consumers:
            await c.stop()
        if self.relay:
            await self.relay.stop()
        await self.nats.close()
        if self.relay_engine is not None:
            await self.relay_engine.dispose()
        await self.engine.dispose()

    async def update_gauges(self) -> None:
        name = self.spec.name
        if self.relay:
            with contextlib.suppress(Exception):
                OUTBOX_BACKLOG.labels(name).set(await self.relay.backlog())
            EVENTS_PUBLISHED.labels(name).set(self.relay.published_total)
        for c in self.consumers:
            EVENTS_APPLIED.labels(name, c.stream.name).set(c.applied_total)
            lag = await c.lag() if self.nats.is_connected else None
            if lag is not None:
                CONSUMER_LAG.labels(name, c.stream.name).set(lag)
        if self.applier is not None:
            t = self.spec.dead_letter_table
            with contextlib.suppress(Exception):
                async with self.maker() as s:
                    DEAD_LETTERS.labels(name).set(await s.scalar(
                        select(func.count()).select_from(t).where(t.c.status == "dead")) or 0)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        db_ok = True
        try:
            async with self.maker() as s:
                await asyncio.wait_for(s.execute(text("SELECT 1")), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            db_ok = False
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["nats"] = "connected" if self.nats.is_connected else "disconnected"
        if self.relay and db_ok:
            checks["outbox_backlog"] = await self.relay.backlog()
        if self.consumers:
            checks["consumers"] = {
                c.stream.name: {"applied": c.applied_total, "dead_lettered": c.dead_total,
                                "lag": await c.lag() if self.nats.is_connected else None}
                for c in self.consumers
            }
        return db_ok, checks


def _ops_router(spec: ServiceSpec) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok", "service": spec.name}

    @router.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request):
        """Counters and gauges in the Prometheus text format (not routed by the gateway)."""
        await request.state.runtime.update_gauges()
        return metrics_response()

    @router.get("/readyz", tags=["ops"], summary="Readiness")
    async def readyz(request: Request) -> JSONResponse:
        """Database reachable; NATS state, outbox backlog and consumer lag reported.

        Only the database gates readiness: with NATS down the service still takes writes
        (the outbox holds the events), so it should stay in rotation.
        """
        ok, checks = await request.state.runtime.readiness()
        return JSONResponse({"status": "ready" if ok else "unavailable",
                               "service": spec.name, "checks": checks},
                              status_code=200 if ok else 503)

    admin = APIRouter(prefix=f"/admin/{spec.name}", tags=["admin"],
                      dependencies=[require_roles("admin")],
                      responses=problem_responses(401, 403))

    # Operation ids name the service: three services serve these in one merged document.
    @admin.get("/dead-letters", summary="List dead letters",
               name=f"list_{spec.name}_dead_letters")
    async def list_dead_letters(request: Request, status: CodeQuery = None,
                                limit: int = 100) -> dict[str, Any]:
        """Events whose handler kept failing, newest first."""
        t = spec.dead_letter_table
        q = select(t).order_by(t.c.created_at.desc()).limit(min(max(limit, 1), 1000))
        if status:
            q = q.where(t.c.status == status)
        async with request.state.sessionmaker() as s:
            rows = (await s.execute(q)).mappings().all()
        return {"items": [_dead_letter_out(r) for r in rows]}

    @admin.post("/dead-letters/{dead_letter_id}/replay", summary="Replay a dead letter",
                name=f"replay_{spec.name}_dead_letter", responses=problem_responses(404))
    async def replay_dead_letter(request: Request, dead_letter_id: IdPath) -> dict[str, Any]:
        """Apply the event again (after the fault is fixed); exactly once, as always."""
        runtime: Runtime = request.state.runtime
        if runtime.applier is None:
            raise NotFound("this service consumes no events")
        try:
            row = await runtime.applier.replay(dead_letter_id)
        except LookupError:
            raise NotFound(f"no dead letter {dead_letter_id}") from None
        return _dead_letter_out(row)

    router.include_router(admin)
    return router


def _dead_letter_out(row) -> dict[str, Any]:
    from shared.jsonutil import loads

    return {
        "id": row["id"], "event_id": row["event_id"], "type": row["type"],
        "subject": row["nats_subject"], "error": row["error"], "attempts": row["attempts"],
        "status": row["status"], "created_at": row["created_at"],
        "replayed_at": row["replayed_at"], "event": loads(row["envelope"]),
    }


# Work a service runs beside its requests (a closer, a scheduler, a delivery worker): given
# the app state (sessionmaker, outbox, settings, runtime), it runs while the context is open.
Background = Callable[[dict[str, Any]], AbstractAsyncContextManager[Any]]


def create_service_app(spec: ServiceSpec, settings: ServiceSettings | None = None,
                       background: Sequence[Background] = ()) -> FastAPI:
    settings = settings or spec.settings_factory()
    configure_logging(spec.name, settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        runtime = Runtime(spec, settings)
        await runtime.start()
        log.info("service.started", environment=settings.environment)
        state = {"runtime": runtime, "sessionmaker": runtime.maker, "outbox": spec.outbox(),
                 "settings": settings}
        try:
            # Started after the database and NATS are up, stopped before they go (in reverse).
            async with AsyncExitStack() as stack:
                for task in background:
                    await stack.enter_async_context(task(state))
                memory.settle()
                yield state
        finally:
            await runtime.stop()
            log.info("service.stopped")

    app = FastAPI(title=spec.title, description=spec.description, version="1.0.0",
                  lifespan=lifespan,
                  docs_url=None, redoc_url=None, redirect_slashes=False, separate_input_output_schemas=False,
                  # operationId = the route function's name: short, stable, client-friendly.
                  generate_unique_id_function=lambda route: route.name)
    install_error_handlers(app)
    app.include_router(_ops_router(spec))
    for router in spec.routers:
        app.include_router(router)
    verifier = InternalTokenVerifier(settings.internal_token_public_key,
                                     audience=settings.internal_token_audience,
                                     issuer=settings.internal_token_issuer)
    # Outermost first: request id, then size limit, then identity, then the JSON guard, then
    # the request's language (innermost: it reads the route the router picked).
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(DuplicateKeyGuardMiddleware)
    app.add_middleware(IdentityMiddleware, verifier=verifier)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=spec.max_body_bytes,
                       bulk_max_bytes=spec.max_bulk_body_bytes)
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(TraceMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, service=spec.name)
    app.state.spec = spec
    app.state.settings = settings
    return app
