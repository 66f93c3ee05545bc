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


def check_values(values: list[ValueIn], defs: dict[str, IndicatorDefinition],
                 prefix: str = "body/values") -> None:
    """Raise 422 with every problem found (at most 100 listed)."""
    errors: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    dims = dimensions()
    for i, v in enumerate(values):
        f = f"{prefix}/{i}"
        d = defs.get(v.indicator_code)
        if d is None:
            errors.append(field_error(f"{f}/indicator_code", "unknown",
                                      f"no indicator {v.indicator_code} in force for this period"))
            continue
        if v.indicator_code in seen:
            errors.append(field_error(f"{f}/indicator_code", "duplicate",
                                      f"{v.indicator_code} already given at index {seen[v.indicator_code]}"))
            continue
        seen[v.indicator_code] = i
        if d.min_value is not None and v.value < d.min_value or \
                d.max_value is not None and v.value > d.max_value:
            errors.append(field_error(f"{f}/value", "out_of_bounds",
                                      f"{v.indicator_code} must be within [{d.min_value}, {d.max_value}]"))
        given = v.disaggregations or {}
        for dim in d.disaggregations:
            if dim not in given and d.measure == "count":
                errors.append(field_error(f"{f}/disaggregations", "missing",
                                          f"{v.indicator_code} must be broken down by {dim}"))
        for dim, cells in given.items():
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
            if abs(sum(cells.values()) - v.value) > TOLERANCE and dim != "employment":
                errors.append(field_error(f"{f}/disaggregations/{dim}", "sum",
                                          f"{dim} adds up to {sum(cells.values())}, not {v.value}"))
    by_code = {v.indicator_code: v for v in values}
    for code, v in by_code.items():
        d = defs.get(code)
        if d is None:
            continue
        if d.parts and all(p in by_code for p in d.parts):
            parts_total = sum(by_code[p].value for p in d.parts)
            if abs(parts_total - v.value) > TOLERANCE:
                errors.append(field_error(f"{prefix}/{seen[code]}/value", "composite",
                                          f"{code} is {v.value} but {' + '.join(d.parts)} = {parts_total}"))
        for other in d.exclusive_with:
            if other in by_code and code < other and v.counted_ids and by_code[other].counted_ids:
                both = set(v.counted_ids) & set(by_code[other].counted_ids)
                if both:
                    errors.append(field_error(
                        f"{prefix}/{seen[code]}/counted_ids", "counted_twice",
                        f"{len(both)} counted under both {code} and {other} "
                        f"(a self-employed person or their firm, never both), e.g. {sorted(both)[:3]}"))
    if errors:
        raise Unprocessable("the report's values are not valid", errors=errors[:100])


def value_rows(report_id: str, values: list[ValueIn]) -> list[dict[str, Any]]:
    return [{"report_id": report_id, "indicator_code": v.indicator_code, "value": v.value,
             "disaggregations": v.disaggregations, "counted_ids": v.counted_ids} for v in values]
