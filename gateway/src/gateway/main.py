"""Gateway: the one public REST API in front of the services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from gateway.apikeys import router as apikeys_router
from gateway.asyncapi import AsyncAPIDocument, asyncapi_document
from gateway.auth import Authenticator
from gateway.config import Settings
from gateway.openapi import OpenAPIMerger, install_docs
from gateway.proxy import ForwardingApp, Upstreams
from gateway.views import router as views_router
from shared import memory
from shared.db import create_engine, make_sessionmaker
from shared.errors import Unauthorized, install_error_handlers
from shared.identity import InternalTokenSigner
from shared.jsonutil import JSONResponse
from shared.logging import configure_logging, get_logger
from shared.metrics import metrics_response
from shared.middleware import DuplicateKeyGuardMiddleware

log = get_logger(__name__)
_ASYNCAPI = asyncapi_document()


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    configure_logging("gateway", settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(settings.database_url)
        maker = make_sessionmaker(engine)
        upstreams = Upstreams(settings)
        await upstreams.start()
        forwarder.upstreams = upstreams
        forwarder.auth = Authenticator(settings, maker)
        forwarder.signer = InternalTokenSigner(
            settings.internal_token_private_key, lifetime=settings.internal_token_lifetime_seconds)
        log.info("gateway.started", upstreams=upstreams.addresses)
        memory.settle()
        try:
            yield {"sessionmaker": maker}
        finally:
            await upstreams.close()
            await engine.dispose()

    api = FastAPI(title="TEKE API", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  redirect_slashes=False, separate_input_output_schemas=False,
                  openapi_url="/api/v1/gateway-openapi.json",
                  generate_unique_id_function=lambda route: route.name)
    install_error_handlers(api)
    api.add_middleware(DuplicateKeyGuardMiddleware)  # its own JSON bodies (API keys)
    api.include_router(apikeys_router)
    api.include_router(views_router)
    api.state.settings = settings

    @api.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        """The gateway process is up."""
        return {"status": "ok", "service": "gateway"}

    @api.get("/readyz", tags=["ops"], summary="Readiness of the gateway and each upstream")
    async def readyz(_request: Request) -> JSONResponse:
        """Ready when every upstream answers its own /readyz (one of its addresses, when
        it has several)."""
        names = forwarder.upstreams.addresses
        results = await asyncio.gather(*(
            _upstream_ready(forwarder.upstreams, name) for name in names))
        upstreams = dict(zip(names, results, strict=True))
        ok = all(r["status"] == "ready" for r in upstreams.values())
        return JSONResponse({"status": "ready" if ok else "unavailable",
                               "upstreams": upstreams}, status_code=200 if ok else 503)

    install_docs(api, OpenAPIMerger(api))
    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request):
        """Prometheus metrics; outside development, for admins or keys with the metrics scope."""
        if settings.environment == "production":
            identity = await forwarder.auth.identify(request.headers.get("authorization"),
                                                     request.headers.get("x-api-key"))
            if not (identity.has_role("admin") or "metrics" in identity.scopes):
                raise Unauthorized("metrics need an admin or a key with the metrics scope")
        return metrics_response()

    @api.get("/api/v1/asyncapi.json", tags=["events"], summary="AsyncAPI document of all events",
             response_model=AsyncAPIDocument)
    async def asyncapi() -> JSONResponse:
        """Subjects, CloudEvents envelopes and payload schemas of every event, for subscribers."""
        return JSONResponse(_ASYNCAPI)

    # The forwarder is the outermost app: it forwards routed /api/v1 paths itself and hands
    # everything else to the FastAPI app inside the usual middlewares (and CORS, gzip).
    forwarder = ForwardingApp(api, settings)
    api.state.forwarder = forwarder
    return forwarder


async def _upstream_ready(upstreams: Upstreams, name: str) -> dict[str, Any]:
    """A service's readiness: that of its first ready address, all asked at once; with several
    addresses, how many are ready ("ready_addresses": "1/2")."""
    urls = upstreams.addresses[name]
    results = await asyncio.gather(*(_address_ready(upstreams.sessions[name], url)
                                     for url in urls))
    ready = [r for r in results if r["status"] == "ready"]
    result = ready[0] if ready else results[0]
    if len(urls) > 1:
        result = {**result, "ready_addresses": f"{len(ready)}/{len(urls)}"}
    return result


async def _address_ready(session, url: str) -> dict[str, Any]:
    try:
        async with session.get(url + "/readyz", timeout=2) as resp:
            body = await resp.json(content_type=None)
            return {"status": body.get("status", "unknown"), "checks": body.get("checks")}
    except Exception as exc:
        return {"status": "unreachable", "error": type(exc).__name__}
