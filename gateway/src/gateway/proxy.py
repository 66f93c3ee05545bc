"""The forwarding path: raw ASGI in front of the FastAPI app, one aiohttp session per upstream.

This path is hot, so it does only what forwarding needs: authenticate (cached), check the
key's scope, sign the internal identity (cached), and stream bytes through. It never parses
or re-validates bodies. aiohttp was chosen over httpx by measurement (bench/RESULTS.md).
"""

from __future__ import annotations

import aiohttp
from shared.errors import AppError, problem_response
from shared.identity import InternalTokenSigner
from shared.logging import get_logger
from shared.middleware import is_bulk_path

from gateway.auth import Authenticator
from gateway.config import Settings
from gateway.routes import API_PREFIX, match

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

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX + "/"):
            return await self.fallback(scope, receive, send)
        sub_path = scope["path"][len(API_PREFIX):]
        route = match(sub_path)
        if route is None:
            return await self.fallback(scope, receive, send)
        try:
            await self._forward(scope, receive, send, route, sub_path)
        except AppError as exc:
            await problem_response(exc.status, detail=exc.detail, slug=exc.slug, title=exc.title,
                                   instance=scope["path"], headers=exc.headers,
                                   request_id=_request_id(scope))(scope, receive, send)

    async def _forward(self, scope, receive, send, route, sub_path: str) -> None:
        headers_in = scope["headers"]
        authorization = api_key = None
        out_headers: list[tuple[str, str]] = []
        for k, v in headers_in:
            if k == b"authorization":
                authorization = v.decode("latin-1")
            elif k == b"x-api-key":
                api_key = v.decode("latin-1")
            if k not in _DROP_REQUEST:
                out_headers.append((k.decode("latin-1"), v.decode("latin-1")))
        identity = await self.auth.identify(authorization, api_key)
        method = scope["method"]
        if identity.kind == "apikey":
            needed = route.scope_for(method)
            if needed not in identity.scopes:
                from shared.errors import Forbidden

                raise Forbidden(f"this API key lacks the scope {needed!r}")
        out_headers.append(("x-teke-identity", self.signer.sign(identity)))
        client = scope.get("client")
        if client:
            out_headers.append(("x-forwarded-for", client[0]))

        limit = (self.settings.max_bulk_body_bytes if is_bulk_path(sub_path)
                 else self.settings.max_body_bytes)
        body = await _read_body(receive, limit, scope)
        if body is None:
            return await problem_response(413, detail=f"request body over {limit} bytes",
                                          instance=scope["path"],
                                          request_id=_request_id(scope))(scope, receive, send)
        url = self.upstreams.urls[route.upstream] + sub_path
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        session = self.upstreams.sessions[route.upstream]
        try:
            async with session.request(method, url, headers=out_headers, data=body or None,
                                       allow_redirects=False) as resp:
                headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                           for k, v in resp.headers.items() if k.lower() not in _DROP_RESPONSE]
                length = resp.content_length
                if length is not None and length <= _READ_WHOLE_UNDER:
                    data = await resp.read()
                    headers.append((b"content-length", str(len(data)).encode()))
                    await send({"type": "http.response.start", "status": resp.status,
                                "headers": headers})
                    await send({"type": "http.response.body", "body": data})
                    return
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": headers})
                async for chunk in resp.content.iter_chunked(65536):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
            log.warning("gateway.upstream_unavailable", upstream=route.upstream, error=repr(exc))
            await problem_response(503, detail=f"the {route.upstream} service is unavailable",
                                   instance=scope["path"], request_id=_request_id(scope),
                                   headers={"Retry-After": "5"})(scope, receive, send)
        except TimeoutError:
            log.warning("gateway.upstream_timeout", upstream=route.upstream)
            await problem_response(504, detail=f"the {route.upstream} service did not answer in time",
                                   instance=scope["path"],
                                   request_id=_request_id(scope))(scope, receive, send)
        except aiohttp.ClientError as exc:
            log.warning("gateway.upstream_error", upstream=route.upstream, error=repr(exc))
            await problem_response(502, detail=f"the {route.upstream} service failed",
                                   instance=scope["path"],
                                   request_id=_request_id(scope))(scope, receive, send)


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
