"""Field checks shared by the registry's schemas (each raises ValueError with a clear message)."""

from __future__ import annotations

import re

from pydantic import ValidationInfo

from registry import reference

_BUSINESS_ID = re.compile(r"^(\d{7})-(\d)$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def business_id_check_digit(first7: str) -> int | None:
    """Y-tunnus check digit: weights 7,9,10,5,8,4,2; remainder 0 -> 0, 1 -> invalid, else 11 - r."""
    remainder = sum(int(d) * w for d, w in zip(first7, _WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return 0
    if remainder == 1:
        return None
    return 11 - remainder


def check_business_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    m = _BUSINESS_ID.match(value)
    if not m:
        raise ValueError("a business ID (Y-tunnus) is seven digits, a hyphen and a check digit")
    expected = business_id_check_digit(m.group(1))
    if expected is None:
        raise ValueError("no valid check digit exists for these seven digits")
    if int(m.group(2)) != expected:
        raise ValueError(f"wrong check digit: expected {expected}")
    return value


def check_codes(kind: str, values: list[str] | None) -> list[str] | None:
    """Codes must be in the shipped reference list `kind`; returned sorted and unique."""
    if values is None:
        return None
    known = reference.codes(kind)
    if known.issuperset(values):
        return sorted(set(values))
    unknown = [v for v in values if v not in known]
    if unknown:
        hint = "maakunta codes 01-21 (not ISO 3166-2:FI)" if kind == "regions" else \
            f"see /reference/{kind}"
        raise ValueError(f"unknown code(s) {unknown}; use {hint}")
    return sorted(set(values))


def check_code_field(values: list[str] | None, info: ValidationInfo) -> list[str] | None:
    """check_codes for a field named after its code list (sub_themes, target_groups,
    strategy_codes: the strategies)."""
    return check_codes(FIELD_LISTS.get(info.field_name, info.field_name), values)


FIELD_LISTS = {"strategy_codes": "strategies"}


def check_region(value: str | None) -> str | None:
    if value is None:
        return None
    check_codes("regions", [value])
    return value
