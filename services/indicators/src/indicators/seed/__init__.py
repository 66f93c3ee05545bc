"""Shipped catalogue data (indicators, survey instruments); loaded by a migration or `seed`.

Loading is idempotent: rows whose code (and version) exist are left alone, so an edited
definition is never overwritten by a later load.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection

from shared.db import new_id, utcnow

HERE = Path(__file__).parent


def _read(name: str) -> list[dict[str, Any]]:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def _checked(instrument: dict[str, Any]) -> dict[str, Any]:
    """An instrument's bands must cover its whole score range without gaps or overlaps."""
    from indicators.surveys import privacy, stats

    why = privacy.check_bands(instrument["bands"], *stats.score_range(
        instrument["scale_min"], instrument["scale_max"], instrument["scoring"]))
    if why:
        raise ValueError(f"instrument {instrument['code']}: {why}")
    return instrument


def load_seed(conn: Connection) -> tuple[int, int]:
    """Insert shipped definitions and instruments that are not there yet; (n_ind, n_instr)."""
    from indicators.models import IndicatorDefinition, Instrument

    # The columns the table has in the database now (this runs inside an early migration too):
    # one added later, such as `translated`, is left out until its own migration adds it.
    model = IndicatorDefinition.__table__
    present = {c["name"] for c in inspect(conn).get_columns(model.name)}
    ind = table(model.name, *(column(c.name, c.type) for c in model.c if c.name in present))
    ins = Instrument.__table__
    have = set(conn.execute(select(ind.c.code, ind.c.version)).all())
    rows = []
    for d in _read("indicators.json"):
        if (d["code"], 1) in have:
            continue
        row = {**d, "id": new_id(), "version": 1, "created_at": utcnow(), "created_by": "seed"}
        row = {k: v for k, v in row.items() if k in ind.c}
        row["valid_from"] = dt.date.fromisoformat(d["valid_from"]) if d.get("valid_from") else None
        row["valid_to"] = dt.date.fromisoformat(d["valid_to"]) if d.get("valid_to") else None
        rows.append(row)
    if rows:
        conn.execute(ind.insert(), rows)
    have_i = set(conn.scalars(select(ins.c.code)).all())
    irows = [{**_checked(d), "id": new_id(), "created_at": utcnow()}
             for d in _read("instruments.json") if d["code"] not in have_i]
    if irows:
        conn.execute(ins.insert(), irows)
    return len(rows), len(irows)
