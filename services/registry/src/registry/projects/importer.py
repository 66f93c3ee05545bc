"""Bulk import for regional systems: JSON or CSV, up to 10,000 projects, upsert by code.

Fast path: every row is validated in memory, then the whole batch is written with Core
multi-row statements (projects, children, tags, history, change feed, outbox), a handful of
round trips per request however many rows; never one ORM flush per row.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
from collections import Counter
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry import audit
from registry.models import (
    Call,
    Organisation,
    Programme,
    Project,
    ProjectBudget,
    ProjectEvaluation,
    ProjectFunder,
    ProjectPartner,
    ProjectPerson,
    ProjectTag,
    Theme,
    idempotency_table,
)
from registry.projects import search
from registry.projects.schemas import ProjectCreate
from registry.projects.service import ALLOWED_STATUS, SCALARS, TAG_KINDS
from shared import idempotency, limits
from shared.contracts import registry as contracts
from shared.db import SessionDep, bulk_insert, new_id, new_ids, utcnow
from shared.errors import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    Forbidden,
    Problem,
    Unprocessable,
    problem_responses,
    validation_errors,
)
from shared.identity import Authenticated, Identity
from shared.jsonutil import loads

router = APIRouter(prefix="/projects", tags=["import"])
MAX_ROWS = limits.IMPORT_ROWS
LIST_SPLIT = (";", "|")
T = Project.__table__
CHUNK = 1000


_gc_pauses = 0


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while an import runs. A 10,000-row import allocates a few
    million objects that live until the response (rows, models, records), so the collector ran
    about 1,000 times per request and re-scanned them: 0.7-1.0 s of a 3-5 s request. The import
    makes no reference cycles worth collecting (reference counting frees its garbage); the
    collector resumes when the last running import ends. Other requests served meanwhile only
    see collection postponed by a few seconds."""
    global _gc_pauses
    if _gc_pauses == 0:
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


def _split_list(value: str) -> list[str]:
    for sep in LIST_SPLIT:
        if sep in value:
            return [v.strip() for v in value.split(sep) if v.strip()]
    return [value.strip()] if value.strip() else []


def _records(reader: csv.DictReader):
    """The reader's records, at most MAX_ROWS; past that, or when the csv module refuses a field
    (over limits.CSV_FIELD characters) or a line, 422 naming the row (numbered from 0, as the
    import report numbers them)."""
    n = 0
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise Unprocessable(f"unreadable CSV at row {n} (line {reader.line_num}): {exc}",
                                errors=[{"field": f"body/row/{n}", "message": f"{exc}; at most "
                                         f"{limits.CSV_FIELD} characters a field",
                                         "type": "string_too_long" if "field limit" in str(exc)
                                         else "csv"}]) from None
        n += 1
        if n > MAX_ROWS:
            raise Unprocessable(f"at most {MAX_ROWS} projects a request", errors=[
                {"field": "body", "type": "too_long", "message": f"at most {MAX_ROWS} rows"}])
        yield raw


def csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV with a header row: name_fi/name_sv/name_en, goals_fi..., budget_<source>, lists by ';'."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out = []
    for raw in _records(reader):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None or value is None or value == "":
                continue
            key = key.strip()
            base, _, lang = key.rpartition("_")
            if base in ("name", "goals", "starting_points", "further_info") and lang in ("fi", "sv", "en"):
                row.setdefault(base, {})[lang] = value
            elif key.startswith("budget_"):
                row.setdefault("budget", []).append({"source": key[7:], "amount": value})
            elif key in ("region_codes", "target_groups", "sub_themes", "case_numbers"):
                row[key] = _split_list(value)
            elif key == "published":
                row[key] = value.strip().lower() in ("1", "true", "yes", "kyllä")
            else:
                row[key] = value
        out.append(row)
    return out


def _in(session: AsyncSession, column, values: list[str]):
    """`column IN values`; on PostgreSQL `IN (SELECT unnest(array))`: one parameter planned as a
    join, so even a cached generic plan probes the index (a list of a thousand parameters, or
    `= ANY(param)`, became a linear search of the list for every row of a sequential scan)."""
    if session.bind.dialect.name == "postgresql":
        return column.in_(select(func.unnest(bindparam(None, list(values), type_=ARRAY(String)))))
    return column.in_(values)


def _reject(report: list, i: int, code: Any, errors: list[dict[str, str]]) -> None:
    report.append({"row": i, "code": code, "result": "rejected", "errors": errors})


async def _existing_ids(session: AsyncSession, model, ids: set[str]) -> set[str]:
    found: set[str] = set()
    ids_l = list(ids)
    for i in range(0, len(ids_l), CHUNK):
        found |= set((await session.scalars(select(model.id).where(
            _in(session, model.id, ids_l[i:i + CHUNK])))).all())
    return found


class ImportRow(BaseModel):
    """One input row's outcome: created, updated, unchanged or rejected (with its errors)."""

    row: int
    code: Any = None
    result: Literal["created", "updated", "unchanged", "rejected"]
    id: str | None = None
    errors: list[FieldError] | None = None


class ImportSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class ImportReport(BaseModel):
    """The per-row report of an import (200)."""

    mode: Literal["best_effort", "all_or_nothing"]
    dry_run: bool
    summary: ImportSummary
    rows: list[ImportRow]
    written: bool


class ImportRefusedProblem(Problem):
    """422 problem+json. When `mode=all_or_nothing` refuses the batch (type
    `.../import-refused`), the per-row report comes as extension members (RFC 9457 §3.2):
    `mode`, `dry_run`, `summary`, `rows` and `written: false`. Other 422s (an unreadable body,
    too many rows, a bad parameter) carry `errors` only."""

    mode: Literal["best_effort", "all_or_nothing"] | None = None
    dry_run: bool | None = None
    summary: ImportSummary | None = None
    rows: list[ImportRow] | None = None
    written: bool | None = None


class ImportRefused(Unprocessable):
    slug, title = "import-refused", "Import refused"


_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ImportReport, "description": "The per-row report"},
    **problem_responses(401, 403, 413, 415),
    422: {"model": ImportRefusedProblem,
          "description": "Invalid input, or an all-or-nothing import refused (with its report)",
          "content": {PROBLEM_MEDIA_TYPE: {
              "schema": {"$ref": "#/components/schemas/ImportRefusedProblem"}}}},
}


@router.post("/import", summary="Bulk import projects (JSON or CSV)", responses=_IMPORT_RESPONSES)
async def import_projects(
    request: Request, session: SessionDep, identity: Authenticated,
    mode: Literal["best_effort", "all_or_nothing"] = "best_effort",
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing.")] = False,
) -> ORJSONResponse:
    """Upsert by project code; per-row report (created / updated / rejected, with reasons).

    `mode=all_or_nothing` writes nothing if any row is rejected, and answers 422 problem+json
    with the report as extension members. The same `Idempotency-Key` with
    the same body returns the first result and changes nothing; with another body it is refused.
    """
    if not identity.has_role("admin", "coordinator", "implementer"):
        raise Forbidden("only implementers, coordinators and admins import projects")
    body = await request.body()
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    digest = idempotency.request_hash(body, ctype, mode, str(dry_run))
    if idempotency_key is not None:
        if session.bind.dialect.name == "postgresql":
            # A retry racing the first request waits for it, then replays its result.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                  {"k": f"{identity.sub}|{idempotency_key}"})
        hit = await idempotency.replay(session, idempotency_table, identity.sub, idempotency_key,
                                       digest)
        if hit is not None:
            return ORJSONResponse(hit[1], status_code=hit[0], headers={"Idempotent-Replay": "true"})
    with _gc_paused():
        rows = _parse(body, ctype)
        status_code, result = await run_import(session, request.state.outbox, identity, rows,
                                               mode, dry_run)
        if status_code == 422:  # all or nothing, and some row was rejected: nothing written
            rejected, total = result["summary"]["rejected"], len(result["rows"])
            raise ImportRefused(f"{rejected} of {total} rows rejected; mode=all_or_nothing "
                                "wrote nothing (see rows)", **result)
        if idempotency_key is not None and status_code < 400 and not dry_run:
            await idempotency.remember(session, idempotency_table, identity.sub, idempotency_key,
                                       digest, status_code, result)
        return ORJSONResponse(result, status_code=status_code)


def _parse(body: bytes, ctype: str) -> list[dict[str, Any]]:
    if ctype in ("text/csv", "application/csv"):
        try:
            rows = csv_rows(body.decode("utf-8"))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise Unprocessable(f"unreadable CSV: {exc}") from None
    elif ctype in ("application/json", ""):
        try:
            data = loads(body)
        except Exception:
            raise Unprocessable("body is not valid JSON") from None
        rows = data.get("projects") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Unprocessable("expected a list of projects or {\"projects\": [...]}", errors=[
                {"field": "body", "type": "type_error", "message": "a list of objects"}])
    else:
        from shared.errors import AppError

        class Unsupported(AppError):
            status, slug, title = 415, "unsupported-media-type", "Unsupported media type"

        raise Unsupported("send application/json or text/csv")
    if len(rows) > MAX_ROWS:
        raise Unprocessable(f"at most {MAX_ROWS} projects a request (got {len(rows)})", errors=[
            {"field": "body", "type": "too_long", "message": f"at most {MAX_ROWS} rows"}])
    if not rows:
        raise Unprocessable("no projects to import", errors=[
            {"field": "body", "type": "too_short", "message": "at least one row"}])
    return rows


async def run_import(session: AsyncSession, outbox, identity: Identity, rows: list[dict],
                     mode: str, dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    report: list[dict[str, Any]] = []
    valid: list[tuple[int, ProjectCreate, set[str]]] = []
    seen: set[str] = set()
    for i, raw in enumerate(rows):
        try:
            item = ProjectCreate.model_validate(raw)
        except ValidationError as exc:
            _reject(report, i, raw.get("code"), validation_errors(exc.errors()))
            continue
        if item.code in seen:
            _reject(report, i, item.code, [{"field": "code", "type": "duplicate",
                                            "message": "this code appears earlier in the request"}])
            continue
        seen.add(item.code)
        valid.append((i, item, set(raw)))
    # Existing projects and referenced records, a few queries for the whole batch.
    codes = [v[1].code for v in valid]
    existing = await _existing_projects(session, codes)
    refs = {}
    for key, model in (("programme_id", Programme), ("call_id", Call)):
        refs[key] = await _existing_ids(session, model, {getattr(v[1], key) for v in valid
                                                         if getattr(v[1], key)})
    # Themes with their ESF+ specific objective (events carry it), also for kept theme ids.
    objectives = await _objectives(session, {v[1].theme_id for v in valid if v[1].theme_id}
                                   | {r["theme_id"] for r in existing.values() if r["theme_id"]})
    refs["theme_id"] = set(objectives)
    orgs = await _existing_ids(session, Organisation, {
        oid for v in valid for oid in (v[1].organisation_id, v[1].funder_id,
                                       *(p.organisation_id for p in v[1].partners or [])) if oid})
    # Partners of projects whose partners the rows leave as they are (their event state).
    kept_partners = await _partners(session, [existing[v[1].code]["id"] for v in valid
                                              if v[1].code in existing and "partners" not in v[2]])
    # The stored child rows of the existing projects whose rows give those lists: a list given
    # again as it is is no change (and is not written).
    stored_children = await _stored_children(session, [
        (key, existing[item.code]["id"]) for _, item, given in valid if item.code in existing
        for key, _, _ in _CHILDREN if key in given and getattr(item, key) is not None])
    now = utcnow()
    today = dt.date.today()
    new_rows, upd_rows, touched = [], [], []
    children: dict[str, list[tuple[str, Any]]] = {}
    events, history, feed, fts = [], [], [], []
    pids = iter(new_ids(len(valid)))
    for i, item, given in valid:
        errors = _row_errors(identity, item, existing.get(item.code), refs, orgs)
        if errors:
            _reject(report, i, item.code, errors)
            continue
        old = existing.get(item.code)
        data = item.model_dump(mode="python", exclude_none=True)
        if old is None:
            pid = next(pids)
            rec = {c: data.get(c) for c in SCALARS}
            rec.update(id=pid, version=1, created_at=now, updated_at=now, created_by=identity.sub,
                       archived=False, status_date=today, status_reason=None,
                       published=bool(item.published), budget_total=None,
                       region_codes=data.get("region_codes") or [],
                       case_numbers=data.get("case_numbers") or [],
                       target_groups=data.get("target_groups") or [],
                       sub_themes=data.get("sub_themes") or [])
            if not identity.is_national and rec["organisation_id"] is None:
                rec["organisation_id"] = identity.org
            action = "create"
        else:
            pid = old["id"]
            rec = dict(old)
            for c in SCALARS:
                if c in given and c != "code":
                    v = data.get(c)
                    if v is None and c in ("region_codes", "case_numbers", "target_groups", "sub_themes"):
                        v = []
                    rec[c] = v
            if rec["status"] != old["status"]:
                rec["status_date"] = today
            rec.update(version=old["version"] + 1, updated_at=now)
            action = "update"
        if data.get("budget") is not None and "budget" in given:
            rec["budget_total"] = sum((Decimal(b["amount"]) for b in data["budget"]),
                                      Decimal("0.00")) if data["budget"] else None
        rec.update(search.search_texts(rec))
        children_changed = False
        for key, _, _ in _CHILDREN:
            if key in given and data.get(key) is not None:
                children.setdefault(key, []).append((pid, data[key]))
                if old is not None and not children_changed:
                    children_changed = _rows_differ(key, data[key], stored_children[key].get(pid))
        funder_changed = rec.get("funder_id") != (old or {}).get("funder_id")
        if funder_changed:
            since = item.funder_since or rec.get("start_date") or today
            children.setdefault("funder", []).append((pid, (rec.get("funder_id"), since)))
        partner_ids = [p["organisation_id"] for p in data.get("partners") or []] \
            if "partners" in given else None
        (new_rows if old is None else upd_rows).append(rec)
        touched.append((rec, partner_ids))
        state = _state(rec, partner_ids if partner_ids is not None else kept_partners.get(pid, []),
                       objectives.get(rec.get("theme_id")))
        changed = [c for c in SCALARS if old is not None and rec.get(c) != old.get(c)]
        if old is None:
            events.append((contracts.PROJECT_CREATED, pid, state))
        else:
            if not changed and not children_changed:
                report.append({"row": i, "code": item.code, "result": "unchanged", "id": pid})
                upd_rows.pop()
                touched.pop()
                for key, _, _ in _CHILDREN:  # given as stored: nothing to compare or write
                    if children.get(key) and children[key][-1][0] == pid:
                        children[key].pop()
                continue
            events.append((contracts.PROJECT_UPDATED, pid, {**state, "changed_fields": changed}))
            if rec["status"] != old["status"]:
                events.append((contracts.PROJECT_STATUS_CHANGED, pid, {
                    "id": pid, "version": rec["version"], "code": rec["code"],
                    "from_status": old["status"], "to_status": rec["status"],
                    "date": today.isoformat(), "reason": "bulk import"}))
        if old is None:
            b, a = {}, _json_scalars(rec)
        else:  # history keeps only what changed
            b, a = _json_scalars(old, changed), _json_scalars(rec, changed)
        history.append({"entity_type": "project", "entity_id": pid, "version": rec["version"],
                        "action": action, "actor": identity.sub, "at": now, "before": b or None,
                        "after": a or None})
        feed.append({"entity_type": "project", "entity_id": pid, "action": action,
                     "version": rec["version"], "at": now, "published": rec["published"],
                     "organisation_id": rec["organisation_id"], "funder_id": rec["funder_id"],
                     "state": state})
        fts.append({"id": pid, **{k: rec[k] for k in ("search_fi", "search_sv", "search_en")}})
        report.append({"row": i, "code": item.code, "result": "created" if old is None else "updated",
                       "id": pid})
    report.sort(key=lambda r: r["row"])
    summary = {k: sum(1 for r in report if r["result"] == k)
               for k in ("created", "updated", "unchanged", "rejected")}
    result = {"mode": mode, "dry_run": dry_run, "summary": summary, "rows": report}
    if mode == "all_or_nothing" and summary["rejected"]:
        result["written"] = False
        return 422, result
    if dry_run:
        result["written"] = False
        return 200, result
    await _write(session, new_rows, upd_rows, touched, children, kept_partners, stored_children)
    await audit.record_many(session, history, feed)
    for c in range(0, len(events), 5000):
        await outbox.record_many(session, events[c:c + 5000])
    await search.sqlite_sync(session, fts)
    result["written"] = True
    return 200, result


def _row_errors(identity: Identity, item: ProjectCreate, old: dict | None, refs: dict,
                orgs: set[str]) -> list[dict[str, str]]:
    errors = []
    if not identity.is_national:
        owner = old["organisation_id"] if old else (item.organisation_id or identity.org)
        if owner != identity.org or (item.organisation_id and item.organisation_id != identity.org):
            errors.append({"field": "organisation_id", "type": "forbidden",
                           "message": "you may import only your own organisation's projects"})
    # The caller's own organisation is vouched for by its token (see service.check_references).
    if item.organisation_id and item.organisation_id not in orgs \
            and item.organisation_id != identity.org:
        errors.append({"field": "organisation_id", "type": "unknown_id",
                       "message": "no such organisation"})
    if item.funder_id and item.funder_id not in orgs:
        errors.append({"field": "funder_id", "type": "unknown_id", "message": "no such organisation"})
    for key, found in refs.items():
        value = getattr(item, key)
        if value and value not in found:
            errors.append({"field": key, "type": "unknown_id", "message": f"no such {key[:-3]}"})
    for j, p in enumerate(item.partners or []):
        if p.organisation_id not in orgs:
            errors.append({"field": f"partners/{j}/organisation_id", "type": "unknown_id",
                           "message": "no such organisation"})
    if old is not None:
        if old["archived"]:
            errors.append({"field": "code", "type": "archived", "message": "the project is archived"})
        if item.status != old["status"] and "status" in item.model_fields_set \
                and item.status not in ALLOWED_STATUS[old["status"]]:
            errors.append({"field": "status", "type": "transition",
                           "message": f"status cannot move from {old['status']} to {item.status}"})
        lead = item.organisation_id or old["organisation_id"]
        if item.partners and lead in {p.organisation_id for p in item.partners}:
            errors.append({"field": "partners", "type": "partner_is_lead",
                           "message": "the lead implementer cannot also be a partner"})
    return errors


_DATES = ("start_date", "end_date", "set_up_date")


def _json_scalars(rec: dict[str, Any], keys=SCALARS) -> dict[str, Any]:
    """The record's scalar fields (or `keys` of them) as JSON values (dates as ISO strings)."""
    out = {c: rec.get(c) for c in keys}
    for c in _DATES:
        if out.get(c) is not None:
            out[c] = out[c].isoformat()
    return out


async def _objectives(session: AsyncSession, ids: set[str]) -> dict[str, str | None]:
    """Theme id -> its ESF+ specific objective, for the themes that exist."""
    out: dict[str, str | None] = {}
    ids_l = list(ids)
    for i in range(0, len(ids_l), CHUNK):
        out.update((await session.execute(select(Theme.id, Theme.specific_objective).where(
            _in(session, Theme.id, ids_l[i:i + CHUNK])))).all())
    return out


async def _partners(session: AsyncSession, project_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in range(0, len(project_ids), CHUNK):
        for pid, oid in (await session.execute(select(
                ProjectPartner.project_id, ProjectPartner.organisation_id)
                .where(_in(session, ProjectPartner.project_id, project_ids[c:c + CHUNK])))).all():
            out.setdefault(pid, []).append(oid)
    return out


def _state(rec: dict[str, Any], partner_ids: list[str],
           specific_objective: str | None = None) -> dict[str, Any]:
    start, end = rec.get("start_date"), rec.get("end_date")
    return {
        "id": rec["id"], "version": rec["version"], "code": rec["code"], "name": rec["name"],
        "status": rec["status"], "start_date": start.isoformat() if start else None,
        "end_date": end.isoformat() if end else None,
        "organisation_id": rec.get("organisation_id"), "funder_id": rec.get("funder_id"),
        "region_codes": rec.get("region_codes") or [], "theme_id": rec.get("theme_id"),
        "programme_id": rec.get("programme_id"), "call_id": rec.get("call_id"),
        "specific_objective": specific_objective, "partner_ids": sorted(partner_ids),
        "target_groups": rec.get("target_groups") or [],
        "sub_themes": rec.get("sub_themes") or [],
        "budget_total": str(rec["budget_total"]) if rec.get("budget_total") is not None else None,
        "published": bool(rec.get("published")), "archived": bool(rec.get("archived"))}


async def _chunked_insert(session: AsyncSession, table, rows: list[dict]) -> None:
    if session.bind.dialect.name == "postgresql":
        await bulk_insert(session, table, rows)
        return
    for c in range(0, len(rows), CHUNK):
        await session.execute(insert(table), rows[c:c + CHUNK])


async def _chunked_delete(session: AsyncSession, column, ids: list[str], *extra) -> None:
    for c in range(0, len(ids), CHUNK):
        await session.execute(delete(column.table).where(_in(session, column, ids[c:c + CHUNK]), *extra))


async def _update_projects(session: AsyncSession, rows: list[dict], cols: list[str]) -> None:
    """Rewrite existing project rows (every column but id, code, created_*).

    PostgreSQL: COPY into a temporary table, then one UPDATE ... FROM; the executemany it
    replaces ran one UPDATE per row, and with it the search table's statement trigger once per
    row. Elsewhere one executemany UPDATE."""
    if session.bind.dialect.name != "postgresql":
        stmt = update(T).where(T.c.id == bindparam("_id")).values(
            {c: bindparam(c) for c in cols})
        for c in range(0, len(rows), CHUNK):
            await session.execute(stmt, [{"_id": r["id"], **{k: r.get(k) for k in cols}}
                                         for r in rows[c:c + CHUNK]])
        return
    names = ", ".join(cols)
    await session.execute(text(
        f"CREATE TEMP TABLE {_UPDATE_TMP} ON COMMIT DROP AS SELECT id, {names} FROM project "
        "WITH NO DATA"))
    tmp = Table(_UPDATE_TMP, MetaData(), *[Column(c, T.c[c].type) for c in ("id", *cols)])
    await bulk_insert(session, tmp, rows)  # rows carry every column of project
    await session.execute(text(
        f"UPDATE project AS p SET {', '.join(f'{c} = t.{c}' for c in cols)} "
        f"FROM {_UPDATE_TMP} AS t WHERE p.id = t.id"))
    await session.execute(text(f"DROP TABLE {_UPDATE_TMP}"))


_UPDATE_TMP = "import_project_update"


async def _current(session: AsyncSession, model, cols: list[str], pids: list[str],
                   extra: dict[str, Any]) -> dict[str, Counter]:
    """Project id -> the multiset of its rows in `model` (the given columns; only rows whose
    `extra` columns have those values), for the given ids."""
    rows: dict[str, list[tuple]] = {}
    table = model.__table__
    if session.bind.dialect.name == "postgresql":
        where = " AND ".join(f"{k} = ${i}" for i, k in enumerate(extra, start=2))
        for r in await _pg_fetch(
                session, f"SELECT project_id, {', '.join(cols)} FROM {table.name} "
                f"WHERE project_id IN (SELECT unnest($1::text[])){' AND ' if where else ''}{where}",
                pids, *extra.values()):
            rows.setdefault(r[0], []).append(tuple(r)[1:])
    else:
        cond = [table.c[k] == v for k, v in extra.items()]
        for c in range(0, len(pids), CHUNK):
            found = await session.execute(select(table.c.project_id, *[table.c[k] for k in cols])
                                          .where(table.c.project_id.in_(pids[c:c + CHUNK]), *cond))
            for r in found.all():
                rows.setdefault(r[0], []).append(r[1:])
    return {pid: Counter(values) for pid, values in rows.items()}


async def _pg_fetch(session: AsyncSession, sql: str, *args: Any) -> list:
    """A read straight through asyncpg: for the import's big reads (tens of thousands of rows),
    SQLAlchemy's per-row result processing cost more than the query."""
    conn = await session.connection()
    return await (await conn.get_raw_connection()).driver_connection.fetch(sql, *args)


async def _existing_projects(session: AsyncSession, codes: list[str]) -> dict[str, dict]:
    """The stored projects with these codes, by code, every column."""
    out: dict[str, dict] = {}
    if session.bind.dialect.name != "postgresql":
        for c in range(0, len(codes), CHUNK):
            found = await session.execute(select(T).where(T.c.code.in_(codes[c:c + CHUNK])))
            for r in found.mappings():
                out[r["code"]] = dict(r)
        return out
    # The same values as through SQLAlchemy: its asyncpg dialect has the driver parse JSON, and
    # asyncpg gives aware UTC timestamps and Decimal numerics.
    for r in await _pg_fetch(session, f"SELECT {', '.join(c.name for c in T.columns)} FROM project"
                                      " WHERE code IN (SELECT unnest($1::text[]))", codes):
        out[r["code"]] = dict(r)
    return out


def _child_cols(model, extra: dict[str, Any] | None) -> list[str]:
    """The columns a child row compares on: every one but its own id, its project and `extra`."""
    return [c.name for c in model.__table__.columns
            if c.name not in ("id", "project_id", *(extra or {}))]


_CHILD_SPEC = {}  # list key -> (model, extra), filled below _CHILDREN


def _rows_differ(key: str, rows: list[dict], stored: Counter | None) -> bool:
    """Whether `rows` (a list as given) differ from the stored rows (None: there are none).
    Order does not matter, and values compare as values (Decimal 200 is 200.00)."""
    model, extra = _CHILD_SPEC[key]
    cols = _child_cols(model, extra)
    if stored is None:
        return bool(rows)
    return Counter(tuple(map(r.get, cols)) for r in rows) != stored


async def _stored_children(session: AsyncSession,
                           wanted: list[tuple[str, str]]) -> dict[str, dict[str, Counter]]:
    """List key -> project id -> its stored rows, for the (key, project id) pairs asked for."""
    out: dict[str, dict[str, Counter]] = {key: {} for key in _CHILD_SPEC}
    for key, (model, extra) in _CHILD_SPEC.items():
        pids = list(dict.fromkeys(pid for k, pid in wanted if k == key))
        if pids:
            out[key] = await _current(session, model, _child_cols(model, extra), pids, extra or {})
    return out


async def _replace_changed(session: AsyncSession, model, wanted: dict[str, list[dict]],
                           created: set[str], extra: dict[str, Any] | None = None,
                           stored: dict[str, Counter] | None = None) -> None:
    """Make each project's rows in `model` exactly `wanted[pid]`, writing only the projects whose
    rows differ: a re-import of the same lists (the common case) deletes and inserts nothing.
    Rows compare on every column but their own id, so a generated id survives an unchanged row.
    `stored`: the existing projects' rows, when the caller has read them already."""
    table = model.__table__
    extra = extra or {}
    cols = _child_cols(model, extra)
    old = stored if stored is not None else await _current(
        session, model, cols, [p for p in wanted if p not in created], extra)
    changed = []
    for pid, rows in wanted.items():
        before = old.get(pid)
        if before is None:
            if rows:
                changed.append(pid)
        elif Counter(tuple(map(r.get, cols)) for r in rows) != before:
            changed.append(pid)
    await _chunked_delete(session, table.c.project_id, [p for p in changed if p in old],
                          *[table.c[k] == v for k, v in extra.items()])
    # Every column in every row: COPY takes its column list from the first row, and an optional
    # field (a person's email) set only on a later row was lost.
    rows = [{"project_id": pid, **{k: row.get(k) for k in cols}, **extra}
            for pid in changed for row in wanted[pid]]
    if "id" in table.c:
        for row, rid in zip(rows, new_ids(len(rows)), strict=True):
            row["id"] = rid
    await _chunked_insert(session, table, rows)


_CHILDREN = (("partners", ProjectPartner, None), ("budget", ProjectBudget, None),
             ("evaluations", ProjectEvaluation, None),
             ("contact_persons", ProjectPerson, {"kind": "contact"}),
             ("steering_group", ProjectPerson, {"kind": "steering_group"}))
_CHILD_SPEC.update({key: (model, extra) for key, model, extra in _CHILDREN})


async def _write(session: AsyncSession, new_rows, upd_rows, touched, children,
                 kept_partners: dict[str, list[str]],
                 stored_children: dict[str, dict[str, Counter]] | None = None) -> None:
    cols = [c.name for c in T.columns]
    created = {r["id"] for r in new_rows}  # nothing of theirs to delete or close
    await _chunked_insert(session, T, new_rows)  # every column of project, in every row
    if upd_rows:
        await _update_projects(session, upd_rows, [
            c for c in cols if c not in ("id", "code", "created_at", "created_by")])
    for key, model, extra in _CHILDREN:
        items = children.get(key, [])
        if items:
            await _replace_changed(session, model, dict(items), created, extra,
                                   (stored_children or {}).get(key))
    funders = children.get("funder", [])
    if funders:
        ft = ProjectFunder.__table__
        closing = [{"_pid": pid, "_to": since - dt.timedelta(days=1)}
                   for pid, (_fid, since) in funders if pid not in created]
        if closing:  # the open funder period of an existing project ends the day before
            await session.execute(update(ft).where(ft.c.project_id == bindparam("_pid"),
                                                   ft.c.valid_to.is_(None))
                                  .values(valid_to=bindparam("_to")), closing)
        await _chunked_insert(session, ft, [
            {"id": new_id(), "project_id": pid, "organisation_id": fid, "valid_from": since}
            for pid, (fid, since) in funders if fid])
    tags: dict[str, list[dict]] = {}
    for rec, partners in touched:
        rows = tags[rec["id"]] = []
        for kind, attr in TAG_KINDS.items():
            rows += [{"kind": kind, "value": v} for v in set(rec.get(attr) or [])]
        plist = partners if partners is not None else kept_partners.get(rec["id"], [])
        rows += [{"kind": "partner", "value": v} for v in set(plist)]
    await _replace_changed(session, ProjectTag, tags, created)
