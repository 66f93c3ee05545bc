"""Coverage-guided fuzz target (atheris) for gateway.upstream's response handling.

Input: byte 0 = flags (bit 0: the request was HEAD; bits 1-2: the upstream then keeps the
connection open, closes it, or resets it), byte 1 = seed for where the bytes are split into
reads, the rest = what the upstream sends. The connection protocol (_Conn) is driven as asyncio
would drive it, with a fake transport that honours pause_reading (the reader takes the body
while reading is paused). Checked on every input:

- nothing but the client's own error kinds escapes the protocol callbacks;
- once the connection is closed, the exchange is either complete or failed: a reader never
  waits for a timeout the upstream already answered;
- a connection is only ever pooled after a complete response below 500 on an open transport,
  and a failed one is closed;
- HEAD, 204 and 304 have no body;
- the outcome (status, headers, body, failure kind, reuse) is the same whether the bytes come
  in one read or split anywhere.

Run: python tests/gateway/fuzz_upstream.py [corpus dir] -runs=N (libFuzzer flags);
`--write-seeds DIR` writes the seed corpus.
`tests/gateway/test_upstream_fuzz.py` runs it briefly in the suite.
"""

from __future__ import annotations

import random
import sys

import atheris

with atheris.instrument_imports():
    from gateway import upstream

# Small limits so short inputs reach the paused-reading and head-limit paths.
upstream._HIGH_WATER = 16
upstream.MAX_HEAD_BYTES = 300


class FakeTransport:
    def __init__(self) -> None:
        self.closed = False
        self.paused = False

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        assert not self.paused, "paused twice"
        self.paused = True

    def resume_reading(self) -> None:
        assert self.paused, "resumed while not paused"
        self.paused = False

    def write(self, data: bytes) -> None:
        pass


def run(data: bytes, head: bool, end: int, cuts: list[int]):
    conn = upstream._Conn()
    transport = FakeTransport()
    conn.connection_made(transport)
    conn.busy = True
    conn.skip_body = head
    body = []
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    for piece in pieces:
        if transport.closed:
            break
        if transport.paused:  # asyncio delivers nothing more until the reader takes
            body.append(conn.take())
        if piece:
            conn.data_received(piece)
    if transport.paused:
        body.append(conn.take())
    if end or transport.closed:  # a close by either side ends in connection_lost
        conn.connection_lost(ConnectionResetError() if end == 2 else None)
        assert conn.complete or conn.error is not None, "a reader would wait for the timeout"
    body.append(conn.take())
    keep = conn.keep_alive
    if conn.error is not None:
        assert isinstance(conn.error, upstream.UpstreamError), conn.error
        assert transport.closed and not keep
    if keep:
        assert conn.complete and 200 <= conn.status < 500 and not transport.closed
    if conn.complete:
        assert 200 <= conn.status <= 599, conn.status
        if head or conn.status in (204, 304):
            assert not b"".join(body)
    # (httptools hands over a header when the next begins: which ones came before a parse
    # error depends on the splits, so the headers are compared only when the head was good)
    done = conn.headers_done
    return (conn.status if done else None, tuple(conn.headers) if done and not conn.error
            else None, b"".join(body) if conn.complete else None, conn.complete,
            type(conn.error).__name__, keep)


def TestOneInput(raw: bytes) -> None:  # noqa: N802 (atheris' name)
    if len(raw) < 2:
        return
    head, end = bool(raw[0] & 1), (raw[0] >> 1) % 3
    data = raw[2:]
    rng = random.Random(raw[1])
    cuts = sorted({rng.randint(0, len(data)) for _ in range(rng.randint(0, 12))})
    whole = run(data, head, end, [])
    split = run(data, head, end, cuts)
    bytewise = run(data, head, end, list(range(1, len(data))))
    assert whole == split == bytewise, (whole, split, bytewise)


SEEDS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 9\r\n\r\n",
    b"HTTP/1.1 500 Error\r\nContent-Length: 4\r\n\r\nboomHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 40\r\n\r\n" + b"x" * 40,
]


def write_seeds(directory) -> None:
    from pathlib import Path

    for i, seed in enumerate(SEEDS):
        for flags in (0, 1, 2, 4):
            Path(directory, f"seed-{i}-{flags}").write_bytes(bytes([flags, 7]) + seed)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-seeds"]:
        write_seeds(sys.argv[2])
        sys.exit(0)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
