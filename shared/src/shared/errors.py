"""RFC 9457 problem+json for every error, rendered in one place for every app."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.db import database_unavailable
from shared.jsonutil import dumps
from shared.logging import get_logger

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://teke.fi/problems/"

log = get_logger(__name__)


class FieldError(BaseModel):
    """One invalid input: where it is (JSON pointer-ish path) and what is wrong."""

    field: str
    message: str
    type: str


class Problem(BaseModel):
    """The problem+json document (RFC 9457) every TEKE API returns on error."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    """A failure that is part of normal business: carries its own status and slug."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None,
                 errors: list[dict[str, str]] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers
        self.errors = errors
        self.extra = extra


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="teke"'})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PreconditionFailed(AppError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class Unprocessable(AppError):
    status, slug, title = 422, "validation-error", "Invalid input"


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid input"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    502: ("bad-gateway", "Bad gateway"),
    503: ("service-unavailable", "Service unavailable"),
    504: ("gateway-timeout", "Gateway timeout"),
}


def problem_response(status: int, *, detail: str | None = None, slug: str | None = None,
                     title: str | None = None, instance: str | None = None,
                     request_id: str | None = None, errors: list[dict[str, str]] | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    default_slug, default_title = _STATUS_TITLES.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    # FastAPI prefixes locations with body/query/path/header: keep it, it says where to look.
    return "/".join(parts)


def validation_errors(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"field": _loc_to_field(e.get("loc", ())), "message": e.get("msg", "invalid"),
         "type": e.get("type", "value_error")}
        for e in raw
    ]


def _request_id(request: Request) -> str | None:
    return request.headers.get("x-request-id")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as problem+json."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return problem_response(
            exc.status, detail=exc.detail, slug=exc.slug, title=exc.title,
            instance=request.url.path, request_id=_request_id(request), errors=exc.errors,
            headers=exc.headers, **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(list(exc.errors()))
        return problem_response(
            422, detail=f"{len(errors)} invalid field(s)", instance=request.url.path,
            request_id=_request_id(request), errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Routes are one per method: name every method this path has, not just one route's.
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        status = exc.status_code
        if status == 400 and detail == "There was an error parsing the body":
            status, detail = 422, "the body could not be parsed (not JSON, or not UTF-8)"
        return problem_response(
            status, detail=detail, instance=request.url.path,
            request_id=_request_id(request), headers=headers or None,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # A safety net under the services' own checks: a constraint the database enforces
        # is the client's conflict or bad reference, never a server error.
        text = str(exc.orig).lower()
        if "foreign key" in text or "violates foreign key" in text:
            status, detail = 422, "the request refers to something that does not exist"
        else:
            status, detail = 409, "the request conflicts with existing data"
        log.warning("integrity_error", path=request.url.path, error=str(exc.orig)[:300])
        return problem_response(status, detail=detail, instance=request.url.path,
                                request_id=_request_id(request))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, _exc: Exception) -> Response:
        # A number too large for the database column: the input's fault, whatever the route.
        return problem_response(422, detail="a value is out of the range this API stores",
                                instance=request.url.path, request_id=_request_id(request))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        if database_unavailable(exc):
            # A restart or failover under way, not a fault of this request or of the code:
            # 503 with Retry-After tells the client to try again (with its Idempotency-Key).
            log.warning("database_unavailable", path=request.url.path, error=repr(exc)[:300])
            return problem_response(
                503, detail="The database is not available for a moment; retry shortly.",
                instance=request.url.path, request_id=_request_id(request),
                headers={"Retry-After": "1"})
        # The client learns only that it failed and the request id to quote; the log has the rest.
        log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            500, detail="An unexpected error occurred. Quote the request id when reporting it.",
            instance=request.url.path, request_id=_request_id(request),
        )


def _allowed_methods(request: Request) -> set[str]:
    """The methods the app documents for this path (its OpenAPI is its public surface)."""
    app = request.app
    index = getattr(app.state, "allow_index", None)
    if index is None:
        index = []
        for template, item in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\{[^}/]+\\}", "[^/]+", re.escape(template))
            methods = {m.upper() for m in item if m in _HTTP_METHODS}
            index.append((re.compile(f"^{pattern}$"), methods))
        app.state.allow_index = index
    # As the router does, a literal path (/projects/import) wins over a template
    # (/projects/{project_id}): take the matches with the fewest parameters.
    matches = [(regex.pattern.count("[^/]+"), methods) for regex, methods in index
               if regex.match(request.url.path)]
    if not matches:
        return {"GET"}
    fewest = min(n for n, _ in matches)
    return set().union(*(m for n, m in matches if n == fewest))


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json for the given statuses."""
    return {
        s: {"model": Problem, "description": _STATUS_TITLES.get(s, ("", "Error"))[1],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for s in statuses
    }
