"""What an import changes: each valid row becomes a new or updated record, with its history,
change-feed entry and events; the batch is then written in a handful of statements."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.changes import history as audit
from registry.events.projects import project_state
from registry.models import Call, Organisation, Programme, idempotency_table
from registry.projects import search
from registry.projects.imports import lookups
from registry.projects.imports.lookups import CHILDREN
from registry.projects.imports.validation import reject, row_errors, validate_rows
from registry.projects.imports.writing import lock_key, write
from registry.projects.repository import SCALARS
from shared import idempotency
from shared.contracts import registry as contracts
from shared.db import new_ids, utcnow
from shared.identity import Identity
from shared.uow import UnitOfWork

_gc_pauses = 0


@contextlib.contextmanager
def gc_paused():
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


async def replay(session: AsyncSession, identity: Identity, key: str, digest: str):
    """The stored (status, body) of an earlier request with this Idempotency-Key, or None."""
    await lock_key(session, f"{identity.sub}|{key}")
    return await idempotency.replay(session, idempotency_table, identity.sub, key, digest)


async def remember(session: AsyncSession, identity: Identity, key: str, digest: str,
                   status_code: int, result: dict[str, Any]) -> None:
    await idempotency.remember(session, idempotency_table, identity.sub, key, digest,
                               status_code, result)


async def run_import(uow: UnitOfWork, identity: Identity, rows: list[dict], mode: str,
                     dry_run: bool = False) -> tuple[int, dict[str, Any]]:
    session = uow.session
    report, valid = validate_rows(rows)
    # Existing projects and referenced records, a few queries for the whole batch.
    codes = [v[1].code for v in valid]
    existing = await lookups.existing_projects(session, codes)
    refs = {}
    for key, model in (("programme_id", Programme), ("call_id", Call)):
        refs[key] = await lookups.existing_ids(session, model, {getattr(v[1], key) for v in valid
                                                         if getattr(v[1], key)})
    # Themes with their ESF+ specific objective (events carry it), also for kept theme ids.
    objectives = await lookups.objectives(session, {v[1].theme_id for v in valid if v[1].theme_id}
                                   | {r["theme_id"] for r in existing.values() if r["theme_id"]})
    refs["theme_id"] = set(objectives)
    orgs = await lookups.existing_ids(session, Organisation, {
        oid for v in valid for oid in (v[1].organisation_id, v[1].funder_id,
                                       *(p.organisation_id for p in v[1].partners or [])) if oid})
    # Partners of projects whose partners the rows leave as they are (their event state).
    kept_partners = await lookups.partners(session, [existing[v[1].code]["id"] for v in valid
                                              if v[1].code in existing and "partners" not in v[2]])
    # The stored child rows of the existing projects whose rows give those lists: a list given
    # again as it is is no change (and is not written).
    stored_children = await lookups.stored_children(session, [
        (key, existing[item.code]["id"]) for _, item, given in valid if item.code in existing
        for key, _, _ in CHILDREN if key in given and getattr(item, key) is not None])
    now = utcnow()
    today = dt.date.today()
    new_rows, upd_rows, touched = [], [], []
    children: dict[str, list[tuple[str, Any]]] = {}
    events, history, feed, fts = [], [], [], []
    pids = iter(new_ids(len(valid)))
    for i, item, given in valid:
        errors = row_errors(identity, item, existing.get(item.code), refs, orgs)
        if errors:
            reject(report, i, item.code, errors)
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
                       sub_themes=data.get("sub_themes") or [],
                       kind=data.get("kind") or "development")
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
        for key, _, _ in CHILDREN:
            if key in given and data.get(key) is not None:
                children.setdefault(key, []).append((pid, data[key]))
                if old is not None and not children_changed:
                    children_changed = lookups.rows_differ(key, data[key], stored_children[key].get(pid))
        funder_changed = rec.get("funder_id") != (old or {}).get("funder_id")
        if funder_changed:
            since = item.funder_since or rec.get("start_date") or today
            children.setdefault("funder", []).append((pid, (rec.get("funder_id"), since)))
        partner_ids = [p["organisation_id"] for p in data.get("partners") or []] \
            if "partners" in given else None
        (new_rows if old is None else upd_rows).append(rec)
        touched.append((rec, partner_ids))
        state = project_state(rec, partner_ids if partner_ids is not None
                              else kept_partners.get(pid, []), objectives.get(rec.get("theme_id")))
        changed = [c for c in SCALARS if old is not None and rec.get(c) != old.get(c)]
        if old is None:
            events.append((contracts.PROJECT_CREATED, pid, state))
        else:
            if not changed and not children_changed:
                report.append({"row": i, "code": item.code, "result": "unchanged", "id": pid})
                upd_rows.pop()
                touched.pop()
                for key, _, _ in CHILDREN:  # given as stored: nothing to compare or write
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
    await write(session, new_rows, upd_rows, touched, children, kept_partners, stored_children)
    await audit.record_many(session, history, feed)
    for c in range(0, len(events), 5000):
        await uow.emit_many(events[c:c + 5000])
    await search.sqlite_sync(session, fts)
    result["written"] = True
    return 200, result


_DATES = ("start_date", "end_date", "set_up_date")


def _json_scalars(rec: dict[str, Any], keys=SCALARS) -> dict[str, Any]:
    """The record's scalar fields (or `keys` of them) as JSON values (dates as ISO strings)."""
    out = {c: rec.get(c) for c in keys}
    for c in _DATES:
        if out.get(c) is not None:
            out[c] = out[c].isoformat()
    if out.get("co_financing_rate") is not None:  # a Decimal: history keeps JSON
        out["co_financing_rate"] = str(out["co_financing_rate"])
    return out
