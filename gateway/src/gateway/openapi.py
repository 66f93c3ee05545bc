"""One OpenAPI document for /api/v1, merged from the services' own, and a docs page that
serves Swagger UI's assets itself (nothing is loaded from the internet).

The merge is cached and rebuilt when an upstream that was missing comes back, so a service
that is down at start does not leave a hole for good.
"""

from __future__ import annotations

import json
import time
from copy import deepcopy
from typing import Any

import aiohttp
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from gateway.routes import API_PREFIX, match
from shared.errors import Problem
from shared.exports import FILE_RESPONSES
from shared.identity import Identity
from shared.jsonutil import JSONResponse
from shared.logging import get_logger

log = get_logger(__name__)
HIDDEN_PATHS = {"/healthz", "/readyz", "/metrics"}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "OIDC access token (in development: `python -m gateway.cli dev-token`)."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "API key for regional systems (created by an admin)."},
}
CACHE_SECONDS = 60.0
_SERVICE_IDENTITY = Identity(sub="gateway", kind="user", roles=("viewer",))
_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=3)


class OpenAPIMerger:
    def __init__(self, gateway_app: FastAPI) -> None:
        self.gateway_app = gateway_app
        self._doc: dict[str, Any] | None = None
        self._built_at = 0.0
        self._complete = False

    async def document(self, forwarder) -> dict[str, Any]:
        ttl = CACHE_SECONDS if self._complete else 5.0  # retry soon while a service is missing
        if self._doc is not None and time.monotonic() - self._built_at < ttl:
            return self._doc
        parts: dict[str, dict[str, Any]] = {}
        token = forwarder.signer.sign(_SERVICE_IDENTITY)
        names = forwarder.upstreams.addresses
        for name in names:
            try:
                status, data = await forwarder.upstreams.get(
                    name, "/openapi.json", headers={"x-teke-identity": token},
                    timeout=_FETCH_TIMEOUT)
                if status == 200:
                    parts[name] = json.loads(data)
            except Exception as exc:
                log.warning("gateway.openapi_fetch_failed", upstream=name, error=repr(exc))
        self._complete = len(parts) == len(names)
        self._doc = merge(self.gateway_app.openapi(), parts)
        self._built_at = time.monotonic()
        return self._doc


def merge(gateway_doc: dict[str, Any], services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The gateway's own paths plus every routed service path under /api/v1."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "TEKE API", "version": "1.0.0",
                 "description": "The one REST API of TEKE, the coordination platform of the ESF+ "
                                "theme Development of working life. Errors are "
                                "application/problem+json (RFC 9457)."},
        "servers": [{"url": "/"}],
        "paths": {}, "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"bearer": []}, {"apiKey": []}, {}],
    }
    sources = [("gateway", gateway_doc)] + sorted(services.items())
    for name, part in sources:
        part = _without_name_clashes(deepcopy(part), name, doc["components"]["schemas"])
        for schema_name, schema in part.get("components", {}).get("schemas", {}).items():
            doc["components"]["schemas"].setdefault(schema_name, schema)
        for path, item in part.get("paths", {}).items():
            if path in HIDDEN_PATHS:
                continue
            public = path if path.startswith(API_PREFIX) else API_PREFIX + path
            if name != "gateway" and match(public[len(API_PREFIX):]) is None:
                continue  # not routed: a client could not reach it
            doc["paths"][public] = item
    _document_gateway_errors(doc)
    return doc


# What the gateway itself may answer on any forwarded operation.
_GATEWAY_ERRORS = {
    "401": "Authentication required or failed",
    "403": "Not allowed (role, organisation or API-key scope)",
    "413": "Request body too large",
    "429": "Too many requests (see Retry-After)",
    "502": "The service failed",
    "503": "The service is unavailable (see Retry-After)",
    "504": "The service did not answer in time",
}


def _document_gateway_errors(doc: dict[str, Any]) -> None:
    """Every error is problem+json: declare it so, and add the gateway's own answers."""
    schemas = doc["components"]["schemas"]
    schemas.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, sub in schemas["Problem"].pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in doc["paths"].values():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if method == "get" and any(p.get("name") == "format" and p.get("in") == "query"
                                       for p in op.get("parameters", [])):
                # The export convention: any list with `format` answers csv or xlsx. Its JSON
                # body, if it has one, is the service's to type (a file-only export has none).
                ok = op.setdefault("responses", {}).setdefault("200", {"description": "OK"})
                content = ok.setdefault("content", {})
                for media, schema in FILE_RESPONSES[200]["content"].items():
                    if media.split(";")[0] not in {m.split(";")[0] for m in content}:
                        content[media] = schema
            responses = op.setdefault("responses", {})
            for status, description in _GATEWAY_ERRORS.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45":
                    # A service's own problem+json schema (one with extension members) stays.
                    own = (response.get("content") or {}).get("application/problem+json")
                    response["content"] = {"application/problem+json": own} if own else problem


def _without_name_clashes(part: dict[str, Any], service: str,
                          taken: dict[str, Any]) -> dict[str, Any]:
    """Two services may both have a `RuleRead` that differ: prefix the later one's name."""
    renames = {n: f"{service.capitalize()}{n}"
               for n, schema in part.get("components", {}).get("schemas", {}).items()
               if n in taken and taken[n] != schema}
    if not renames:
        return part
    text = json.dumps(part)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    part = json.loads(text)
    schemas = part["components"]["schemas"]
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
    return part


def install_docs(api: FastAPI, merger: OpenAPIMerger) -> None:
    api.mount(f"{API_PREFIX}/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    router = APIRouter(include_in_schema=False)

    @router.get(f"{API_PREFIX}/openapi.json")
    async def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(await merger.document(request.app.state.forwarder))

    @router.get(f"{API_PREFIX}/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json", title="TEKE API",
            swagger_js_url=f"{API_PREFIX}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{API_PREFIX}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{API_PREFIX}/docs/assets/favicon-32x32.png",
            # Unset, Swagger UI sends the document to validator.swagger.io whenever the page is
            # served from a public host name: the docs page calls nothing outside.
            swagger_ui_parameters={"validatorUrl": None},
        )

    api.include_router(router)
