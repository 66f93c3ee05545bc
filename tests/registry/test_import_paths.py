"""Bulk import: everything one import writes, compared field by field with a recorded snapshot.

The snapshot (import_snapshot.json) was recorded from the importer as it was before the
bulk paths were rewritten (main at 78ecbdd: executemany UPDATE, delete-and-reinsert of tags
and children, per-row ids). The rewrite (COPY into a temporary table + one UPDATE ... FROM on
PostgreSQL, children and tags written only where they changed, ids made in bulk) must write the
same rows: projects, children, tags, funder periods, history before/after, change feed in order,
outbox events in order. Ids, timestamps, today's date and the per-test code tag are normalised.
TEKE_RECORD_IMPORT_SNAPSHOT=<path> writes what this run wrote there (to compare, or on purpose
to record the snapshot again).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from registry.models import (
    Change,
    History,
    Project,
    ProjectBudget,
    ProjectEvaluation,
    ProjectFunder,
    ProjectPartner,
    ProjectPerson,
    ProjectTag,
    outbox_table,
)
from shared.jsonutil import loads
from tests.registry.conftest import new_org

SNAPSHOT = Path(__file__).parent / "import_snapshot.json"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PROJECT_COLS = ("code", "name", "status", "start_date", "end_date", "organisation_id",
                 "funder_id", "region_codes", "case_numbers", "appointing_body", "set_up_date",
                 "goals", "starting_points", "further_info", "theme_id", "programme_id", "call_id",
                 "target_groups", "sub_themes", "budget_total", "published", "archived",
                 "status_date", "status_reason", "version", "created_by", "search_fi",
                 "search_sv", "search_en")


class _Normaliser:
    """Known ids to stable labels, other uuids to "<uuid>", the test's tag and today to fixed text."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.labels: dict[str, str] = {}
        self.today = dt.date.today().isoformat()

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            # partner_ids are sorted by id, and the ids are random: compare them as a set.
            return {k: sorted(self(v)) if k == "partner_ids" else self(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if isinstance(value, (dt.datetime,)):
            return "<timestamp>"
        if isinstance(value, dt.date):
            value = value.isoformat()
        if isinstance(value, float | int) and not isinstance(value, bool):
            return value
        if not isinstance(value, str):
            return value if value is None or isinstance(value, bool) else str(value)
        if value in self.labels:
            return self.labels[value]
        value = _UUID.sub(lambda m: self.labels.get(m.group(0), "<uuid>"), value)
        return value.replace(self.tag, "TAG").replace(self.today, "<today>")


async def _snapshot(db_url: str, ids: list[str], norm: _Normaliser) -> dict[str, Any]:
    engine = create_async_engine(db_url)
    out: dict[str, Any] = {}
    try:
        async with engine.connect() as conn:
            async def rows(query) -> list[dict]:
                return [dict(r) for r in (await conn.execute(query)).mappings()]

            p = Project.__table__
            projects = await rows(select(*[p.c[c] for c in ("id", *_PROJECT_COLS)])
                                  .where(p.c.id.in_(ids)))
            out["projects"] = sorted((norm({k: v for k, v in r.items() if k != "id"})
                                      | {"id": norm(r["id"])} for r in projects),
                                     key=lambda r: r["code"])
            for name, model, order in (
                    ("tags", ProjectTag, ("project_id", "kind", "value")),
                    ("partners", ProjectPartner, ("project_id", "organisation_id")),
                    ("budget", ProjectBudget, ("project_id", "source")),
                    ("funders", ProjectFunder, ("project_id", "valid_from")),
                    ("persons", ProjectPerson, ("project_id", "kind", "name")),
                    ("evaluations", ProjectEvaluation, ("project_id", "kind"))):
                found = await rows(select(model.__table__).where(model.project_id.in_(ids)))
                cleaned = [norm({k: v for k, v in r.items() if k != "id"}) for r in found]
                out[name] = sorted(cleaned, key=lambda r: tuple(str(r[k]) for k in order))
            history = await rows(select(History.__table__).where(History.entity_id.in_(ids))
                                 .order_by(History.id))
            out["history"] = [norm({k: v for k, v in r.items() if k != "id"}) for r in history]
            changes = await rows(select(Change.__table__).where(Change.entity_id.in_(ids))
                                 .order_by(Change.seq))
            out["changes"] = [norm({k: v for k, v in r.items() if k != "seq"}) for r in changes]
            o = outbox_table
            events = await rows(select(o.c.type, o.c.nats_subject, o.c.entity_id, o.c.envelope)
                                .where(o.c.entity_id.in_(ids)).order_by(o.c.seq))
            out["events"] = []
            for e in events:
                env = loads(e["envelope"])
                assert _UUID.fullmatch(env.pop("id")) and env.pop("time").endswith("Z")
                env.pop("traceparent", None)
                out["events"].append(norm({**{k: v for k, v in e.items() if k != "envelope"},
                                           "envelope": env}))
    finally:
        await engine.dispose()
    return out


async def test_import_writes_exactly_what_it_wrote_before(gw, stack):
    """Creates, updates (scalars, status, funder, partners replaced or kept, children, tags),
    an unchanged row and rejected rows; all through /projects/import on the running stack."""
    tag = uuid.uuid4().hex[:8].upper()
    norm = _Normaliser(tag)
    orgs = {name: (await new_org(gw))["id"] for name in ("lead", "lead2", "p1", "p2", "p3",
                                                         "funder1", "funder2")}
    theme = await gw.post("/themes", json={"code": f"T-{tag}", "name": {"fi": "Teema"},
                                           "specific_objective": "ESO4.7"})
    assert theme.status_code == 201, theme.text
    norm.labels |= {v: f"org:{k}" for k, v in orgs.items()} | {theme.json()["id"]: "theme"}

    def c(n: int) -> str:
        return f"IP-{tag}-{n}"

    full = {"start_date": "2024-01-01", "end_date": "2026-06-30", "region_codes": ["06", "17"],
            "target_groups": ["companies", "employees"], "sub_themes": ["wellbeing"],
            "goals": {"fi": "Tavoite", "en": "Goal"}, "case_numbers": ["1/2024"],
            "appointing_body": "TEM", "set_up_date": "2023-12-01", "theme_id": theme.json()["id"],
            "budget": [{"source": "esf_plus", "amount": "1000.50"},
                       {"source": "state", "amount": "200"}],
            "contact_persons": [{"name": "Liisa", "email": "l@x.fi"}],
            "steering_group": [{"name": "Matti", "title": "pj"}],
            "evaluations": [{"kind": "final", "date": "2026-12-01", "link": "https://x.fi/a"}]}
    first = [
        {"code": c(1), "name": {"fi": "Yksi", "sv": "Ett"}, "organisation_id": orgs["lead"],
         "funder_id": orgs["funder1"], "funder_since": "2024-01-01", "published": True,
         "partners": [{"organisation_id": orgs["p1"], "role": "expert"},
                      {"organisation_id": orgs["p2"]}], **full},
        {"code": c(2), "name": {"fi": "Kaksi"}, "status": "planned", "organisation_id": orgs["lead"],
         "partners": [{"organisation_id": orgs["p1"]}], "region_codes": ["01"]},
        {"code": c(3), "name": {"fi": "Kolme"}, "organisation_id": orgs["lead2"],
         "funder_id": orgs["funder1"], "start_date": "2023-05-01", **{
             k: v for k, v in full.items() if k in ("budget", "target_groups")}},
        {"code": c(4), "name": {"fi": "Neljä"}, "status": "active"},
        {"code": c(5), "name": {"fi": "Viisi"}, "region_codes": ["99"]},  # rejected
    ]
    r = await gw.post("/projects/import", json={"projects": first})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["summary"] == {"created": 4, "updated": 0, "unchanged": 0, "rejected": 1}
    ids = {x["code"]: x["id"] for x in created["rows"] if "id" in x}
    norm.labels |= {pid: f"project:{code.rsplit('-', 1)[1]}" for code, pid in ids.items()}
    second = [
        # Name and texts only; children and partners not given, so kept.
        {"code": c(1), "name": {"fi": "Yksi (p)", "sv": "Ett"}, "goals": {"fi": "Uusi tavoite"}},
        # Status move, partners replaced, regions changed (tags), funder set since a date.
        {"code": c(2), "name": {"fi": "Kaksi"}, "status": "active",
         "partners": [{"organisation_id": orgs["p2"], "role": "financier"},
                      {"organisation_id": orgs["p3"]}], "region_codes": ["01", "02"],
         "funder_id": orgs["funder2"], "funder_since": "2025-03-01"},
        # Funder changed (the open period closes), budget replaced, persons emptied.
        {"code": c(3), "name": {"fi": "Kolme"}, "funder_id": orgs["funder2"],
         "funder_since": "2025-01-01", "budget": [{"source": "municipal", "amount": "5"}],
         "contact_persons": [], "target_groups": []},
        # The same values again: unchanged.
        {"code": c(4), "name": {"fi": "Neljä"}, "status": "active"},
        # A forbidden status move: rejected, nothing written.
        {"code": c(1), "status": "ended", "name": {"fi": "x"}},
        {"code": c(6), "name": {"fi": "Kuusi"}, "organisation_id": orgs["lead2"],
         "partners": [{"organisation_id": orgs["p1"]}], "sub_themes": ["diversity"]},
    ]
    r = await gw.post("/projects/import", json=second)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert [x["result"] for x in updated["rows"]] == [
        "updated", "updated", "updated", "unchanged", "rejected", "created"]
    ids |= {x["code"]: x["id"] for x in updated["rows"] if "id" in x}
    norm.labels |= {pid: f"project:{code.rsplit('-', 1)[1]}" for code, pid in ids.items()}
    # A third pass changes only a name (the bench's update), after the mixed one.
    r = await gw.post("/projects/import", json=[{"code": c(2), "name": {"fi": "Kaksi (p)"}}])
    assert r.json()["summary"]["updated"] == 1
    got = {"reports": norm([created, updated, r.json()]),
           **await _snapshot(stack.db_urls["registry"], list(ids.values()), norm)}
    if os.environ.get("TEKE_RECORD_IMPORT_SNAPSHOT"):
        Path(os.environ["TEKE_RECORD_IMPORT_SNAPSHOT"]).write_text(
            json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    for key in expected:
        assert got[key] == expected[key], key
    assert set(got) == set(expected)
    # A few facts spelled out, so the snapshot is not the only witness.
    p2 = next(p for p in got["projects"] if p["code"] == "IP-TAG-2")
    assert (p2["status"], p2["version"], p2["status_date"]) == ("active", 3, "<today>")
    assert [t["value"] for t in got["tags"] if t["project_id"] == "project:2"
            and t["kind"] == "partner"] == sorted(["org:p2", "org:p3"], key=str)
    assert [(f["organisation_id"], f["valid_from"], f["valid_to"]) for f in got["funders"]
            if f["project_id"] == "project:3"] == [("org:funder1", "2023-05-01", "2024-12-31"),
                                                    ("org:funder2", "2025-01-01", None)]
    types = [e["type"].split(".")[-2] for e in got["events"]]
    assert types.count("created") == 5 and types.count("status_changed") == 1
    assert [h["action"] for h in got["history"]].count("update") == 4
    assert [ch["entity_id"] for ch in got["changes"]][-1] == "project:2"


async def test_import_keeps_optional_fields_set_only_on_later_rows(gw, stack):
    """Child rows differ in which optional fields they carry; none may be lost (a COPY takes its
    column list from one row)."""
    tag = uuid.uuid4().hex[:8].upper()
    r = await gw.post("/projects/import", json=[{
        "code": f"OPT-{tag}", "name": {"fi": "Valinnaiset"},
        "contact_persons": [{"name": "A"}, {"name": "B", "email": "b@x.fi", "phone": "040 1"}],
        "evaluations": [{"kind": "mid_term"}, {"kind": "final", "date": "2026-01-31",
                                                "evaluator": "Arvioija"}]}])
    assert r.status_code == 200, r.text
    pid = r.json()["rows"][0]["id"]
    engine = create_async_engine(stack.db_urls["registry"])
    try:
        async with engine.connect() as conn:
            people = (await conn.execute(select(ProjectPerson.name, ProjectPerson.email,
                                                ProjectPerson.phone)
                                         .where(ProjectPerson.project_id == pid)
                                         .order_by(ProjectPerson.name))).all()
            evals = (await conn.execute(select(ProjectEvaluation.kind, ProjectEvaluation.date,
                                               ProjectEvaluation.evaluator)
                                        .where(ProjectEvaluation.project_id == pid)
                                        .order_by(ProjectEvaluation.kind))).all()
    finally:
        await engine.dispose()
    assert [tuple(p) for p in people] == [("A", None, None), ("B", "b@x.fi", "040 1")]
    assert [tuple(e) for e in evals] == [("final", dt.date(2026, 1, 31), "Arvioija"),
                                         ("mid_term", None, None)]
