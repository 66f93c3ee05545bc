"""Reference data shipped with the service (JSON files beside this module), loaded once."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def regions() -> list[dict[str, Any]]:
    return _load("regions.json")["items"]


def funding_authorities() -> list[dict[str, Any]]:
    return _load("funding_authorities.json")["items"]


def strategies() -> list[dict[str, Any]]:
    """EU and national strategies a theme answers to (fi/sv/en, url, verified)."""
    return _load("strategies.json")["items"]


def intervention_types() -> list[dict[str, Any]]:
    """CPR Annex I intervention fields used by the theme's ESF+ projects (fi/sv/en, verified)."""
    return _load("intervention_fields.json")["items"]


def list_of_operations() -> dict[str, Any]:
    """The fields of the CPR Article 49(3) list of operations, their headings and defaults."""
    return _load("list_of_operations.json")


def code_list(name: str) -> list[dict[str, Any]]:
    if name == "intervention_types":
        return intervention_types()
    return _load("codes.json")[name]


LISTS = ("target_groups", "sub_themes", "specific_objectives", "organisation_kinds", "statuses",
         "budget_sources", "project_kinds", "ministries", "intervention_types")
# Every code list with fi/sv/en labels, for GET /reference/code-lists.
ALL_LISTS = ("regions", "strategies", *LISTS)


def items(name: str) -> list[dict[str, Any]]:
    return regions() if name == "regions" else strategies() if name == "strategies" \
        else code_list(name)


@cache
def codes(name: str) -> frozenset[str]:
    return frozenset(i["code"] for i in items(name))


@cache
def labels(name: str) -> dict[str, dict[str, str]]:
    return {i["code"]: {k: i[k] for k in ("fi", "sv", "en") if k in i} for i in items(name)}


def label(name: str, code: str, lang: str) -> str:
    entry = labels(name).get(code)
    if not entry:
        return code
    return entry.get(lang) or entry.get("fi") or code
