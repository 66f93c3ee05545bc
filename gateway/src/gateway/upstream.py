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


class _Conn(asyncio.Protocol):
    """One upstream connection; serves one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
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

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("the upstream tried to switch protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed upstream response: {exc}"))

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.complete:
            try:
                self.parser.feed_eof()  # a body delimited by the connection's end
            except httptools.HttpParserError:
                pass
        if not self.complete:
            self._fail(Disconnected("the upstream closed the connection", self.reused))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status < 200:  # 1xx: an interim answer; the real one follows
            self.headers = []
            return
        self.headers_done = True
        if self.skip_body or self.status in (204, 304):
            self._done()
        else:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
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
        # Read now: httptools answers False once it has moved past the message.
        self.reusable = self.parser.should_keep_alive()
        self._wake()

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
        data = b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        return data

    async def read_all(self) -> bytes:
        while not self.complete and self.error is None:
            await self._wait()
        if self.error is not None and not self.complete:
            raise self.error
        return self.take()

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
        return self.complete and self.reusable and not self.closed and not self.chunks


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
                       body: bytes) -> _Conn:
        """Send one request; returns the connection once the response headers are in.

        The caller reads the body (read_all / read_some) and must call `release`."""
        await self._slots.acquire()
        conn = None
        try:
            now = asyncio.get_running_loop().time()
            while self._idle:
                candidate = self._idle.pop()
                if now - candidate.idle_since > _MAX_IDLE:
                    candidate.closed = True
                    candidate.transport.close()
                elif not candidate.closed:
                    conn = candidate
                    conn.reused = True
                    conn._reset()
                    break
            if conn is None:
                conn = await self._connect()
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
