"""The forwarding path: raw ASGI in front of the FastAPI app, one keep-alive pool per upstream.

This path is hot, so it does only what forwarding needs: authenticate (cached), check the
key's scope and the flow quotas, sign the internal identity (cached), and stream bytes
through. It never parses or re-validates bodies, and it is one flat handler rather than a
stack of middlewares (each wrapper cost CPU on every request: bench/RESULTS.md, gateway_cost).
Upstream calls go through gateway.upstream, a small HTTP/1.1 client chosen over aiohttp (and
aiohttp over httpx) by measurement (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
import zlib

import aiohttp
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from gateway import messages
from gateway.auth import Authenticator
from gateway.balancer import Balancer, Replica, parse_addresses
from gateway.config import Settings
from gateway.messages import ParsedRequest
from gateway.protection import CircuitBreaker, TokenBuckets, retry_after
from gateway.routes import API_PREFIX, match
from gateway.upstream import ConnectFailed, Disconnected, Pool, UpstreamError
from shared.errors import AppError, Forbidden, problem_response
from shared.identity import InternalTokenSigner
from shared.logging import get_logger
from shared.metrics import LATENCY, RATE_LIMITED, REQUESTS, UPSTREAM_ERRORS, MetricsMiddleware
from shared.middleware import NulGuardMiddleware, RequestIdMiddleware, is_bulk_path
from shared.tracing import TraceMiddleware, child_of

log = get_logger(__name__)

_DROP_RESPONSE = frozenset({
    b"connection", b"keep-alive", b"transfer-encoding", b"trailer", b"upgrade", b"server",
    b"date", b"content-length", b"x-request-id",  # (the gateway sets its own)
})
_READ_WHOLE_UNDER = 1 << 20
# What a browser client may send, and may read back, across origins: without the second list
# a frontend cannot see an export's file name, an ETag for If-Match, a new resource's Location,
# how long to wait after 429/503, or the request id to quote in a bug report.
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Accept-Language", "Idempotency-Key",
                      "If-Match", "If-None-Match", "Prefer", "X-API-Key", "X-Request-ID",
                      "traceparent"]
CORS_EXPOSE_HEADERS = ["Content-Disposition", "Content-Language", "ETag", "Location",
                       "Retry-After", "X-Request-ID"]
UPSTREAM_NAMES = ("registry", "indicators", "comms")
_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)


class Upstreams:
    """Per upstream service: its addresses (gateway.balancer: each with a keep-alive pool for
    forwarding, gateway.upstream), one aiohttp session for the gateway's own calls (readiness,
    docs, views), with explicit limits and timeouts, and one circuit breaker.

    The breaker stays per service, not per address: a dead address is the balancer's business
    (marked down, probed, skipped), so the breaker only sees what no other address could
    serve (a timeout, a broken answer, or a failure with no address left), which is what it
    is for: a service failing as a whole."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.addresses = {name: parse_addresses(getattr(settings, f"{name}_url"))
                          for name in UPSTREAM_NAMES}
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.balancers: dict[str, Balancer] = {}
        self.breakers = {name: CircuitBreaker(name, settings.circuit_failure_threshold,
                                              settings.circuit_cooldown_seconds)
                         for name in self.addresses}

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=self.settings.upstream_timeout_seconds,
            sock_connect=self.settings.upstream_connect_timeout_seconds)
        for name, urls in self.addresses.items():
            connector = aiohttp.TCPConnector(limit=self.settings.upstream_pool_size * len(urls),
                                             keepalive_timeout=30, ttl_dns_cache=300)
            self.sessions[name] = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
            replicas = [Replica(url, Pool(url, self.settings.upstream_pool_size,
                                          self.settings.upstream_connect_timeout_seconds))
                        for url in urls]
            self.balancers[name] = Balancer(name, replicas, self.settings.upstream_down_seconds,
                                            functools.partial(self._ready, name))

    async def _ready(self, name: str, url: str) -> bool:
        async with self.sessions[name].get(url + "/readyz", timeout=_PROBE_TIMEOUT) as resp:
            return resp.status == 200

    async def get(self, name: str, path: str, *, params: dict | None = None,
                  headers: dict | None = None,
                  timeout: aiohttp.ClientTimeout | None = None) -> tuple[int, bytes]:
        """(status, body) of one GET of the gateway's own (docs, views) on an address that is
        not marked down; a refused or dropped connection marks it down and the next one is
        tried. Raises what aiohttp raises when none answers."""
        balancer = self.balancers[name]
        replica = balancer.pick()
        tried: list[Replica] = []
        while True:
            try:
                async with self.sessions[name].get(replica.url + path, params=params,
                                                   headers=headers, timeout=timeout) as resp:
                    return resp.status, await resp.read()
            except aiohttp.ClientConnectionError as exc:
                if isinstance(exc, TimeoutError):  # slow is not down
                    raise
                balancer.mark_down(replica)
                tried.append(replica)
                replica = balancer.other_than(tried)
                if replica is None:
                    raise

    async def close(self) -> None:
        for balancer in self.balancers.values():
            await balancer.close()
        for session in self.sessions.values():
            await session.close()


class ForwardingApp:
    """The gateway's outermost ASGI app.

    /api/v1/<routed prefix> is forwarded by one flat handler that does, in a single pass over
    the request headers, what four middlewares did before (request id, trace context, metrics,
    NUL guard) plus gzip; everything else (docs, keys, views, ops) goes to `fallback`, the
    FastAPI app inside the usual middleware stack. Cross-origin browser requests (an Origin
    header while CORS is configured) take `dressed`: the same forwarding inside the CORS and
    shared middlewares, so preflights and CORS headers stay Starlette's.
    """

    def __init__(self, api, settings: Settings) -> None:
        self.settings = settings
        self.upstreams: Upstreams | None = None
        self.auth: Authenticator | None = None
        self.signer: InternalTokenSigner | None = None
        self.identity_limits = TokenBuckets(settings.rate_limit_per_identity,
                                            settings.rate_limit_identity_burst)
        self.address_limits = TokenBuckets(settings.rate_limit_per_address,
                                           settings.rate_limit_address_burst)
        # OWASP API6: bulk export and public sign-up have their own, tighter quotas.
        self.export_limits = TokenBuckets(
            settings.export_limit_count / settings.export_limit_window_seconds,
            settings.export_limit_count)
        self.signup_limits = TokenBuckets(
            settings.signup_limit_count / settings.signup_limit_window_seconds,
            settings.signup_limit_count)
        self._export_formats = frozenset(settings.export_formats)
        self._gzip_min = settings.gzip_minimum_bytes
        self._metrics: dict[tuple, tuple] = {}
        inner = api
        if settings.gzip_minimum_bytes > 0:
            inner = GZipMiddleware(inner, minimum_size=settings.gzip_minimum_bytes)
        cors = None
        if settings.cors_origins:
            cors = functools.partial(
                CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=CORS_ALLOW_HEADERS, expose_headers=CORS_EXPOSE_HEADERS,
                max_age=600)
            inner = cors(inner)
        self.fallback = _dress(inner)
        self.dressed = _dress(cors(self._dressed_core)) if cors else None

    async def __call__(self, scope, receive, send):
        path = scope["path"] if scope["type"] == "http" else ""
        if not path.startswith(_PREFIX_SLASH):
            return await self.fallback(scope, receive, send)
        sub_path = path[_PREFIX_LEN:]
        route = match(sub_path)
        if route is None:
            return await self.fallback(scope, receive, send)
        if self.dressed is not None and any(k == b"origin" for k, _ in scope["headers"]):
            scope["route_label"] = API_PREFIX + route.prefix
            return await self.dressed(scope, receive, send)
        started = time.perf_counter()
        query = scope["query_string"]
        req = messages.parse_headers(scope["headers"])
        if not req.request_id or len(req.request_id) > 200:
            req.request_id = uuid.uuid4().hex
        req.out.append((b"x-request-id", req.request_id.encode("latin-1")))
        req.out.append((b"traceparent", child_of(req.traceparent).encode()))
        status = 500
        try:
            if "\x00" in path or b"\x00" in query or b"%00" in query.lower():
                status = 422
                await self._problem(scope, receive, send, req, 422,
                                    "NUL characters are not allowed in the path or query",
                                    instance=path.replace("\x00", ""))
            else:
                status = await self._guarded(scope, receive, send, route, sub_path, req)
        finally:
            self._observe(scope["method"], API_PREFIX + route.prefix, status,
                          time.perf_counter() - started)

    async def _dressed_core(self, scope, receive, send):
        """Forwarding under the shared middlewares (they set the request id and traceparent)."""
        sub_path = scope["path"][_PREFIX_LEN:]
        req = messages.parse_headers(scope["headers"])
        req.out.append((b"x-request-id", req.request_id.encode("latin-1")))
        if req.traceparent:
            req.out.append((b"traceparent", req.traceparent.encode("latin-1")))
        await self._guarded(scope, receive, send, match(sub_path), sub_path, req)

    async def _guarded(self, scope, receive, send, route, sub_path: str, req: ParsedRequest) -> int:
        try:
            return await self._forward(scope, receive, send, route, sub_path, req)
        except AppError as exc:
            return await self._problem(scope, receive, send, req, exc.status, exc.detail,
                                       slug=exc.slug, title=exc.title, headers=exc.headers)

    async def _forward(self, scope, receive, send, route, sub_path: str, req: ParsedRequest) -> int:
        client = scope.get("client")
        address = client[0] if client else "unknown"
        wait = self.address_limits.take(address)
        if wait:
            RATE_LIMITED.labels("address").inc()
            return await self._too_many(scope, receive, send, req, wait)
        identity = await self.auth.identify(req.authorization, req.api_key)
        if not identity.is_anonymous:
            wait = self.identity_limits.take(identity.sub)
            if wait:
                RATE_LIMITED.labels(identity.kind).inc()
                return await self._too_many(scope, receive, send, req, wait)
        method = scope["method"]
        if identity.kind == "apikey":
            needed = route.scope_for(method)
            if needed not in identity.scopes:
                raise Forbidden(f"this API key lacks the scope {needed!r}")
        quota = self._flow_quota(method, sub_path, scope["query_string"], identity, address)
        if quota is not None:
            flow, wait = quota
            return await self._too_many(scope, receive, send, req, wait,
                                        detail=f"too many {flow} requests; this flow has its "
                                               "own quota")
        req.out.append((b"x-teke-identity", self.signer.sign(identity).encode()))
        req.out.append((b"x-forwarded-for", address.encode("latin-1")))

        limit = (self.settings.max_bulk_body_bytes if is_bulk_path(sub_path)
                 else self.settings.max_body_bytes)
        body = await messages.read_body(receive, limit, req.content_length)
        if body is None:
            return await self._problem(scope, receive, send, req, 413,
                                       f"request body over {limit} bytes")
        breaker = self.upstreams.breakers[route.upstream]
        wait = breaker.allow()
        if wait:
            UPSTREAM_ERRORS.labels(route.upstream, "circuit_open").inc()
            return await self._problem(
                scope, receive, send, req, 503,
                f"the {route.upstream} service is failing; not trying for now",
                headers={"Retry-After": retry_after(wait)})
        # Forward the path as the client encoded it: decoding first would turn an encoded
        # "?" or "#" inside an id into a query or a fragment.
        target = (scope.get("raw_path") or scope["path"].encode())[_PREFIX_LEN:]
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        balancer = self.upstreams.balancers[route.upstream]
        replica = balancer.single or balancer.pick()  # one address: no call
        idempotent = method in ("GET", "HEAD")
        retries = self.settings.upstream_read_retries if idempotent else 0
        progress = [False]
        fresh = False
        tried: list[Replica] | None = None  # made on a failure only
        while True:
            try:
                async with asyncio.timeout(self.settings.upstream_timeout_seconds):
                    status = await self._exchange(send, progress, replica.pool, method,
                                                  target, req, body, fresh)
                breaker.success()
                return status
            except (TimeoutError, UpstreamError) as exc:
                if progress[0]:  # the answer is under way: nothing to retry
                    return await self._upstream_failed(scope, receive, send, route, exc,
                                                       True, req)
                # A closed keep-alive connection (exc.reused) is the pool's race, not the
                # address's fault; a refused or dropped fresh one is.
                down = isinstance(exc, ConnectFailed) or (
                    isinstance(exc, Disconnected) and not exc.reused)
                if down:
                    balancer.mark_down(replica)
                # Another address: when nothing was sent, or for a read.
                if isinstance(exc, ConnectFailed) or idempotent:
                    tried = [*(tried or ()), replica]
                    other = balancer.other_than(tried)
                    if other is not None:
                        replica, fresh = other, False
                        continue
                # A pooled keep-alive connection closed under us before any answer: safe to
                # retry reads only, on a new connection.
                if isinstance(exc, Disconnected) and exc.reused and retries > 0:
                    retries -= 1
                    fresh = True
                    continue
                # A write dropped by one replica while another is up: the client retries
                # (Idempotency-Key); it is no reason to stop sending to the service.
                blame = not (isinstance(exc, (ConnectFailed, Disconnected))
                             and balancer.single is None and balancer.any_up())
                return await self._upstream_failed(scope, receive, send, route, exc,
                                                   False, req, blame)

    def _flow_quota(self, method: str, sub_path: str, query: bytes, identity,
                    address: str) -> tuple[str, float] | None:
        """(flow, seconds to wait) when a sensitive flow's quota is spent, else None.

        Exports (paths ending in /export, or a `format=` asking for a file) are counted per
        identity (per address when anonymous), administrators' not; public sign-ups per
        address."""
        if method == "GET" and (sub_path.endswith("/export") or (
                b"format=" in query and self._asks_export(query))):
            if identity.has_role("admin"):  # an administrator's exports are not throttled
                return None
            key = f"addr:{address}" if identity.is_anonymous else identity.sub
            wait = self.export_limits.take(key)
            if wait:
                RATE_LIMITED.labels("export").inc()
                return ("export", wait)
        elif method == "POST" and sub_path == "/subscriptions":
            wait = self.signup_limits.take(address)
            if wait:
                RATE_LIMITED.labels("signup").inc()
                return ("sign-up", wait)
        return None

    def _asks_export(self, query: bytes) -> bool:
        for part in query.split(b"&"):
            name, _, value = part.partition(b"=")
            if name == b"format" and value.decode("latin-1").lower() in self._export_formats:
                return True
        return False

    async def _exchange(self, send, progress: list, pool: Pool, method: str,
                        target: bytes, req: ParsedRequest, body: bytes, fresh: bool = False) -> int:
        """One upstream call, streamed back to the client; marks `progress` once bytes go out."""
        conn = await pool.exchange(method, target, req.out, body, fresh)
        try:
            status = conn.status
            out = []
            length = None
            for k, v in conn.headers:
                if k not in _DROP_RESPONSE:
                    out.append((k, v))
                elif k == b"content-length" and v.isdigit():
                    length = int(v)
            out.append((b"x-request-id", req.request_id.encode("latin-1")))
            if method == "HEAD" or status in (204, 304):
                # No body: a HEAD keeps the upstream's length (that of the GET), 204 and 304
                # carry none (RFC 9110 8.6).
                if method == "HEAD" and length is not None:
                    out.append((b"content-length", str(length).encode()))
                await conn.read_all()
                progress[0] = True
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": b""})
                return status
            compress = self._gzip_min > 0 and req.gzip and status != 206 and messages.compressible(out)
            whole = conn.complete or (length is not None and length <= _READ_WHOLE_UNDER)
            data = b""
            if whole:
                data = await conn.read_all()
            elif length is None:
                # Chunked or close-delimited: read up to the same bound before answering, so a
                # small body that fails midway is still a 502/503 rather than a cut response.
                parts, size = [], 0
                while size <= _READ_WHOLE_UNDER:
                    piece = await conn.read_some()
                    if not piece:
                        whole = True
                        break
                    parts.append(piece)
                    size += len(piece)
                data = b"".join(parts)
            if whole:
                if method == "GET" and status == 200:
                    status, data = messages.conditional(out, data, req.if_none_match)
                if compress and len(data) >= self._gzip_min:
                    data = await messages.gzip_body(data)
                    out.append((b"content-encoding", b"gzip"))
                    messages.add_vary(out)
                out.append((b"content-length", str(len(data)).encode()))
                progress[0] = True
                await send({"type": "http.response.start", "status": status, "headers": out})
                await send({"type": "http.response.body", "body": data})
                return status
            compressor = None
            if compress:
                compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                out.append((b"content-encoding", b"gzip"))
                messages.add_vary(out)
            progress[0] = True
            await send({"type": "http.response.start", "status": status, "headers": out})
            if data:
                if compressor is not None:
                    data = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
                await send({"type": "http.response.body", "body": data, "more_body": True})
            while chunk := await conn.read_some():
                if compressor is not None:
                    chunk = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body",
                        "body": compressor.flush() if compressor is not None else b""})
            return status
        finally:
            pool.release(conn)

    async def _upstream_failed(self, scope, receive, send, route, exc: Exception,
                               started: bool, req: ParsedRequest, blame: bool = True) -> int:
        breaker = self.upstreams.breakers[route.upstream]
        if blame or breaker.opened_at is not None:  # (a half-open trial always reports back)
            breaker.failure()
        name = route.upstream
        if isinstance(exc, (ConnectFailed, Disconnected)):
            kind, status, detail = "unavailable", 503, f"the {name} service is unavailable"
        elif isinstance(exc, TimeoutError):
            kind, status, detail = "timeout", 504, f"the {name} service did not answer in time"
        else:
            kind, status, detail = "error", 502, f"the {name} service failed"
        UPSTREAM_ERRORS.labels(name, kind).inc()
        # The fast path binds no log context (it costs on every request): name it here.
        log.warning("gateway.upstream_failed", upstream=name, kind=kind, error=repr(exc),
                    request_id=req.request_id)
        if started:
            return status  # the response is under way: all that can be done is to cut it short
        headers = {"Retry-After": "5"} if status == 503 else None
        return await self._problem(scope, receive, send, req, status, detail, headers=headers)

    async def _too_many(self, scope, receive, send, req: ParsedRequest, wait: float,
                        detail: str = "too many requests; slow down") -> int:
        return await self._problem(scope, receive, send, req, 429, detail,
                                   headers={"Retry-After": retry_after(wait)})

    async def _problem(self, scope, receive, send, req: ParsedRequest, status: int, detail: str,
                       instance: str | None = None, headers: dict | None = None, **kw) -> int:
        headers = {**(headers or {}), "X-Request-ID": req.request_id}
        await problem_response(status, detail=detail, instance=instance or scope["path"],
                               request_id=req.request_id, headers=headers,
                               **kw)(scope, receive, send)
        return status

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._metrics.get(key)
        if children is None:
            children = (REQUESTS.labels("gateway", method, route, str(status)),
                        LATENCY.labels("gateway", method, route))
            if len(self._metrics) < 5000:
                self._metrics[key] = children
        children[0].inc()
        children[1].observe(seconds)


_PREFIX_SLASH = API_PREFIX + "/"
_PREFIX_LEN = len(API_PREFIX)


def _dress(app):
    return RequestIdMiddleware(TraceMiddleware(MetricsMiddleware(NulGuardMiddleware(app),
                                                                 service="gateway")))


