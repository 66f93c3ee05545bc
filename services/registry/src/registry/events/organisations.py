"""Payloads of organisation.* events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.models import Organisation


def state(o: Organisation) -> dict[str, Any]:
    """The organisation's public state: organisation.created, and the change feed's row."""
    return {"id": o.id, "version": o.version, "name": o.name, "business_id": o.business_id,
            "kind": o.kind, "sector": o.sector, "size_class": o.size_class,
            "region_code": o.region_code, "successor_id": o.successor_id}


def updated(o: Organisation, changed_fields: list[str]) -> dict[str, Any]:
    return {**state(o), "changed_fields": changed_fields}


def succeeded(o: Organisation, successor_id: str, date: dt.date) -> dict[str, Any]:
    return {"id": o.id, "successor_id": successor_id, "date": date.isoformat()}
