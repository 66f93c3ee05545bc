"""Checks on a report's values: known indicators, bounds, disaggregations that add up,
composite indicators equal to their parts, and exclusive counting rules (EECO05 / EECO19)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from indicators.common import field_error
from indicators.models import IndicatorDefinition
from indicators.reports.schemas import ValueIn
from shared.errors import Unprocessable

TOLERANCE = 1e-6


@cache
def dimensions() -> dict[str, list[str]]:
    """Disaggregation dimensions and their categories (shipped data)."""
    path = Path(__file__).parent.parent / "seed" / "dimensions.json"
    return json.loads(path.read_text(encoding="utf-8"))


class Rule:
    """What check_values needs of one definition, read once per catalogue lookup."""

    __slots__ = ("code", "lo", "hi", "required", "parts", "exclusive_with")

    def __init__(self, d: IndicatorDefinition) -> None:
        self.code = d.code
        self.lo, self.hi = d.min_value, d.max_value
        # Count indicators must be broken down by each of their dimensions.
        self.required = tuple(d.disaggregations or ()) if d.measure == "count" else ()
        self.parts = tuple(d.parts or ())
        self.exclusive_with = tuple(d.exclusive_with or ())


def rules_of(defs: dict[str, IndicatorDefinition]) -> dict[str, Rule]:
    return {code: Rule(d) for code, d in defs.items()}


def _check_breakdown(v: ValueIn, dis: dict, f: str, errors: list[dict[str, str]]) -> None:
    dims = dimensions()
    value = v["value"]
    for dim, cells in dis.items():
        if dim not in dims:
            errors.append(field_error(f"{f}/disaggregations/{dim}", "unknown",
                                      f"unknown dimension; known: {sorted(dims)}"))
            continue
        bad = [k for k in cells if k not in dims[dim]]
        if bad:
            errors.append(field_error(f"{f}/disaggregations/{dim}", "unknown",
                                      f"unknown categories {bad}; allowed: {dims[dim]}"))
        if any(x < 0 for x in cells.values()):
            errors.append(field_error(f"{f}/disaggregations/{dim}", "negative",
                                      "categories cannot be negative"))
        total = sum(cells.values())
        if abs(total - value) > TOLERANCE and dim != "employment":
            errors.append(field_error(f"{f}/disaggregations/{dim}", "sum",
                                      f"{dim} adds up to {total}, not {value}"))


def check_values(values: list[ValueIn], rules: dict[str, Rule],
                 prefix: str = "body/values") -> None:
    """Raise 422 with every problem found (at most 100 listed). One pass over the values with
    per-indicator rules looked up once; the cross-value rules only for codes that have them."""
    errors: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    linked: list[Rule] = []
    for i, v in enumerate(values):
        code = v["indicator_code"]
        r = rules.get(code)
        if r is None:
            errors.append(field_error(f"{prefix}/{i}/indicator_code", "unknown",
                                      f"no indicator {code} in force for this period"))
            continue
        if code in seen:
            errors.append(field_error(f"{prefix}/{i}/indicator_code", "duplicate",
                                      f"{code} already given at index {seen[code]}"))
            continue
        seen[code] = i
        x = v["value"]
        if (r.lo is not None and x < r.lo) or (r.hi is not None and x > r.hi):
            errors.append(field_error(f"{prefix}/{i}/value", "out_of_bounds",
                                      f"{code} must be within [{r.lo}, {r.hi}]"))
        dis = v.get("disaggregations")
        for dim in r.required:
            if not dis or dim not in dis:
                errors.append(field_error(f"{prefix}/{i}/disaggregations", "missing",
                                          f"{code} must be broken down by {dim}"))
        if dis:
            _check_breakdown(v, dis, f"{prefix}/{i}", errors)
        if r.parts or r.exclusive_with:
            linked.append(r)
    for r in linked:
        code = r.code
        v = values[seen[code]]
        if r.parts and all(p in seen for p in r.parts):
            parts_total = sum(values[seen[p]]["value"] for p in r.parts)
            if abs(parts_total - v["value"]) > TOLERANCE:
                errors.append(field_error(
                    f"{prefix}/{seen[code]}/value", "composite",
                    f"{code} is {v['value']} but {' + '.join(r.parts)} = {parts_total}"))
        mine = v.get("counted_ids")
        for other in r.exclusive_with:
            theirs = values[seen[other]].get("counted_ids") if other in seen else None
            if code < other and mine and theirs:
                both = set(mine) & set(theirs)
                if both:
                    errors.append(field_error(
                        f"{prefix}/{seen[code]}/counted_ids", "counted_twice",
                        f"{len(both)} counted under both {code} and {other} "
                        f"(a self-employed person or their firm, never both), e.g. {sorted(both)[:3]}"))
    if errors:
        raise Unprocessable("the report's values are not valid", errors=errors[:100])


def value_rows(report_id: str, values: list[ValueIn]) -> list[dict[str, Any]]:
    return [{"report_id": report_id, "indicator_code": v["indicator_code"], "value": v["value"],
             "disaggregations": v.get("disaggregations"), "counted_ids": v.get("counted_ids")}
            for v in values]
