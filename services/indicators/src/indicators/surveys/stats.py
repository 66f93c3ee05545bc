"""Scoring and statistics for survey instruments, and the privacy rule (k-anonymity with
complementary suppression). Pure functions over numpy arrays: no database here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Z975 = 1.959963984540054


@dataclass(frozen=True)
class Scoring:
    """An instrument's scoring rule, prepared for vectorised use."""

    item_ids: list[str]
    scale_min: float
    scale_max: float
    reverse: np.ndarray            # bool per item
    dim_codes: list[str]
    dim_index: list[np.ndarray]    # item positions per dimension
    rule: str                      # mean | percent_of_max

    @classmethod
    def of(cls, instrument: Any) -> Scoring:
        items = instrument.items
        dims = [d["code"] for d in instrument.dimensions]
        return cls(
            item_ids=[i["id"] for i in items], scale_min=instrument.scale_min,
            scale_max=instrument.scale_max,
            reverse=np.array([bool(i.get("reverse")) for i in items]),
            dim_codes=dims,
            dim_index=[np.array([k for k, i in enumerate(items) if i["dimension"] == d])
                       for d in dims],
            rule=instrument.scoring)

    def invalid_rows(self, answers: np.ndarray) -> np.ndarray:
        """Rows with an answer missing or outside the scale."""
        return np.isnan(answers).any(axis=1) | (answers < self.scale_min).any(axis=1) | \
            (answers > self.scale_max).any(axis=1)

    def _finish(self, x: np.ndarray) -> np.ndarray:
        return x / self.scale_max * 100.0 if self.rule == "percent_of_max" else x

    def score(self, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(total per respondent, dimension scores per respondent x dimension)."""
        a = np.where(self.reverse, self.scale_min + self.scale_max - answers, answers)
        total = self._finish(a.mean(axis=1))
        dims = np.column_stack([self._finish(a[:, idx].mean(axis=1)) for idx in self.dim_index]) \
            if self.dim_index else np.empty((len(a), 0))
        return total, dims


# Student t 97.5 % quantiles for 1..30 degrees of freedom (standard tables).
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """Student t 97.5 % quantile: tabled to 30 df, then a Cornish-Fisher expansion."""
    if df <= 0:
        return float("nan")
    if df <= len(T975):
        return T975[df - 1]
    z, v = Z975, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def describe(x: np.ndarray) -> dict[str, float | int | None]:
    n = int(len(x))
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci95_low": None, "ci95_high": None}
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else 0.0
    half = t_quantile_975(n - 1) * sd / math.sqrt(n) if n > 1 else float("nan")
    return {"n": n, "mean": round(mean, 4), "sd": round(sd, 4),
            "ci95_low": round(mean - half, 4) if n > 1 else None,
            "ci95_high": round(mean + half, 4) if n > 1 else None}


def band_counts(x: np.ndarray, bands: list[dict[str, Any]]) -> dict[str, int]:
    out = {}
    for b in bands:
        out[b["code"]] = int(((x >= b["min"]) & (x <= b["max"])).sum())
    return out


def cohens_d(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return 0.0
    return round(float((b.mean() - a.mean()) / pooled), 4)


def suppress(cells: dict[str, int], k: int, total_shown: bool = True) -> set[str]:
    """Which cells to hide so that no figure about fewer than k respondents can be read or
    derived. Primary: 0 < n < k. Complementary: when the total is shown, the hidden cells
    together must also hold at least k respondents and be at least two, so that neither a
    single hidden cell nor their combination can be recovered by subtraction."""
    hidden = {c for c, n in cells.items() if 0 < n < k}
    if not total_shown or not hidden:
        return hidden
    # Candidates for secondary suppression: smallest non-empty cells first.
    rest = sorted((n, c) for c, n in cells.items() if c not in hidden and n > 0)
    while rest and (len(hidden) < 2 or sum(cells[c] for c in hidden) < k):
        hidden.add(rest.pop(0)[1])
    return hidden


def suppress_with_total(cells: dict[str, int], k: int, total_n: int) -> tuple[set[str], bool]:
    """(hidden cells, whether the total must be hidden too)."""
    hidden = suppress(cells, k, total_shown=True)
    hide_total = total_n < k or bool(
        hidden and (len(hidden) < 2 or sum(cells[c] for c in hidden) < k))
    return hidden, hide_total
