"""An analyst who subtracts published figures: independent of the service's privacy code.

Given which cells each published figure adds up (from the table's structure alone) and the
values that were published, it solves the integer program a careful attacker would (SciPy's
MILP) for the smallest and largest value every withheld figure can take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp


@dataclass
class Fig:
    name: object
    cells: list[int]
    value: int | None          # None: withheld
    listed: bool = False       # shown by its label: at least one respondent


def intervals(figs: list[Fig], n_cells: int) -> dict[object, tuple[float, float]]:
    """Feasible (lo, hi) of every withheld figure; hi may be inf."""
    rows, lo_b, hi_b = [], [], []
    for f in figs:
        row = np.zeros(n_cells)
        row[f.cells] = 1
        if f.value is not None:
            rows.append(row)
            lo_b.append(f.value)
            hi_b.append(f.value)
        elif f.listed:
            rows.append(row)
            lo_b.append(1)
            hi_b.append(np.inf)
    cons = [LinearConstraint(np.array(rows), lo_b, hi_b)] if rows else []
    out = {}
    for f in figs:
        if f.value is not None:
            continue
        c = np.zeros(n_cells)
        c[f.cells] = 1
        ends = []
        for sense in (1, -1):
            r = milp(sense * c, constraints=cons, integrality=np.ones(n_cells),
                     bounds=Bounds(0, np.inf))
            if r.status == 3 or (r.status != 0 and sense == -1 and "unbounded" in r.message.lower()):
                ends.append(math.inf)
                continue
            assert r.status == 0, r.message
            ends.append(sense * r.fun)
        out[f.name] = (round(ends[0]), ends[1] if math.isinf(ends[1]) else round(ends[1]))
    return out


def leaks(figs: list[Fig], n_cells: int, k: int) -> list[tuple[object, tuple]]:
    """Withheld figures pinned to a value of 1 or more, or confined to 1..k-1; and shown
    figures about 1..k-1 respondents."""
    found = [(f.name, ("shown", f.value)) for f in figs
             if f.value is not None and 0 < f.value < k]
    for name, (lo, hi) in intervals(figs, n_cells).items():
        if lo >= 1 and (hi <= k - 1 or hi == lo):
            found.append((name, (lo, hi)))
    return found


def round_figures(res: dict, band_codes: list[str]) -> tuple[list[Fig], int]:
    """The figures of a round's published results (total and unit breakdown) as an analyst
    reads them: cells are unit x band; the bands cover the whole score range."""
    rows = res["breakdown"]
    nb = len(band_codes)
    n_cells = len(rows) * nb

    def cells(units=None, band=None):
        return [g * nb + j for g in range(len(rows)) for j in range(nb)
                if (units is None or g in units) and (band is None or j == band)]

    figs = [Fig("total", cells(), res["total"]["n"])]
    for j, code in enumerate(band_codes):
        bands = res["total"]["bands"] or {}
        figs.append(Fig(("band", code), cells(band=j), bands.get(code)))
    for g, row in enumerate(rows):
        figs.append(Fig(("n", row["unit"]), cells(units={g}), row["n"], listed=True))
        for j, code in enumerate(band_codes):
            figs.append(Fig((row["unit"], code), cells(units={g}, band=j),
                            (row["bands"] or {}).get(code)))
    return figs, n_cells
