"""A pair's score and its reasons: text similarity first, then what the two projects share.

score = text cosine + 0.05 for each kind of thing shared (target groups, sub-themes, regions,
organisations), at most 1. A shared workplace whose participation in the two projects overlaps in
time is a risk of double funding: the pair is flagged whatever its score.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.overlap.index import Meta

THRESHOLD = 0.25  # text cosine of a similar pair (P 0.90 / R 0.95 on the labelled set)
CANDIDATE_FLOOR = 0.10  # weaker text matches are not listed as similar at all
SHARED_WEIGHT = 0.05
TAGS = (("target_groups", "target_groups"), ("sub_themes", "sub_themes"), ("regions", "regions"),
        ("organisations", "organisations"))


def period(joined: dt.date, left: dt.date | None, project_end: dt.date | None
           ) -> tuple[dt.date, dt.date | None]:
    """A workplace's time in a project: from joining to leaving (or the project's end)."""
    end = left or project_end
    return joined, end


def overlap(a: tuple[dt.date, dt.date | None], b: tuple[dt.date, dt.date | None]
            ) -> tuple[dt.date, dt.date | None] | None:
    start = max(a[0], b[0])
    ends = [e for e in (a[1], b[1]) if e is not None]
    end = min(ends) if ends else None
    return None if end is not None and end < start else (start, end)


def workplace_reasons(rows: list[Any]) -> list[dict[str, Any]]:
    """One reason per shared workplace (rows: organisation_id, the two periods)."""
    out = []
    for r in rows:
        both = overlap(period(r.a_joined, r.a_left, r.a_end), period(r.b_joined, r.b_left, r.b_end))
        out.append({"kind": "shared_workplace", "organisation_id": r.organisation_id,
                    "double_funding": both is not None,
                    "overlap_from": both[0].isoformat() if both else None,
                    "overlap_to": both[1].isoformat() if both and both[1] else None})
    return out


def score_pair(a: Meta, b: Meta, text: float, lang: str | None,
               workplaces: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The pair's score, text score, double-funding flag (None: workplaces not shown) and reasons,
    the double-funding ones first."""
    reasons: list[dict[str, Any]] = []
    if workplaces:
        seen: dict[str, dict[str, Any]] = {}
        for w in workplaces:  # one reason per workplace, the overlapping period if any
            if w["organisation_id"] not in seen or w["double_funding"]:
                seen[w["organisation_id"]] = w
        reasons.extend(sorted(seen.values(), key=lambda w: (not w["double_funding"],
                                                            w["organisation_id"])))
    if text > 0:
        reasons.append({"kind": "text", "score": round(text, 3), "language": lang,
                        "similar": text >= THRESHOLD})
    shared = 0
    for kind, attr in TAGS:
        values = sorted(getattr(a, attr) & getattr(b, attr))
        if values:
            shared += 1
            reasons.append({"kind": kind, "values": values})
    same_period = overlap((a.start or dt.date.min, a.end), (b.start or dt.date.min, b.end))
    double = None if workplaces is None else any(w["double_funding"] for w in workplaces)
    return {"score": round(min(1.0, text + SHARED_WEIGHT * shared), 3), "text_score": round(text, 3),
            "double_funding": double, "terms_overlap": same_period is not None,
            "reasons": reasons}


def project_brief(m: Meta) -> dict[str, Any]:
    return {"id": m.id, "code": m.code, "name": m.name, "theme_id": m.theme_id,
            "status": m.status, "start_date": m.start.isoformat() if m.start else None,
            "end_date": m.end.isoformat() if m.end else None}
