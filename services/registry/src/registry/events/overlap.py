"""Payloads of overlap.* and overlap_report.* events (shared/contracts/coordination.py)."""

from __future__ import annotations

from typing import Any


def flagged(pair: dict[str, Any], funders: dict[str, list[str]]) -> dict[str, Any]:
    """A new double-funding pair: the two projects, their funders, the shared workplaces and the
    earliest overlapping period."""
    shared = [r for r in pair["reasons"] if r["kind"] == "shared_workplace" and r["double_funding"]]
    a, b = pair["project_a_id"], pair["project_b_id"]
    ends = [r["overlap_to"] for r in shared]
    return {"id": pair["id"], "project_ids": [a, b],
            "funder_ids": sorted({*funders.get(a, []), *funders.get(b, [])}),
            "organisation_ids": sorted({r["organisation_id"] for r in shared}),
            "overlap_from": min(r["overlap_from"] for r in shared),
            "overlap_to": None if None in ends else max(ends),
            "score": pair["score"] / 1000}


def rebuilt(build: dict[str, Any], doubles: int) -> dict[str, Any]:
    return {"id": "national", "built_at": build["built_at"].isoformat(),
            "change_seq": build["change_seq"], "projects": build["projects"],
            "pairs": build["pairs"], "double_funding_pairs": doubles,
            "seconds": build["build_ms"] / 1000}
