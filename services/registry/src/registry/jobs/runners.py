"""What a job does, chunk by chunk. Between chunks a runner calls ctx.check() (cancel, lease,
shutdown).

Import: each chunk of rows is one transaction with the job's progress and report, committed
only under the lease; a resumed job starts after the last committed chunk, so no row is written
twice. A cancelled import keeps the chunks already written (they are whole, valid imports with
their history, feed and events, as a synchronous import of those rows would be) and reports
them; undoing them would need compensating writes and events.
Export: pages of the same query (keyset cursor) with progress after each; the file is kept in
the database with an expiry. A resumed export starts over (nothing of it was kept).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from registry.jobs import queries, service
from registry.projects import export as pexport
from registry.projects import query as pquery
from registry.projects.imports import service as import_service
from shared.db import utcnow
from shared.exports import MEDIA_TYPES, csv_bytes, json_bytes, xlsx_bytes
from shared.jsonutil import dumps, loads

DUPLICATE = [{"field": "code", "type": "duplicate",
              "message": "this code appears earlier in the request"}]


def _summary(rows: list[dict]) -> dict[str, int]:
    return {k: sum(1 for r in rows if r["result"] == k)
            for k in ("created", "updated", "unchanged", "rejected")}


def _row_errors(rows: list[dict]) -> list[dict]:
    return [{"field": f"body/row/{r['row']}/{e['field']}", "type": e["type"],
             "message": e["message"]} for r in rows if r["result"] == "rejected"
            for e in r.get("errors") or []]


async def run_import(ctx) -> None:
    job, settings = ctx.job, ctx.settings
    params = job["params"]
    identity = service.identity_from(job["identity"])
    async with ctx.sessionmaker() as session:
        rows = loads(await queries.read_part(session, job["id"], "input"))
        saved = await queries.read_part(session, job["id"], "report")
    report: list[dict] = loads(saved)["rows"] if saved else []
    mode, dry_run = params["mode"], params["dry_run"]
    size = settings.job_import_chunk
    base = {"mode": mode, "dry_run": dry_run}
    start = job["rows_done"]
    if mode == "all_or_nothing" and start == 0:
        # Every chunk checked first, writing nothing; any rejected row fails the whole job.
        checked: list[dict] = []
        seen: set[str] = set()
        for c in range(0, len(rows), size):
            await ctx.check()
            async with ctx.sessionmaker() as session:
                checked += await _chunk(ctx, session, identity, rows, c, size, seen, True)
                await session.rollback()
        if any(r["result"] == "rejected" for r in checked) or dry_run:
            ok = not any(r["result"] == "rejected" for r in checked)
            ctx.errors = _row_errors(checked)[:service.MAX_ERRORS]
            async with ctx.sessionmaker() as session:
                await queries.write_part(session, job["id"], "report", dumps(
                    {**base, "summary": _summary(checked), "rows": checked, "written": False}))
                ctx.job["rows_done"] = len(rows)
                await ctx.finish("succeeded" if ok else "failed", session=session,
                                 rows_done=len(rows))
            return
    seen = {r["code"] for r in report if r["result"] != "rejected" and isinstance(r["code"], str)}
    for c in range(start, len(rows), size):
        await ctx.check()
        async with ctx.sessionmaker() as session:
            report += await _chunk(ctx, session, identity, rows, c, size, seen, dry_run)
            ctx.errors = _row_errors(report)[:service.MAX_ERRORS]
            await queries.write_part(session, job["id"], "report", dumps(
                {**base, "summary": _summary(report), "rows": report, "written": not dry_run}))
            await ctx.commit_chunk(session, min(c + size, len(rows)))
    await ctx.finish("succeeded")


async def _chunk(ctx, session, identity, rows: list[dict], start: int, size: int,
                 seen: set[str], dry_run: bool) -> list[dict]:
    """One chunk through the synchronous import's own code; its report numbered as the whole
    request's rows. A code met in an earlier chunk is rejected as the synchronous import does."""
    part, numbers, out = [], [], []
    for i, raw in enumerate(rows[start:start + size], start=start):
        code = raw.get("code") if isinstance(raw, dict) else None
        if isinstance(code, str) and code in seen:
            out.append({"row": i, "code": code, "result": "rejected", "errors": DUPLICATE})
            continue
        part.append(raw)
        numbers.append(i)
    if part:
        with import_service.gc_paused():
            _, result = await import_service.run_import(ctx.uow(session), identity, part,
                                                        "best_effort", dry_run)
        for r in result["rows"]:
            r["row"] = numbers[r["row"]]
            if r["result"] != "rejected" and isinstance(r.get("code"), str):
                seen.add(r["code"])
            out.append(r)
    out.sort(key=lambda r: r["row"])
    return out


async def run_export(ctx) -> None:
    job, settings = ctx.job, ctx.settings
    params = job["params"]
    identity = service.identity_from(job["identity"])
    pq = pexport.query_from_json(params["query"])
    lang, fmt, max_rows = params["lang"], params["format"], params["max_rows"]
    out: list[dict[str, Any]] = []
    personal = False
    cursor, total = None, None
    size = settings.job_export_chunk
    while True:
        await ctx.check()
        async with ctx.sessionmaker() as session:
            limit = min(size, max_rows - len(out))
            page, count, cursor, _ = await pquery.run(session, identity, pq, limit=limit,
                                                      cursor=cursor, with_facets=False, lang=lang)
            rows, has_personal = await pexport.rows(session, identity, [p for p, _ in page],
                                                    lang, params["include_personal"])
            personal = personal or has_personal
            out += rows
            if total is None:
                total = min(count, max_rows)
                ctx.job["rows_total"] = total
            await ctx.commit_chunk(session, len(out), rows_total=total)
        if cursor is None or len(out) >= max_rows or not page:
            break
    await ctx.check()
    columns = pexport.columns(personal)
    render = {"csv": csv_bytes, "xlsx": xlsx_bytes}.get(fmt)
    # Rendering 100,000 rows takes a while: off the event loop, so requests and the heartbeat go on.
    body = await asyncio.to_thread(render, out, columns, lang) if render else \
        await asyncio.to_thread(json_bytes, out, columns)
    async with ctx.sessionmaker() as session:
        await queries.write_part(session, job["id"], "result", body)
        expires = utcnow() + dt.timedelta(seconds=settings.job_result_ttl_seconds)
        await ctx.finish("succeeded", session=session, result_expires_at=expires,
                         result_media_type=MEDIA_TYPES[fmt], result_filename=f"projects.{fmt}")


RUNNERS = {"projects.import": run_import, "projects.export": run_export}
