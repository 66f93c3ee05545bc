"""A small HTTP/1.1 keep-alive client for the forwarding path, on asyncio protocols + httptools.

Measured here, aiohttp's client spends ~0.15-0.19 ms of CPU per request and a hand-written one
~0.03 ms; after the gateway's own wrappers were folded, aiohttp was about two thirds of the
forwarding CPU (bench/RESULTS.md, gateway_cost). This client does only what forwarding needs:
one pool of idle connections per upstream, bytes in and bytes out, the response parsed by
httptools (the parser uvicorn uses), and errors sorted into the kinds the gateway answers with
(connect failure and dropped connection: 503, timeout: 504, malformed answer: 502).
"""

from __future__ import annotations

import asyncio
import collections
from urllib.parse import urlsplit

import httptools


class UpstreamError(Exception):
    kind = "error"  # -> 502


class ConnectFailed(UpstreamError):
    kind = "unavailable"  # -> 503; never retried (nothing listens)


class Disconnected(UpstreamError):
    kind = "unavailable"  # -> 503; a read on a reused connection may be retried

    def __init__(self, message: str, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused


_HIGH_WATER = 256 * 1024  # stop reading from the upstream while this much waits for the client
# uvicorn closes a keep-alive connection after 5 s idle; one idle longer than this is not
# reused, so a write never races the upstream's close (that would be a 503 for a POST).
_MAX_IDLE = 4.0
# A response head (status line, headers, any 1xx before it) longer than this is refused (502).
# llhttp has no limit of its own and httptools buffers a header until it ends.
MAX_HEAD_BYTES = 64 * 1024


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing (the reason is on the connection)."""


class _Conn(asyncio.Protocol):
    """One upstream connection; serves one exchange at a time.

    The rules that keep a broken connection out of the pool: a connection is reused only when
    its last response ended exactly where the parser says (Content-Length or the last chunk),
    the upstream allowed keep-alive, nothing arrived after that end (or while idle), its
    status was below 500 and its transport is still open. Any failure closes it at once and
    wakes the waiting reader, so an exchange never waits for a timeout the upstream already
    answered with a close or a reset."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.busy = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.reusable = False
        self.error: Exception | None = None
        self.skip_body = False
        self.waiter: asyncio.Future | None = None
        self.headers_done = False
        self.paused = False
        self.head_bytes = 0
        self.has_length = False
        self.chunked = False
        self.until_eof = False  # a body delimited by the connection's end
        self.spoiled = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.error is not None:
            # Bytes while idle in the pool (an unsolicited answer, a late body) or after a
            # failure: this connection's framing can no longer be trusted.
            self._spoil()
            return
        try:
            if not self.headers_done:
                room = MAX_HEAD_BYTES - self.head_bytes
                if len(data) > room:
                    self.parser.feed_data(data[:room])
                    if not self.headers_done:
                        self._fail(UpstreamError(
                            f"upstream response head over {MAX_HEAD_BYTES} bytes"))
                        return
                    data = data[room:]
                else:
                    self.head_bytes += len(data)
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("the upstream tried to switch protocols"))
        except httptools.HttpParserError as exc:
            if self.spoiled or self.complete:  # bytes after the end of a complete response
                self._spoil()
            elif self.error is None:
                self._fail(UpstreamError(f"malformed upstream response: {exc}"))

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.complete or self.error is not None:
            self._wake()
            return
        if self.headers_done and self.until_eof and exc is None:
            self.complete = True  # the close is the end of this body; never reused
            self.reusable = False
            self._wake()
            return
        self._fail(Disconnected(
            "the upstream reset the connection" if exc is not None else
            "the upstream closed the connection" if not self.headers_done else
            "the upstream closed the connection before the end of the body",
            self.reused and not self.headers_done))

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self.complete:  # a second response to one request
            self.spoiled = True
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers_done:  # a chunked body's trailer fields: not forwarded
            return
        name = name.lower()
        if name == b"content-length":
            self.has_length = True
        elif name == b"transfer-encoding":
            # RFC 9112 6.1: chunked only when it is the final coding, else read to the close
            self.chunked = value.rstrip(b" \t").lower().endswith(b"chunked")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = status = self.parser.get_status_code()
        if status < 200:  # 1xx: an interim answer; the real one follows
            self.headers = []
            self.has_length = self.chunked = False
            return
        if status > 599:
            self._fail(UpstreamError(f"the upstream answered with status {status}"))
            raise _Stop
        self.headers_done = True
        if self.skip_body or status in (204, 304):
            self._done()
        else:
            self.until_eof = not self.chunked and not self.has_length
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:  # a body after a HEAD's or a 204's head
            self.spoiled = True
            raise _Stop
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.headers_done and not self.complete:  # (not the end of a 1xx)
            self._done()

    # helpers
    def _done(self) -> None:
        self.complete = True
        # Read now: httptools answers False once it has moved past the message. A 5xx is not
        # reused: uvicorn closes the connection after a 500 that Starlette already sent (an
        # exception in the app), with nothing in the response that says so.
        self.reusable = self.status < 500 and self.parser.should_keep_alive()
        self._wake()

    def _spoil(self) -> None:
        self.spoiled = True
        self.reusable = False
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def headers_ready(self) -> None:
        while not self.headers_done and self.error is None:
            await self._wait()
        if self.error is not None and not self.headers_done:
            raise self.error

    def take(self) -> bytes:
        data = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        if self.paused:
            self.paused = False
            if not self.closed:
                self.transport.resume_reading()
        return data

    async def read_all(self) -> bytes:
        # Take as it comes: reading pauses while _HIGH_WATER bytes wait, and only taking
        # resumes it (waiting for the end without taking was a deadlock: 256 KiB-1 MiB bodies).
        parts = []
        while True:
            if self.chunks:
                parts.append(self.take())
            if self.complete:
                return b"".join(parts)
            if self.error is not None:
                raise self.error
            await self._wait()

    async def read_some(self) -> bytes:
        """The next piece of the body; b"" at its end."""
        while not self.chunks and not self.complete and self.error is None:
            await self._wait()
        if self.chunks:
            return self.take()
        if self.error is not None and not self.complete:
            raise self.error
        return b""

    @property
    def keep_alive(self) -> bool:
        return (self.complete and self.reusable and not self.closed and not self.spoiled
                and self.error is None and not self.chunks
                and not self.transport.is_closing())


class Pool:
    """Idle keep-alive connections to one upstream, at most `limit` in use at once."""

    def __init__(self, base_url: str, limit: int, connect_timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/").encode()
        self.host_header = parts.netloc.encode()
        self.connect_timeout = connect_timeout
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    _Conn, self.host, self.port, ssl=self.tls or None)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc!r}") from exc
        return conn

    async def exchange(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                       body: bytes, fresh: bool = False) -> _Conn:
        """Send one request; returns the connection once the response headers are in.

        The caller reads the body (read_all / read_some) and must call `release`. `fresh`:
        a new connection, not an idle one (a retry after a reused one was found closed)."""
        await self._slots.acquire()
        conn = None
        try:
            now = asyncio.get_running_loop().time()
            while self._idle and not fresh:
                candidate = self._idle.pop()
                if candidate.closed or candidate.transport.is_closing():
                    continue
                if now - candidate.idle_since > _MAX_IDLE:
                    candidate.closed = True
                    candidate.transport.close()
                else:
                    conn = candidate
                    conn._reset()
                    conn.reused = True
                    break
            if conn is None:
                conn = await self._connect()
            conn.busy = True
            conn.skip_body = method == "HEAD"
            head = [method.encode(), b" ", self.base_path, target, b" HTTP/1.1\r\nhost: ",
                    self.host_header, b"\r\n"]
            for k, v in headers:
                head += (k, b": ", v, b"\r\n")
            if body or method in ("POST", "PUT", "PATCH"):
                head += (b"content-length: ", str(len(body)).encode(), b"\r\n")
            head.append(b"\r\n")
            conn.transport.write(b"".join(head) + body if body else b"".join(head))
            await conn.headers_ready()
            return conn
        except BaseException:
            if conn is not None:
                conn.closed = True
                conn.transport.close()
            self._slots.release()
            raise

    def release(self, conn: _Conn) -> None:
        """Back to the pool if the exchange finished cleanly, else closed."""
        conn.busy = False
        if conn.keep_alive:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.append(conn)
        else:
            conn.closed = True
            conn.transport.close()
        self._slots.release()

    def close(self) -> None:
        for conn in self._idle:
            conn.transport.close()
        self._idle.clear()
