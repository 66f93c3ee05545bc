"""The forwarding path: raw ASGI in front of the FastAPI app, one aiohttp session per upstream.

This path is hot, so it does only what forwarding needs: authenticate (cached), check the
key's scope, sign the internal identity (cached), and stream bytes through. It never parses
or re-validates bodies. aiohttp was chosen over httpx by measurement (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
from yarl import URL

from gateway.auth import Authenticator
from gateway.config import Settings
from gateway.protection import CircuitBreaker, TokenBuckets, retry_after
from gateway.routes import API_PREFIX, match
from shared.errors import AppError, Forbidden, problem_response
from shared.identity import InternalTokenSigner
from shared.logging import get_logger
from shared.metrics import RATE_LIMITED, UPSTREAM_ERRORS
from shared.middleware import is_bulk_path

log = get_logger(__name__)

# Request headers never passed upstream: hop-by-hop ones, credentials the gateway consumed,
# and any identity a client tries to assert itself.
_DROP_REQUEST = frozenset({
    b"host", b"connection", b"keep-alive", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"authorization", b"x-api-key", b"x-teke-identity",
    b"content-length", b"expect",
})
_DROP_RESPONSE = frozenset({
    "connection", "keep-alive", "transfer-encoding", "trailer", "upgrade", "server", "date",
    "content-length",
})
_READ_WHOLE_UNDER = 1 << 20


class Upstreams:
    """One long-lived aiohttp session per upstream with explicit pool limits and timeouts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.urls = {"registry": settings.registry_url.rstrip("/"),
                     "indicators": settings.indicators_url.rstrip("/"),
                     "comms": settings.comms_url.rstrip("/")}
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.breakers = {name: CircuitBreaker(name, settings.circuit_failure_threshold,
                                              settings.circuit_cooldown_seconds)
                         for name in self.urls}

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=self.settings.upstream_timeout_seconds,
            sock_connect=self.settings.upstream_connect_timeout_seconds)
        for name in self.urls:
            connector = aiohttp.TCPConnector(limit=self.settings.upstream_pool_size,
                                             keepalive_timeout=30, ttl_dns_cache=300)
            self.sessions[name] = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )

    async def close(self) -> None:
        for session in self.sessions.values():
            await session.close()


class ForwardingApp:
    """ASGI app: /api/v1/<routed prefix> is forwarded; everything else goes to `fallback`."""

    def __init__(self, fallback, settings: Settings) -> None:
        self.fallback = fallback
        self.settings = settings
        self.upstreams: Upstreams | None = None
        self.auth: Authenticator | None = None
        self.signer: InternalTokenSigner | None = None
        self.identity_limits = TokenBuckets(settings.rate_limit_per_identity,
                                            settings.rate_limit_identity_burst)
        self.address_limits = TokenBuckets(settings.rate_limit_per_address,
                                           settings.rate_limit_address_burst)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX + "/"):
            return await self.fallback(scope, receive, send)
        sub_path = scope["path"][len(API_PREFIX):]
        route = match(sub_path)
        if route is None:
            return await self.fallback(scope, receive, send)
        scope["route_label"] = API_PREFIX + route.prefix
        try:
            await self._forward(scope, receive, send, route, sub_path)
        except AppError as exc:
            await problem_response(exc.status, detail=exc.detail, slug=exc.slug, title=exc.title,
                                   instance=scope["path"], headers=exc.headers,
                                   request_id=_request_id(scope))(scope, receive, send)

    async def _forward(self, scope, receive, send, route, sub_path: str) -> None:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.address_limits.take(address)
        if wait:
            RATE_LIMITED.labels("address").inc()
            return await self._too_many(scope, receive, send, wait)
        authorization = api_key = None
        out_headers: list[tuple[str, str]] = []
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v.decode("latin-1")
            elif k == b"x-api-key":
                api_key = v.decode("latin-1")
            if k not in _DROP_REQUEST:
                out_headers.append((k.decode("latin-1"), v.decode("latin-1")))
        identity = await self.auth.identify(authorization, api_key)
        if not identity.is_anonymous:
            wait = self.identity_limits.take(identity.sub)
            if wait:
                RATE_LIMITED.labels(identity.kind).inc()
                return await self._too_many(scope, receive, send, wait)
        method = scope["method"]
        if identity.kind == "apikey":
            needed = route.scope_for(method)
            if needed not in identity.scopes:
                raise Forbidden(f"this API key lacks the scope {needed!r}")
        out_headers.append(("x-teke-identity", self.signer.sign(identity)))
        out_headers.append(("x-forwarded-for", address))

        limit = (self.settings.max_bulk_body_bytes if is_bulk_path(sub_path)
                 else self.settings.max_body_bytes)
        body = await _read_body(receive, limit, scope)
        if body is None:
            return await problem_response(413, detail=f"request body over {limit} bytes",
                                          instance=scope["path"],
                                          request_id=_request_id(scope))(scope, receive, send)
        breaker = self.upstreams.breakers[route.upstream]
        wait = breaker.allow()
        if wait:
            UPSTREAM_ERRORS.labels(route.upstream, "circuit_open").inc()
            return await problem_response(
                503, detail=f"the {route.upstream} service is failing; not trying for now",
                instance=scope["path"], request_id=_request_id(scope),
                headers={"Retry-After": retry_after(wait)})(scope, receive, send)
        # Forward the path as the client encoded it: decoding first would turn an encoded
        # "?" or "#" inside an id into a query or a fragment.
        raw_path = (scope.get("raw_path") or scope["path"].encode())[len(API_PREFIX):]
        url = self.upstreams.urls[route.upstream] + raw_path.decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        url = URL(url, encoded=True)
        retries = self.settings.upstream_read_retries if method in ("GET", "HEAD") else 0
        progress = {"started": False}
        for attempt in range(retries + 1):
            try:
                await self._exchange(send, progress, route.upstream, method, url, out_headers, body)
                breaker.success()
                return
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # A pooled keep-alive connection closed under us: safe to retry reads only.
                if (progress["started"] or attempt >= retries
                        or isinstance(exc, aiohttp.ClientConnectorError)):
                    return await self._upstream_failed(scope, receive, send, route, exc,
                                                       progress["started"])
            except (TimeoutError, aiohttp.ClientError) as exc:
                return await self._upstream_failed(scope, receive, send, route, exc,
                                                   progress["started"])

    async def _exchange(self, send, progress: dict, upstream: str, method: str, url: URL,
                        headers, body) -> None:
        """One upstream call, streamed back to the client; marks `progress` once bytes go out."""
        session = self.upstreams.sessions[upstream]
        if_none_match = next((v for k, v in headers if k == "if-none-match"), None)
        async with session.request(method, url, headers=headers, data=body or None,
                                   allow_redirects=False) as resp:
            out = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                   for k, v in resp.headers.items() if k.lower() not in _DROP_RESPONSE]
            length = resp.content_length
            if length is not None and length <= _READ_WHOLE_UNDER:
                data = await resp.read()
                status = resp.status
                if method == "GET" and status == 200:
                    status, data = _conditional(out, data, if_none_match)
                out.append((b"content-length", str(len(data)).encode()))
                progress["started"] = True
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": data})
                return
            progress["started"] = True
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            async for chunk in resp.content.iter_chunked(65536):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    async def _upstream_failed(self, scope, receive, send, route, exc: Exception,
                               started: bool) -> None:
        self.upstreams.breakers[route.upstream].failure()
        name = route.upstream
        if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError)):
            kind, status, detail = "unavailable", 503, f"the {name} service is unavailable"
        elif isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            kind, status, detail = "timeout", 504, f"the {name} service did not answer in time"
        else:
            kind, status, detail = "error", 502, f"the {name} service failed"
        UPSTREAM_ERRORS.labels(name, kind).inc()
        log.warning("gateway.upstream_failed", upstream=name, kind=kind, error=repr(exc))
        if started:
            return  # the response is under way: all that can be done is to cut it short
        headers = {"Retry-After": "5"} if status == 503 else None
        await problem_response(status, detail=detail, instance=scope["path"], headers=headers,
                               request_id=_request_id(scope))(scope, receive, send)

    async def _too_many(self, scope, receive, send, wait: float) -> None:
        await problem_response(429, detail="too many requests; slow down",
                               instance=scope["path"], request_id=_request_id(scope),
                               headers={"Retry-After": retry_after(wait)})(scope, receive, send)


def _conditional(headers: list, data: bytes, if_none_match: str | None) -> tuple[int, bytes]:
    """Same ETag convention on every GET: a weak ETag where the service gave none, and 304
    when the client already has this representation."""
    etag = next((v for k, v in headers if k == b"etag"), None)
    if etag is None:
        etag = b'W/"' + hashlib.blake2b(data, digest_size=12).hexdigest().encode() + b'"'
        headers.append((b"etag", etag))
    if if_none_match is not None:
        wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        if "*" in wanted or etag.decode("latin-1").removeprefix("W/") in wanted:
            headers[:] = [h for h in headers if h[0] not in (b"content-type",)]
            return 304, b""
    return 200, data


async def _read_body(receive, limit: int, scope) -> bytes | None:
    for k, v in scope["headers"]:
        if k == b"content-length" and v.isdigit() and int(v) > limit:
            return None
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _request_id(scope) -> str | None:
    for k, v in scope["headers"]:
        if k == b"x-request-id":
            return v.decode("latin-1")
    return None
