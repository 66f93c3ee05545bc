"""commit_visibility (diagnostic): is a create committed when its 201 reaches the client?

shared.db.get_session is a FastAPI dependency with `yield` at the default ("request") scope,
so FastAPI runs its exit code (the commit) after the response has been sent. This checks it
from outside, on real processes: POST /projects to the registry, one at a time, and as soon
as the 201 arrives either
  db    look for the row through an independent database connection opened beforehand, or
  api   GET /projects/{id} from the registry on the same keep-alive connection,
and count how often the project is not there yet (and how long until it is).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time

import orjson

from bench.common import (
    PgDatabases,
    internal_identity_header,
    percentile,
    pg_available,
    run,
    save,
    table,
    workdir,
)

N = int(os.environ.get("TEKE_BENCH_VIS_N", "300"))


async def _probe(db: str, base: str, header: str, db_url: str, n: int) -> dict:
    import aiohttp

    if db == "postgres":
        import asyncpg

        pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))

        async def visible(pid: str) -> bool:
            return await pg.fetchval("SELECT 1 FROM project WHERE id = $1", pid) is not None
    else:
        path = db_url.split(":///", 1)[1]
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

        async def visible(pid: str) -> bool:
            return conn.execute("SELECT 1 FROM project WHERE id = ?", (pid,)).fetchone() is not None

    out = {}
    try:
        async with aiohttp.ClientSession(headers={"x-teke-identity": header}) as s:
            for mode in ("db", "api"):
                missing, delays = 0, []
                for i in range(n):
                    body = orjson.dumps({"code": f"VIS-{mode}-{i:05d}", "name": {"fi": f"V {i}"}})
                    async with s.post(base + "/projects", data=body,
                                      headers={"content-type": "application/json"}) as r:
                        raw = await r.read()
                        if r.status != 201:
                            raise RuntimeError(f"create failed: {r.status} {raw[:200]!r}")
                    t_resp = time.perf_counter()
                    pid = orjson.loads(raw)["id"]
                    if mode == "db":
                        seen = await visible(pid)
                    else:
                        async with s.get(f"{base}/projects/{pid}") as g:
                            await g.read()
                            seen = g.status == 200
                    if not seen:
                        missing += 1
                        while not await visible(pid):
                            await asyncio.sleep(0.0002)
                        delays.append((time.perf_counter() - t_resp) * 1000)
                delays.sort()
                out[mode] = {"n": n, "not_visible": missing, "share": missing / n,
                             "delay_p50_ms": percentile(delays, 50) if delays else 0.0,
                             "delay_max_ms": delays[-1] if delays else 0.0}
    finally:
        if db == "postgres":
            await pg.close()
        else:
            conn.close()
    return out


def main(dbs: list[str]) -> dict:
    from deploy.embedded import NatsServer, Stack

    print(f"commit_visibility: {N} sequential creates per check; is the row there when the 201 "
          f"arrives?", flush=True)
    results = {}
    for db in dbs:
        if db == "postgres" and not pg_available():
            continue
        with workdir(f"vis-{db}") as tmp:
            nats_srv = NatsServer(tmp / "nats")
            stack = None
            pg = None
            try:
                urls = {}
                if db == "postgres":
                    pg = PgDatabases(["registry", "indicators", "comms", "gateway"])
                    urls = pg.urls
                nats_srv.start()
                stack = Stack(tmp / "stack", nats_url=nats_srv.url, db_urls=urls,
                              extra_env={"REGISTRY_LOG_LEVEL": "WARNING"})
                stack.migrate()
                stack.start("registry")
                stack.wait_ready(("registry",))
                header = internal_identity_header(stack.secrets["internal_private_key"])
                results[db] = run(_probe(db, stack.url("registry"), header,
                                         stack.db_urls["registry"], N))
            except Exception as exc:  # noqa: BLE001
                print(f"    FAILED on {db}: {exc!r}"[:2000], flush=True)
            finally:
                if stack is not None:
                    stack.stop_all()
                nats_srv.stop()
                if pg is not None:
                    pg.drop()
    rows = []
    for db, res in results.items():
        for mode, r in res.items():
            how = ("row read on its own DB connection" if mode == "db"
                   else "GET /projects/{id} right after the 201")
            rows.append([db, how, r["n"], f"{r['not_visible']} ({100 * r['share']:.1f} %)",
                         f"{r['delay_p50_ms']:.2f}", f"{r['delay_max_ms']:.2f}"])
    print()
    print(table(["db", "check", "creates", "not there yet", "until visible p50 ms",
                 "max ms"], rows))
    data = {"benchmark": "commit_visibility", "results": results}
    print(f"  raw: {save('commit_visibility', data)}")
    return data


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or ["sqlite", "postgres"])
