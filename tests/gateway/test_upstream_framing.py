"""gateway.upstream against a real local server, for every way a response can be framed or fail.

The server (tests/gateway/rawserver.py) writes exact bytes on 127.0.0.1. Each case checks the
answer, whether the connection went back to the pool (and that the next request then really
reused it, or really opened a new one), and that every failure raises the error kind the
gateway maps to 502/503 at once, never after a timeout.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.upstream import MAX_HEAD_BYTES, Disconnected, Pool, UpstreamError
from tests.gateway.rawserver import (
    CLOSE,
    KEEP,
    RESET,
    STALL,
    RawServer,
    chunked,
    response,
)

GOOD = response(200, b"good", [("Content-Type", "text/plain")])
KIB, MIB = 1024, 1024 * 1024
PROMPT = 1.0  # seconds; a failure must be reported well inside the caller's timeout


async def fetch(pool: Pool, path: bytes = b"/case", method: str = "GET", mode: str = "all",
                timeout: float = 5.0, fresh: bool = False):
    """One exchange; (status, headers, body, went back to the pool)."""
    async with asyncio.timeout(timeout):
        conn = await pool.exchange(method, path, [(b"accept", b"*/*")], b"", fresh)
        try:
            if mode == "all":
                body = await conn.read_all()
            else:
                parts = []
                while piece := await conn.read_some():
                    parts.append(piece)
                body = b"".join(parts)
            return conn.status, dict(conn.headers), body, conn.keep_alive
        finally:
            pool.release(conn)


def serving(case):
    """A handler: /good answers GOOD and keeps the connection; anything else runs `case`."""
    async def handler(request, writer):
        if request.path == "/good":
            writer.write(GOOD)
            return KEEP
        return await case(request, writer)
    return handler


def writes(data: bytes, outcome: str = KEEP, pieces: int = 1, pause: float = 0.0):
    async def case(_request, writer):
        step = max(1, -(-len(data) // pieces))
        for i in range(0, len(data), step):
            writer.write(data[i:i + step])
            if pause:
                await writer.drain()
                await asyncio.sleep(pause)
        return outcome
    return case


def body_of(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


async def check_next_is_good(pool: Pool, server: RawServer, reused: bool) -> None:
    """The following request answers right, on the same connection only if it was pooled."""
    before = server.connections
    status, _, body, _ = await fetch(pool, b"/good")
    assert (status, body) == (200, b"good")
    assert server.connections == before + (0 if reused else 1)


# --- framings that must work -------------------------------------------------------------

SIZES = [0, 1, 256 * KIB - 1, 256 * KIB + 1, 600 * KIB, 900_000, MIB, MIB + 1, 5 * MIB]


@pytest.mark.parametrize("mode", ["all", "some"])
@pytest.mark.parametrize("size", SIZES)
async def test_content_length_bodies(size, mode):
    data = body_of(size)
    async with RawServer(serving(writes(response(200, data)))) as server:
        pool = Pool(server.url, 4, 1.0)
        started = time.monotonic()
        status, headers, body, pooled = await fetch(pool, mode=mode)
        assert status == 200 and body == data and pooled
        assert headers[b"content-length"] == str(size).encode()
        assert time.monotonic() - started < 3.0
        await check_next_is_good(pool, server, reused=True)


async def test_fifty_megabytes_streamed():
    data = body_of(50 * MIB)
    async with RawServer(serving(writes(response(200, data)))) as server:
        pool = Pool(server.url, 4, 1.0)
        async with asyncio.timeout(20):
            conn = await pool.exchange("GET", b"/case", [], b"")
            size, biggest = 0, 0
            while piece := await conn.read_some():
                assert piece == data[size:size + len(piece)]
                size += len(piece)
                biggest = max(biggest, len(piece))
            assert size == len(data) and conn.keep_alive
            pool.release(conn)
        assert biggest <= 4 * MIB  # read in pieces, never the whole body at once
        await check_next_is_good(pool, server, reused=True)


FRAMINGS = {
    "chunked": (chunked(b"hello chunked world" * 10), b"hello chunked world" * 10, True),
    "chunked, trailers": (chunked(b"abc" * 100, 64, trailers=[("X-Checksum", "1"),
                                                              ("X-More", "2")]),
                          b"abc" * 100, True),
    "chunked, extensions": (chunked(b"xyz" * 50, 10, extensions=True), b"xyz" * 50, True),
    "chunked, empty": (chunked(b""), b"", True),
    "chunked, 3 MiB": (chunked(body_of(3 * MIB), 64 * KIB), body_of(3 * MIB), True),
    "connection: close": (response(200, b"bye", [("Connection", "close")]), b"bye", False),
    "HTTP/1.0, length": (response(200, b"old", version="1.0"), b"old", False),
    "HTTP/1.0 keep-alive": (response(200, b"old", [("Connection", "keep-alive")],
                                     version="1.0"), b"old", True),
    "204": (response(204, length=False, reason="No Content"), b"", True),
    "304 with length": (b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\nContent-Length: 10\r\n\r\n",
                        b"", True),
    "100 continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, b"final"), b"final", True),
    "103 early hints": (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                        + response(200, b"final", [("X-Final", "1")]), b"final", True),
    "two 1xx": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                + response(201, b"made"), b"made", True),
    "empty reason, odd case": (b"HTTP/1.1 200 \r\ncOnTeNt-LeNgTh: 2\r\n\r\nok", b"ok", True),
}


@pytest.mark.parametrize("mode", ["all", "some"])
@pytest.mark.parametrize("dribble", [False, True], ids=["whole", "dribbled"])
@pytest.mark.parametrize("name", list(FRAMINGS))
async def test_framings(name, dribble, mode):
    data, expected, pooled_expected = FRAMINGS[name]
    if dribble and len(data) > 10_000:
        pytest.skip("dribbling is for small responses")
    # dribbled: 1-13 byte pieces, each flushed on its own, so every boundary is crossed
    case = writes(data, pieces=max(1, len(data) // 3) if dribble else 1,
                  pause=0.001 if dribble else 0.0)
    async with RawServer(serving(case)) as server:
        pool = Pool(server.url, 4, 1.0)
        status, headers, body, pooled = await fetch(pool, mode=mode)
        assert status >= 200 and body == expected and pooled == pooled_expected
        assert b"link" not in headers  # an interim answer's headers are not the final's
        assert b"x-checksum" not in headers  # nor are a chunked body's trailer fields
        if name == "103 early hints":
            assert headers[b"x-final"] == b"1"
        await check_next_is_good(pool, server, reused=pooled_expected)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
@pytest.mark.parametrize("size", [0, 5, 700 * KIB])
async def test_close_delimited_body(version, size):
    data = body_of(size)
    async with RawServer(serving(writes(response(200, data, length=False, version=version),
                                        CLOSE))) as server:
        pool = Pool(server.url, 4, 1.0)
        started = time.monotonic()
        status, _, body, pooled = await fetch(pool)
        assert (status, body, pooled) == (200, data, False)
        assert time.monotonic() - started < PROMPT
        await check_next_is_good(pool, server, reused=False)


async def test_head_keeps_the_length_and_reads_no_body():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n"
    async with RawServer(serving(writes(head))) as server:
        pool = Pool(server.url, 4, 1.0)
        status, headers, body, pooled = await fetch(pool, method="HEAD")
        assert (status, body, pooled) == (200, b"", True)
        assert headers[b"content-length"] == b"1234"
        await check_next_is_good(pool, server, reused=True)


async def test_head_answered_with_a_body_is_not_reused():
    async with RawServer(serving(writes(response(200, b"not for a HEAD")))) as server:
        pool = Pool(server.url, 4, 1.0)
        status, _, body, _ = await fetch(pool, method="HEAD")
        assert (status, body) == (200, b"")
        await asyncio.sleep(0.05)  # the stray body may come after the head
        await check_next_is_good(pool, server, reused=False)


# --- failures: the right kind, at once, and the connection never reused -----------------

MALFORMED = {
    "not HTTP": b"HTX/1.1 200 OK\r\n\r\n",
    "garbage": b"\x00\x01\x02 hello\r\n\r\n",
    "space in header name": b"HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 0\r\n\r\n",
    "control char in value": b"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n",
    "length and chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\nabc",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    "status 999": b"HTTP/1.1 999 What\r\nContent-Length: 0\r\n\r\n",
    "switching protocols": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           b"Connection: Upgrade\r\n\r\n",
    "oversize header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10)
                       + b"\r\nContent-Length: 0\r\n\r\n",
    "too many headers": b"HTTP/1.1 200 OK\r\n" + b"X-H: 12345678901234\r\n" * 5000
                        + b"Content-Length: 0\r\n\r\n",
    "endless status line": b"HTTP/1.1 200 " + b"O" * (MAX_HEAD_BYTES + 10),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_response_is_an_error_at_once(name):
    async with RawServer(serving(writes(MALFORMED[name]))) as server:
        pool = Pool(server.url, 4, 1.0)
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            await fetch(pool)
        assert caught.value.kind == "error"  # -> 502
        assert time.monotonic() - started < PROMPT
        assert not pool._idle
        await check_next_is_good(pool, server, reused=False)


CUT = {
    "closed before answering": (b"", CLOSE),
    "reset before answering": (b"", RESET),
    "closed inside the head": (b"HTTP/1.1 200 OK\r\nContent-Le", CLOSE),
    "closed after a 1xx": (b"HTTP/1.1 100 Continue\r\n\r\n", CLOSE),
    "closed mid-body": (response(200, b"x" * 10)[:-4], CLOSE),
    "reset mid-body": (response(200, b"x" * 10)[:-4], RESET),
    "closed mid-body, 600 KiB": (response(200, b"x" * 600 * KIB)[:-1000], CLOSE),
    "reset mid-body, 2 MiB": (response(200, b"x" * 2 * MIB)[:-1000], RESET),
    "closed mid-chunk": (chunked(b"abcdefghij", 4)[:-12], CLOSE),
    "closed before the last chunk": (chunked(b"abcdefghij", 4)[:-5], CLOSE),
    "reset in a trailer": (chunked(b"abc", trailers=[("X-T", "1")])[:-4], RESET),
}


@pytest.mark.parametrize("mode", ["all", "some"])
@pytest.mark.parametrize("name", list(CUT))
async def test_cut_connection_is_disconnected_at_once(name, mode):
    data, outcome = CUT[name]
    async with RawServer(serving(writes(data, outcome))) as server:
        pool = Pool(server.url, 4, 1.0)
        started = time.monotonic()
        with pytest.raises(Disconnected) as caught:
            await fetch(pool, mode=mode)
        assert caught.value.kind == "unavailable"  # -> 503
        assert not caught.value.reused  # a new connection: nothing to retry
        assert time.monotonic() - started < PROMPT
        assert not pool._idle
        await check_next_is_good(pool, server, reused=False)


@pytest.mark.parametrize("data", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
                         ids=["before the head", "mid-body"])
async def test_stalled_upstream_times_out_and_is_not_reused(data):
    async with RawServer(serving(writes(data, STALL))) as server:
        pool = Pool(server.url, 4, 1.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await fetch(pool, timeout=0.3)
        assert time.monotonic() - started < PROMPT
        assert not pool._idle
        await check_next_is_good(pool, server, reused=False)


# --- keep-alive: a connection the upstream closed or spoiled is never reused ------------

async def test_a_500_is_not_reused_even_if_it_allows_keep_alive():
    # uvicorn, after an exception whose 500 Starlette already sent, closes the connection a
    # moment later; nothing in the response says so.
    async def case(_request, writer):
        writer.write(response(500, b"boom"))
        await writer.drain()
        await asyncio.sleep(0.05)
        return CLOSE

    async with RawServer(serving(case)) as server:
        pool = Pool(server.url, 4, 1.0)
        status, _, body, pooled = await fetch(pool)
        assert (status, body, pooled) == (500, b"boom", False)
        started = time.monotonic()
        await check_next_is_good(pool, server, reused=False)
        assert time.monotonic() - started < PROMPT


async def test_kept_alive_connection_closed_when_reused_fails_at_once_and_can_retry():
    # The race behind the 504 after a 500: the upstream closes a pooled connection just as
    # the next request is written on it.
    async def handler(request, writer):
        if request.index == 0:
            writer.write(GOOD)
            return KEEP
        return CLOSE  # the second request on a connection: closed without an answer

    async with RawServer(handler) as server:
        pool = Pool(server.url, 4, 1.0)
        assert (await fetch(pool, b"/good"))[3]
        started = time.monotonic()
        with pytest.raises(Disconnected) as caught:
            await fetch(pool, b"/good")
        assert caught.value.reused  # the gateway retries a read once, on a new connection
        assert time.monotonic() - started < PROMPT
        status, _, body, _ = await fetch(pool, b"/good", fresh=True)
        assert (status, body) == (200, b"good") and server.connections == 2


async def test_idle_connection_closed_by_the_upstream_is_not_reused():
    async def case(_request, writer):
        writer.write(GOOD)
        await writer.drain()
        await asyncio.sleep(0.05)  # as uvicorn's keep-alive timeout, only shorter
        return CLOSE

    async with RawServer(serving(case)) as server:
        pool = Pool(server.url, 4, 1.0)
        assert (await fetch(pool))[3]  # pooled: it looked reusable when it ended
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await check_next_is_good(pool, server, reused=False)
        assert time.monotonic() - started < PROMPT


@pytest.mark.parametrize("late", [False, True], ids=["same write", "while idle"])
async def test_bytes_after_the_response_spoil_the_connection(late):
    stray = response(200, b"stray")

    async def case(_request, writer):
        writer.write(GOOD if late else GOOD + stray)
        if late:
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        return KEEP

    async with RawServer(serving(case)) as server:
        pool = Pool(server.url, 4, 1.0)
        status, _, body, _ = await fetch(pool)
        assert (status, body) == (200, b"good")
        await asyncio.sleep(0.15)
        await check_next_is_good(pool, server, reused=False)


async def test_concurrent_mixed_framings_share_a_pool():
    cases = {b"/cl": response(200, b"a" * 5000), b"/ch": chunked(b"b" * 5000, 999),
             b"/big": response(200, b"c" * (700 * KIB)), b"/204": response(204, length=False)}
    expected = {b"/cl": b"a" * 5000, b"/ch": b"b" * 5000, b"/big": b"c" * (700 * KIB),
                b"/204": b""}

    async def handler(request, writer):
        writer.write(cases[request.path.encode()])
        return KEEP

    async with RawServer(handler) as server:
        pool = Pool(server.url, 4, 1.0)
        paths = list(cases) * 15
        results = await asyncio.gather(*(fetch(pool, p, mode="all" if i % 2 else "some")
                                         for i, p in enumerate(paths)))
        for path, (_, _, body, _) in zip(paths, results, strict=True):
            assert body == expected[path]
        assert server.connections <= 4
