"""upstream_client: CPU per request of the forwarding client candidates, in one run.

`python -m bench.upstream_client [N]`. A trivial keep-alive upstream runs in a child process
(a fixed 300-byte JSON answer), so only the client's CPU is counted: process CPU time of this
process per request, sequential (c=1) and 32 at once, for gateway.upstream.Pool (the gateway's
client), aiohttp's ClientSession and httpx's AsyncClient, each used as the gateway uses it
(one pooled client, body read whole). Medians of 3 alternating rounds.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time

import aiohttp
import httpx

from gateway.upstream import Pool

SERVER = r'''
import asyncio, sys
BODY = b'{"items": [' + b'"x",' * 56 + b'"x"]}'
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
class P(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, d):
        self.buf += d
        while b"\r\n\r\n" in self.buf:
            _, _, self.buf = self.buf.partition(b"\r\n\r\n"); self.t.write(RESP)
async def main():
    s = await asyncio.get_running_loop().create_server(P, "127.0.0.1", 0)
    print(s.sockets[0].getsockname()[1], flush=True); await asyncio.sleep(3600)
asyncio.run(main())
'''
HEADERS = [(b"x-request-id", b"0123456789abcdef"), (b"x-teke-identity", b"a" * 300)]


async def run_pool(url: str, n: int, conc: int) -> None:
    pool = Pool(url, 100, 1.0)

    async def one():
        conn = await pool.exchange("GET", b"/x", HEADERS, b"")
        try:
            await conn.read_all()
        finally:
            pool.release(conn)
    await _drive(one, n, conc)
    pool.close()


async def run_aiohttp(url: str, n: int, conc: int) -> None:
    headers = {k.decode(): v.decode() for k, v in HEADERS}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100),
                                     auto_decompress=False,
                                     skip_auto_headers=("User-Agent", "Accept-Encoding")) as s:
        async def one():
            async with s.get(url + "/x", headers=headers) as r:
                await r.read()
        await _drive(one, n, conc)


async def run_httpx(url: str, n: int, conc: int) -> None:
    headers = {k.decode(): v.decode() for k, v in HEADERS}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as c:
        async def one():
            await c.get(url + "/x", headers=headers)
        await _drive(one, n, conc)


async def _drive(one, n: int, conc: int) -> None:
    async def worker(k):
        for _ in range(k):
            await one()
    await asyncio.gather(*(worker(n // conc) for _ in range(conc)))


CLIENTS = {"gateway.upstream": run_pool, "aiohttp": run_aiohttp, "httpx": run_httpx}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for conc in (1, 32):
            for fn in CLIENTS.values():  # warm-up
                asyncio.run(fn(url, 200, conc))
            for _ in range(3):
                for name, fn in CLIENTS.items():
                    cpu, wall = time.process_time(), time.perf_counter()
                    asyncio.run(fn(url, n, conc))
                    results.setdefault((name, conc), []).append(
                        ((time.process_time() - cpu) / n * 1e3, n / (time.perf_counter() - wall)))
        print("| client | conc | client CPU ms/req (median [min-max]) | req/s (median) |")
        print("|---|---|---|---|")
        for (name, conc), rows in results.items():
            cpus = [c for c, _ in rows]
            print(f"| {name} | {conc} | {statistics.median(cpus):.3f} [{min(cpus):.3f}-"
                  f"{max(cpus):.3f}] | {statistics.median([r for _, r in rows]):.0f} |")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
