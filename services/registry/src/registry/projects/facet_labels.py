"""Facet values ordered, cut to a limit and labelled (code labels from reference data, record
names from the database, cached by id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry import reference
from registry.models import Call, Organisation, Programme, Theme

REFERENCE_OF = {"status": "statuses", "kind": "project_kinds", "region": "regions",
                "target_group": "target_groups", "sub_theme": "sub_themes"}


async def finish_facets(session: AsyncSession, out: dict[str, list[dict]], lang: str,
                         pq: Any, facet_limit: int | None,
                         names: dict[str, dict | None] | None = None) -> None:
    """Values by count, then value; cut to `facet_limit` (keeping the values filtered on);
    labels in `lang`. `names`: a cache of record names by id."""
    for facet, values in out.items():
        values.sort(key=lambda v: (-v["count"], v["value"] or ""))
        if facet_limit is not None and len(values) > facet_limit:
            chosen = set(getattr(pq, facet, None) or ())
            out[facet] = values[:facet_limit] + [v for v in values[facet_limit:]
                                                 if v["value"] in chosen]
    await _label(session, out, lang, {} if names is None else names)


async def _label(session: AsyncSession, out: dict[str, list[dict]], lang: str,
                 names: dict[str, dict | None]) -> None:
    for facet, ref in REFERENCE_OF.items():
        for v in out.get(facet, []):
            if v["value"] is not None:
                v["label"] = reference.label(ref, v["value"], lang)
    lookups = {"theme": Theme, "programme": Programme, "call": Call, "funder": Organisation,
               "implementer": Organisation, "partner": Organisation}
    for model in (Theme, Programme, Call, Organisation):  # one lookup per table
        facets = [f for f, m in lookups.items() if m is model]
        ids = list({v["value"] for f in facets for v in out.get(f, [])
                    if v["value"] and v["value"] not in names})
        if ids:
            # PostgreSQL: one array parameter (up to ~2,000 partner ids), not one per id.
            cond = model.id == any_(bindparam("ids", ids, type_=ARRAY(String))) \
                if session.bind.dialect.name == "postgresql" else model.id.in_(ids)
            names.update(dict.fromkeys(ids))
            names.update((await session.execute(select(model.id, model.name).where(cond))).all())
        for f in facets:
            for v in out.get(f, []):
                name = names.get(v["value"])
                if name:
                    v["label"] = name.get(lang) or name.get("fi")
