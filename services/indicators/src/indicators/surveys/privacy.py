"""The privacy rule for every published survey figure, in one place.

A result set is published as one table: respondents counted by group (one or more breakdowns,
e.g. team) and by score band, with its margins: n per group, the band counts of the total row
and the grand total. Means, SDs and CIs are published per group and in total, so their sums
share the additive structure of the group counts (total = sum of the groups).

Protection, for a threshold k (default 5):

1. Primary suppression: every count of 1 to k-1 respondents is withheld (a group with fewer
   than k respondents is withheld whole: its n, means, SDs and bands).
2. Complementary suppression: within every published additive relation (a parent figure and
   the parts it is the sum of: a group and its bands, a band and its groups, the total and its
   groups or bands), what the withheld parts add up to is published implicitly (parent minus
   the shown parts). That remainder must be 0 or at least k, otherwise a further part is
   withheld, the smallest non-zero one first.
3. Audit: the published pattern is checked as a whole by linear programming (SciPy's HiGHS).
   For every withheld figure the interval of values that all the published figures allow is
   computed (cells non-negative, a group shown by its label holds at least one respondent).
   A pattern is published only if no withheld figure is confined to 1..k-1 or pinned to
   one value (a 0 derivable as 0 excepted: it is about nobody). Where the audit finds one,
   another related figure is withheld and the audit runs again; in the end, if nothing
   else helps, the whole table is withheld.

Every path that publishes survey figures (JSON, CSV/XLSX exports, analyses reusing them)
calls `protect` and shows only what it marks as published; no path builds its own rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.logging import get_logger

if TYPE_CHECKING:  # numpy is imported where the maths runs: ~13 MB of an idle process
    import numpy as np

log = get_logger(__name__)
EPS = 1e-7


@dataclass(frozen=True)
class Protection:
    """What a withheld figure must keep. The interval of values the published figures allow
    may not lie inside 1..k-1 (a figure about fewer than k respondents) and may not collapse
    to one value. One exception: a figure that is 0 and derivable as 0 (every band count of a
    band nobody is in) tells nothing about anyone; withholding a 0 never needs a partner."""

    k: int

    def unsafe(self, lo: int, hi: int) -> bool:
        return lo >= 1 and (hi <= self.k - 1 or hi == lo)

    def small(self, n: int) -> bool:
        return 0 < n < self.k


@dataclass
class Figure:
    name: tuple                 # ("total",) ("band", j) ("group", b, g) ("group_band", b, g, j)
    cells: np.ndarray           # indices of the fine cells it adds up
    value: int
    listed: bool = False        # shown by its label, so known to hold at least one respondent
    hidden: bool = False
    primary: bool = False


@dataclass
class Table:
    """The figures of one published result set and which of them are shown."""

    protection: Protection
    figures: list[Figure]
    by_name: dict[tuple, int]
    relations: list[tuple[int, list[int]]]     # (parent, parts)
    n_cells: int
    lp_solves: int = 0
    rounds: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def shown(self, name: tuple) -> bool:
        i = self.by_name.get(name)
        return i is not None and not self.figures[i].hidden

    def value(self, name: tuple) -> int | None:
        """The published value, or None where it is withheld."""
        i = self.by_name.get(name)
        if i is None or self.figures[i].hidden:
            return None
        return self.figures[i].value

    def summary(self) -> dict[str, Any]:
        hidden = [f for f in self.figures if f.hidden]
        return {"k": self.protection.k, "figures": len(self.figures),
                "withheld": len(hidden), "primary": sum(f.primary for f in hidden),
                "complementary": sum(not f.primary for f in hidden), "audited": True}


def band_index(scores: np.ndarray, bands: Sequence[dict[str, Any]]) -> np.ndarray:
    """Band of each score. Bands are contiguous: band j covers [min_j, min_j+1), the last
    one up to its max inclusive (checked by `check_bands` when an instrument is loaded)."""
    import numpy as np
    mins = np.array([float(b["min"]) for b in bands])
    # Scores are means of integers; rounding keeps 0.4 * 100 from falling below 40.
    return np.clip(np.searchsorted(mins, np.round(scores, 6), side="right") - 1, 0, len(bands) - 1)


def check_bands(bands: Sequence[dict[str, Any]], score_min: float, score_max: float) -> str | None:
    """Why these bands do not cover [score_min, score_max] without gaps or overlaps, or None."""
    if not bands:
        return None
    for j, b in enumerate(bands):
        if not float(b["min"]) < float(b["max"]):
            return f"band {b['code']}: min must be below max"
        if j and float(bands[j - 1]["max"]) != float(b["min"]):
            return (f"band {b['code']} must start where {bands[j - 1]['code']} ends "
                    f"({bands[j - 1]['max']}): bands are contiguous, [min, max) each")
    if len({b["code"] for b in bands}) != len(bands):
        return "band codes repeat"
    if float(bands[0]["min"]) > score_min or float(bands[-1]["max"]) < score_max:
        return f"bands must cover the whole score range {score_min:g}..{score_max:g}"
    return None


def protect(k: int, breakdowns: Sequence[np.ndarray], bands: np.ndarray | None,
            n_bands: int) -> Table:
    """Protect one result set. `breakdowns`: per breakdown, an integer group code for each
    respondent (codes 0..m-1, every code used); `bands`: each respondent's band (or None when
    the instrument has no bands)."""
    table = _build(Protection(k), breakdowns, bands, n_bands)
    _suppress(table)
    return table


# --- building the table ------------------------------------------------------------------

def _combinations(breakdowns: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The group combinations that occur, in lexicographic order (one row each, one column a
    breakdown), and each respondent's row. One flat key per respondent (the codes in mixed
    radix, the first breakdown most significant) keeps the order of a row-wise unique and sorts
    a million keys in a fraction of the time `np.unique(axis=0)` takes."""
    import numpy as np
    if not breakdowns:
        return np.zeros((1 if n else 0, 1), dtype=np.int64), np.zeros(n, dtype=np.int64)
    if not n:
        return np.zeros((0, len(breakdowns)), dtype=np.int64), np.zeros(0, dtype=np.int64)
    sizes = tuple(int(codes.max()) + 1 for codes in breakdowns)
    flat = np.ravel_multi_index(tuple(np.asarray(c, dtype=np.int64) for c in breakdowns), sizes)
    keys, combo_of = np.unique(flat, return_inverse=True)
    combos = np.column_stack(np.unravel_index(keys, sizes)).astype(np.int64)
    return combos, np.asarray(combo_of, dtype=np.int64).reshape(-1)


def _build(prot: Protection, breakdowns: Sequence[np.ndarray], bands: np.ndarray | None,
           n_bands: int) -> Table:
    import numpy as np
    n = len(breakdowns[0]) if breakdowns else (len(bands) if bands is not None else 0)
    nb = n_bands if bands is not None else 0
    # Fine cells: the group combinations that occur (others are structural zeros an attacker
    # may know) times every band (a band count may be 0 and could have been otherwise).
    combos, combo_of = _combinations(breakdowns, n)
    per = max(nb, 1)
    n_cells = len(combos) * per
    cell_of = combo_of * per + (bands if nb else 0)
    counts = np.bincount(cell_of, minlength=n_cells) if n else np.zeros(0, dtype=np.int64)
    cell_combo = np.repeat(np.arange(len(combos)), per)
    cell_band = np.tile(np.arange(per), len(combos))

    figures: list[Figure] = []
    by_name: dict[tuple, int] = {}
    by_support: dict[bytes, int] = {}

    def add(name: tuple, mask: np.ndarray, listed: bool = False) -> int:
        cells = np.flatnonzero(mask)
        key = cells.tobytes()
        i = by_support.get(key)
        if i is None:      # the same cells published twice are one figure
            i = by_support[key] = len(figures)
            figures.append(Figure(name, cells, int(counts[cells].sum())))
        figures[i].listed |= listed
        by_name[name] = i
        return i

    everything = np.ones(n_cells, dtype=bool)
    total = add(("total",), everything)
    band_figs = [add(("band", j), cell_band == j) for j in range(nb)]
    relations: list[tuple[int, list[int]]] = []
    if nb:
        relations.append((total, band_figs))
    for b, codes in enumerate(breakdowns):
        groups = []
        for g in range(int(codes.max()) + 1 if len(codes) else 0):
            in_group = combos[cell_combo, b] == g
            gi = add(("group", b, g), in_group, listed=True)
            groups.append(gi)
            if nb:
                parts = [add(("group_band", b, g, j), in_group & (cell_band == j)) for j in range(nb)]
                relations.append((gi, parts))
        relations.append((total, groups))
        if nb:
            for j in range(nb):
                relations.append((band_figs[j], [by_name[("group_band", b, g, j)]
                                                 for g in range(len(groups))]))
    relations = [(p, parts) for p, parts in relations if parts != [p] and len(parts) > 1]
    return Table(prot, figures, by_name, relations, n_cells)


# --- suppression and audit ---------------------------------------------------------------

def publishable_total(n: int, k: int) -> bool:
    """Whether a figure about a whole population of n respondents (a round, a group) may be
    shown on its own: never about 1 to k-1 respondents."""
    return not Protection(k).small(n)


def _suppress(t: Table) -> None:
    prot, figs = t.protection, t.figures
    total = figs[t.by_name[("total",)]]
    if total.value < prot.k:
        for f in figs:     # nothing about fewer than k leaves at all
            f.hidden, f.primary = True, prot.small(f.value) or f is total
        return
    for f in figs:
        if prot.small(f.value):
            f.hidden = f.primary = True
    for _ in range(len(figs) + 1):
        t.rounds += 1
        changed = _withhold_rows(t) | _fix_remainders(t)
        if changed:
            continue
        try:
            unsafe = _audit(t)
        except RuntimeError:      # a solver that cannot answer: fail closed, publish nothing
            log.warning("survey_privacy.audit_failed", exc_info=True)
            break
        if not unsafe:
            return
        if not any(_hide_partner(t, i) for i in unsafe):
            break
    for f in figs:         # no pattern protects the table: withhold all of it
        f.hidden = True


def _withhold_rows(t: Table) -> bool:
    """A withheld group is withheld whole: none of its band counts (not even a 0) is shown."""
    figs = t.figures
    changed = False
    for parent, parts in t.relations:
        if figs[parent].hidden and figs[parent].name[0] == "group":
            for p in parts:
                if not figs[p].hidden:
                    figs[p].hidden = changed = True
    return changed


def _fix_remainders(t: Table) -> bool:
    """Withheld parts of a published relation add up to parent - shown parts: keep that
    remainder 0 or at least k. Returns whether anything more was withheld."""
    figs, prot = t.figures, t.protection
    changed = False
    for parent, parts in t.relations:
        if figs[parent].hidden:
            continue
        hidden = [p for p in parts if figs[p].hidden]
        if not hidden:
            continue
        rest = sum(figs[p].value for p in hidden)
        if prot.small(rest) or (len(hidden) == 1 and rest > 0):  # pinned, or about < k
            shown = sorted((p for p in parts if not figs[p].hidden),
                           key=lambda p: (figs[p].value == 0, figs[p].value))
            if shown:
                figs[shown[0]].hidden = True
            elif figs[parent].name != ("total",):
                figs[parent].hidden = True
            else:
                continue
            changed = True
    return changed


def _hide_partner(t: Table, i: int) -> bool:
    """Withhold one more figure related to the unsafe figure i: a shown part of a relation it
    belongs to (smallest non-zero first), else a shown parent other than the total."""
    figs = t.figures
    partners: set[int] = set()
    parents: set[int] = set()
    for parent, parts in t.relations:
        if i in parts:
            partners.update(p for p in parts if p != i)
            parents.add(parent)
        elif parent == i:
            partners.update(parts)
    total = t.by_name[("total",)]
    for pool in (partners, parents):
        shown = sorted((p for p in pool if not figs[p].hidden and p != total),
                       key=lambda p: (figs[p].value == 0, figs[p].value))
        if shown:
            figs[shown[0]].hidden = True
            return True
    return False


def linprog(*args: Any, **kwargs: Any) -> Any:
    """scipy.optimize.linprog, imported at the first audit that needs it: importing scipy at
    start cost every indicators process ~0.4 s CPU and ~40 MB RSS (bench/RESULTS-coldstart.md)."""
    from scipy.optimize import linprog as solve

    return solve(*args, **kwargs)


def _audit(t: Table) -> list[int]:
    """Indices of withheld figures whose feasible interval the protection does not allow."""
    import numpy as np
    figs, prot = t.figures, t.protection
    hidden = [i for i, f in enumerate(figs) if f.hidden]
    if not hidden:
        return []
    shown = [f for f in figs if not f.hidden]
    from scipy.sparse import csr_matrix  # see linprog: scipy only where it is used

    def matrix(rows: list[Figure]) -> csr_matrix:
        data_rows = np.concatenate([np.full(len(f.cells), r) for r, f in enumerate(rows)]) \
            if rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate([f.cells for f in rows]) if rows else np.zeros(0, dtype=np.int64)
        return csr_matrix((np.ones(len(cols)), (data_rows, cols)), shape=(len(rows), t.n_cells))

    a_eq, b_eq = matrix(shown), np.array([f.value for f in shown], dtype=float)
    listed = [figs[i] for i in hidden if figs[i].listed]
    a_ub = -matrix(listed) if listed else None
    b_ub = -np.ones(len(listed)) if listed else None

    def bound(f: Figure, sense: float) -> float:
        c = np.zeros(t.n_cells)
        c[f.cells] = sense
        t.lp_solves += 1
        r = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq if len(shown) else None,
                    b_eq=b_eq if len(shown) else None, bounds=(0, None), method="highs")
        if r.status != 0:     # cannot happen for the true table; refuse to publish if it does
            raise RuntimeError(f"privacy audit LP failed: {r.message}")
        return sense * r.fun

    unsafe = []
    for i in hidden:
        f = figs[i]
        v = f.value
        # The true table is feasible, so lo <= v <= hi: one solve usually decides.
        if v == 0:
            continue           # lo = 0: never unsafe
        lo = math.ceil(bound(f, 1.0) - EPS)
        if lo < 1 or (lo < v and v >= prot.k):
            continue           # reaches 0, or is not pinned and is itself at least k
        hi = math.floor(bound(f, -1.0) + EPS)
        if prot.unsafe(lo, hi):
            unsafe.append(i)
    return unsafe
