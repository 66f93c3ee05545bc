"""A real HTTP/1.1 upstream on 127.0.0.1 that writes exactly the bytes a test gives it.

Each connection reads requests (head, then a Content-Length body) and hands each one to
`handler(request, writer)`, which writes the response bytes itself and returns what to do with
the connection: KEEP (read the next request), CLOSE (FIN), RESET (RST) or STALL (hold it open,
never answer again). `connections` counts accepted connections, so a test can tell a reused
connection from a new one.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

KEEP, CLOSE, RESET, STALL = "keep", "close", "reset", "stall"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    index: int  # the request's position on its connection, from 0
    connection: int  # the connection's number, from 1


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[str]]


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def response(status: int = 200, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
             length: bool = True, reason: str = "OK", version: str = "1.1") -> bytes:
    head = [f"HTTP/{version} {status} {reason}"]
    head += [f"{k}: {v}" for k, v in headers or []]
    if length:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def chunked(body: bytes, size: int = 7, trailers: list[tuple[str, str]] | None = None,
            extensions: bool = False) -> bytes:
    out = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), b";ext=1" if extensions else b"", piece))
    out.append(b"0\r\n")
    out += [f"{k}: {v}\r\n".encode() for k, v in trailers or []]
    out.append(b"\r\n")
    return b"".join(out)


@dataclass
class RawServer:
    handler: Handler
    bind_port: int = 0  # 0: any free port
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set = field(default_factory=set)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.bind_port)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())
        self.connections += 1
        number = self.connections
        outcome = CLOSE
        try:
            for index in range(10_000):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, path, headers, body, index, number)
                self.requests.append(request)
                outcome = await self.handler(request, writer)
                await writer.drain()
                if outcome != KEEP:
                    break
            if outcome == RESET:
                reset(writer)
            elif outcome == STALL:
                await asyncio.sleep(3600)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()
            self._tasks.discard(asyncio.current_task())
