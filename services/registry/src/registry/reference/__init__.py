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


def code_list(name: str) -> list[dict[str, Any]]:
    return _load("codes.json")[name]


LISTS = ("target_groups", "sub_themes", "specific_objectives", "organisation_kinds", "statuses",
         "budget_sources", "project_kinds", "ministries")


@cache
def codes(name: str) -> frozenset[str]:
    items = regions() if name == "regions" else strategies() if name == "strategies" \
        else code_list(name)
    return frozenset(i["code"] for i in items)


@cache
def labels(name: str) -> dict[str, dict[str, str]]:
    items = regions() if name == "regions" else strategies() if name == "strategies" \
        else code_list(name)
    return {i["code"]: {k: i[k] for k in ("fi", "sv", "en") if k in i} for i in items}


def label(name: str, code: str, lang: str) -> str:
    entry = labels(name).get(code)
    if not entry:
        return code
    return entry.get(lang) or entry.get("fi") or code
