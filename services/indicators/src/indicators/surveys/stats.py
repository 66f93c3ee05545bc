"""Scoring and statistics for survey instruments. Pure functions over numpy arrays: no
database here. The privacy rule is in `privacy`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where the maths runs: ~13 MB of an idle process
    import numpy as np

Z975 = 1.959963984540054


def score_range(scale_min: float, scale_max: float, scoring: str) -> tuple[float, float]:
    """The lowest and highest score a respondent can get (what an instrument's bands cover)."""
    if scoring == "percent_of_max":
        return scale_min / scale_max * 100.0, 100.0
    return float(scale_min), float(scale_max)


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
        import numpy as np
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
        """Rows with an answer missing, not a whole number, or outside the scale: the
        instrument's items take integers on its scale and nothing else."""
        import numpy as np
        with np.errstate(invalid="ignore"):
            return np.isnan(answers).any(axis=1) | (answers != np.round(answers)).any(axis=1) | \
                (answers < self.scale_min).any(axis=1) | (answers > self.scale_max).any(axis=1)


    def _finish(self, x: np.ndarray) -> np.ndarray:
        return x / self.scale_max * 100.0 if self.rule == "percent_of_max" else x

    def score(self, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(total per respondent, dimension scores per respondent x dimension)."""
        import numpy as np
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


def cohens_d(a: np.ndarray, b: np.ndarray) -> float | None:
    """Standardised mean difference with the pooled SD; None where it is undefined (fewer
    than two respondents on a side, or no variation at all: a pooled SD of 0)."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    # Scores are means of integers: a pooled SD this small is rounding noise, not variation.
    if not math.isfinite(pooled) or pooled < 1e-9:
        return None
    return round(float((b.mean() - a.mean()) / pooled), 4)
