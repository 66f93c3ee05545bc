"""Payload of job.completed (shared/contracts/registry.py JobCompletedV1)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def completed(job: dict[str, Any], state: str, rows_done: int,
              finished_at: dt.datetime) -> dict[str, Any]:
    return {"id": job["id"], "kind": job["kind"], "state": state, "rows_done": rows_done,
            "rows_total": job.get("rows_total"), "finished_at": finished_at.isoformat()}
