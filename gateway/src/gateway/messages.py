"""The gateway's request and response conventions on the forwarding path: request headers
read in one pass (what the handler needs, what never goes upstream), the request body under
its limit, and the response dressing every GET gets (gzip, Vary, ETag and 304)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

_NO_GZIP = frozenset(DEFAULT_EXCLUDED_CONTENT_TYPES)


class ParsedRequest:
    """What the forwarding path needs from the request headers, read in one pass."""

    __slots__ = ("out", "authorization", "api_key", "request_id", "traceparent",
                 "if_none_match", "content_length", "gzip")

    def __init__(self) -> None:
        self.out: list[tuple[bytes, bytes]] = []
        self.authorization = self.api_key = self.request_id = self.traceparent = None
        self.if_none_match = self.content_length = None
        self.gzip = False


def parse_headers(headers) -> ParsedRequest:
    req = ParsedRequest()
    out = req.out
    for k, v in headers:
        action = _SPECIAL.get(k)
        if action is None:
            out.append((k, v))
        elif action == "gzip":
            req.gzip = req.gzip or b"gzip" in v.lower()
            out.append((k, v))
        elif action == "if_none_match":
            req.if_none_match = v.decode("latin-1")
            out.append((k, v))
        elif action != "drop":
            setattr(req, action, v.decode("latin-1"))
    return req


# Request headers the handler reads; "drop" ones (hop-by-hop, credentials the gateway
# consumed, an identity a client tries to assert itself) never go upstream. The request id
# and traceparent are re-added by the handler.
_SPECIAL: dict[bytes, str] = {
    **dict.fromkeys((b"host", b"connection", b"keep-alive", b"proxy-authorization", b"te",
                     b"trailer", b"transfer-encoding", b"upgrade", b"x-teke-identity",
                     b"expect"), "drop"),
    b"authorization": "authorization", b"x-api-key": "api_key",
    b"x-request-id": "request_id", b"traceparent": "traceparent",
    b"content-length": "content_length", b"accept-encoding": "gzip",
    b"if-none-match": "if_none_match",
}
def compressible(headers: list) -> bool:
    media = ""
    for k, v in headers:
        if k == b"content-encoding":
            return False
        if k == b"content-type":
            media = v.decode("latin-1").partition(";")[0].strip().lower()
    return media not in _NO_GZIP and media.partition("/")[0] + "/*" not in _NO_GZIP


async def gzip_body(data: bytes) -> bytes:
    # Same level as Starlette's GZipMiddleware; big bodies off the event loop, as there.
    if len(data) >= 128 * 1024:
        return await asyncio.to_thread(gzip.compress, data, 9)
    return gzip.compress(data, 9)


def add_vary(headers: list) -> None:
    for i, (k, v) in enumerate(headers):
        if k == b"vary":
            if b"accept-encoding" not in v.lower():
                headers[i] = (k, v + b", Accept-Encoding")
            return
    headers.append((b"vary", b"Accept-Encoding"))


def conditional(headers: list, data: bytes, if_none_match: str | None) -> tuple[int, bytes]:
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


async def read_body(receive, limit: int, declared: str | None) -> bytes | None:
    if declared is not None and declared.isdigit() and int(declared) > limit:
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
