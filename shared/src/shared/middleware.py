"""Pure ASGI middleware shared by every app: request ids, a body-size limit, guards."""

from __future__ import annotations

import json
import uuid
from urllib.parse import unquote_plus

import structlog
from starlette.datastructures import MutableHeaders

from shared.errors import problem_response


def _header(scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


class RequestIdMiddleware:
    """Takes X-Request-ID (or makes one), binds it to the log context, echoes it back."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = _header(scope, b"x-request-id")
        if not rid or len(rid) > 200:
            rid = uuid.uuid4().hex
            scope["headers"] = [*scope["headers"], (b"x-request-id", rid.encode())]
        raw = rid.encode("latin-1")

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", raw))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            await self.app(scope, receive, send_with_id)


BULK_SUFFIXES = ("/import", "/upload")


def is_bulk_path(path: str) -> bool:
    """Bulk endpoints (imports, uploads) take larger bodies than the rest."""
    return path.endswith(BULK_SUFFIXES)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413 before the app reads them whole."""

    def __init__(self, app, max_bytes: int, bulk_max_bytes: int | None = None) -> None:
        self.app = app
        self.normal_max = max_bytes
        self.bulk_max = bulk_max_bytes or max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.bulk_max if is_bulk_path(scope["path"]) else self.normal_max
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await problem_response(
                413, detail=f"request body over {limit} bytes", instance=scope["path"]
            )(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await problem_response(
                413, detail=f"request body over {limit} bytes", instance=scope["path"]
            )(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class NulGuardMiddleware:
    """Refuses a NUL byte in the path or query string (422): no id, code or text in TEKE has
    one, and PostgreSQL cannot store it, so letting it through only turns into a 500 later."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            query = scope.get("query_string", b"").lower()
            if b"%00" in query or b"\x00" in query or "\x00" in scope["path"]:
                return await problem_response(
                    422, detail="NUL characters are not allowed in the path or query",
                    instance=scope["path"].replace("\x00", ""),
                )(scope, receive, send)
        return await self.app(scope, receive, send)


class DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        name = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKey(name)
    return found


def duplicate_key(body: bytes) -> str | None:
    """The first member name a JSON object in `body` repeats, or None (also for a body that is
    not JSON at all: the app's own parser reports that)."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except DuplicateKey as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


class DuplicateKeyGuardMiddleware:
    """Refuses a JSON body in which an object names a member twice (422). RFC 8259 leaves what
    `{"code": "A", "code": "B"}` means to each parser; ours took the last one silently, another
    (a proxy, a client's logger, an audit trail) may take the first. The body is read whole
    (inside the size limit) and handed on unchanged."""

    _METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in self._METHODS:
            return await self.app(scope, receive, send)
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return await self.app(scope, _replay([message], receive), send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        name = duplicate_key(body) if b'"' in body else None
        if name is not None:
            return await problem_response(
                422, detail="a JSON object names a member more than once",
                instance=scope["path"],
                errors=[{"field": f"body/{name}", "type": "duplicate_key",
                         "message": "this member appears more than once in one object"}],
            )(scope, receive, send)
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                        "more_body": False}], receive), send)


def _replay(messages: list[dict], receive):
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


# --- the request's language: `lang`, else Accept-Language, else Finnish ---------------------

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
_ACCEPT_LANGUAGE_MAX = 1000  # characters read from the header; browsers send < 100
_ACCEPT_LANGUAGE_RANGES = 50


def negotiate_language(header: str | None) -> str:
    """fi, sv or en from an Accept-Language header (RFC 9110 12.5.4): the supported language
    with the highest q, the earlier one on a tie; `*` stands for the default. Anything else
    (no header, only unsupported languages, q=0 for all, garbage) gives fi. Never raises."""
    if not header:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in header[:_ACCEPT_LANGUAGE_MAX].split(",")[:_ACCEPT_LANGUAGE_RANGES]:
        tag, *params = part.split(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        elif primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = _qvalue(value.strip())
        if q > best_q:
            best, best_q = primary, q
    return best


def _qvalue(text: str) -> float:
    # RFC 9110 12.4.2: 0 to 1 with at most three decimals; a malformed weight ranks as 0.
    if not 0 < len(text) <= 5 or text[0] not in "01" or not all(c in "0123456789." for c in text):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0


def _query_value(query: bytes, name: bytes) -> str | None:
    for pair in query.split(b"&"):
        key, eq, value = pair.partition(b"=")
        if key == name and eq:
            return unquote_plus(value.decode("latin-1"))
    return None


_LANGUAGE_PARAMS: dict[int, tuple[object, tuple[bool, bool]]] = {}


def _language_params(route) -> tuple[bool, bool]:
    """(takes ?lang or ?language, takes a {language} path segment) for a FastAPI route."""
    if route is None:
        return False, False
    # Routes are not hashable; they live as long as the app, so their id keys the cache.
    cached = _LANGUAGE_PARAMS.get(id(route))
    if cached is not None and cached[0] is route:
        return cached[1]
    query: set[str] = set()
    path: set[str] = set()
    pending = [getattr(route, "dependant", None)]
    while pending:  # the operation's own parameters and those of its dependencies
        dependant = pending.pop()
        if dependant is None:
            continue
        query.update(getattr(p, "alias", None) or p.name for p in dependant.query_params)
        path.update(getattr(p, "alias", None) or p.name for p in dependant.path_params)
        pending.extend(dependant.dependencies)
    found = (bool(query & {"lang", "language"}), "language" in path)
    _LANGUAGE_PARAMS[id(route)] = (route, found)
    return found


class LanguageMiddleware:
    """One rule for the request's language, in every service. A `lang` query parameter wins;
    without one, the language picked from Accept-Language (negotiate_language) becomes `lang`
    in the query, so every endpoint that takes `lang` reads it the same way. A response whose
    operation takes a language says which one (Content-Language) and, when the header could
    choose it, `Vary: Accept-Language` for caches. Only successful answers get them: error
    bodies are not translated."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"")
        asked = _query_value(query, b"lang")
        if asked is None:
            header = _header(scope, b"accept-language")
            asked = negotiate_language(header)
            if header is not None:
                scope["query_string"] = query + (b"&" if query else b"") + b"lang=" + asked.encode()

        async def send_with_language(message):
            if message["type"] == "http.response.start" and message["status"] < 400:
                takes_query, takes_path = _language_params(scope.get("route"))
                if takes_query or takes_path:
                    lang = ((scope.get("path_params") or {}).get("language") if takes_path
                            else _query_value(query, b"language") or asked)
                    headers = MutableHeaders(scope=message)
                    if lang in LANGUAGES and "content-language" not in headers:
                        headers["Content-Language"] = lang
                    if takes_query:
                        headers.add_vary_header("Accept-Language")
            await send(message)

        await self.app(scope, receive, send_with_language)
