"""The privacy rule as a property: whatever the cell sizes, nothing about fewer than k
respondents can be read or derived by subtraction from what is shown."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace

import numpy as np
import pytest

from indicators.surveys import stats
from indicators.surveys.service import results


def _derivable_ok(cells: dict[str, int], hidden: set[str], hide_total: bool, k: int) -> bool:
    shown = {c: n for c, n in cells.items() if c not in hidden}
    if any(0 < n < k for n in shown.values()):
        return False
    if hidden and not hide_total:
        # The total minus shown cells gives the hidden cells' combined figure only.
        return len(hidden) >= 2 and sum(cells[c] for c in hidden) >= k
    if hide_total and not hidden:
        return True
    return True


@pytest.mark.parametrize("k", [3, 5, 10])
def test_no_cell_or_difference_under_k(k):
    sizes = [0, 1, 2, 4, 5, 6, 9, 12]
    for combo in product(sizes, repeat=3):
        cells = {f"u{i}": n for i, n in enumerate(combo)}
        total = sum(combo)
        hidden, hide_total = stats.suppress_with_total(cells, k, total)
        assert _derivable_ok(cells, hidden, hide_total, k), (cells, hidden, hide_total)
        if total < k:
            assert hide_total


def test_single_small_cell_gets_a_partner():
    hidden, hide_total = stats.suppress_with_total({"A": 10, "B": 3, "C": 8}, 5, 21)
    assert hidden == {"B", "C"} and not hide_total


def test_two_small_cells_together_below_k_take_a_third():
    hidden, hide_total = stats.suppress_with_total({"A": 10, "B": 1, "C": 2, "D": 30}, 5, 43)
    assert hidden == {"B", "C", "A"} and not hide_total


def test_only_cell_small_hides_total():
    hidden, hide_total = stats.suppress_with_total({"A": 3}, 5, 3)
    assert hidden == {"A"} and hide_total


def _instrument():
    return SimpleNamespace(dimensions=[{"code": "d"}], bands=[
        {"code": "low", "min": 0, "max": 2.999}, {"code": "high", "min": 3, "max": 6}])


def test_results_respect_a_configured_k():
    units = np.array(["A"] * 8 + ["B"] * 12, dtype=object)
    total = np.array([1.0] * 8 + [4.0] * 12)
    dims = total.reshape(-1, 1)
    five = results(units, total, dims, _instrument(), 5, True)
    assert [c["suppressed"] for c in five["breakdown"]] == [False, False]
    ten = results(units, total, dims, _instrument(), 10, True)
    # A (8) is below 10; its partner B is hidden too, the total (20) stays.
    assert [c["suppressed"] for c in ten["breakdown"]] == [True, True]
    assert ten["total"]["n"] == 20
    assert ten["total"]["bands"] == {"low": None, "high": None}
    assert results(units, total, dims, _instrument(), 25, False)["total"]["suppressed"]


def test_scoring_reverse_items_and_percent_of_max():
    ins = SimpleNamespace(items=[{"id": "a", "dimension": "x"},
                                 {"id": "b", "dimension": "x", "reverse": True}],
                          dimensions=[{"code": "x"}], scale_min=1, scale_max=5, scoring="percent_of_max")
    sc = stats.Scoring.of(ins)
    total, dims = sc.score(np.array([[5.0, 1.0], [3.0, 3.0]]))
    assert total.tolist() == [100.0, 60.0] and dims[:, 0].tolist() == [100.0, 60.0]
    assert sc.invalid_rows(np.array([[0.0, 1.0], [1.0, np.nan], [1.0, 5.0]])).tolist() == [True, True, False]


def test_ci_uses_t_distribution():
    assert stats.t_quantile_975(9) == pytest.approx(2.262, abs=2e-3)
    assert stats.t_quantile_975(29) == pytest.approx(2.045, abs=1e-3)
    d = stats.describe(np.array([1.0, 2, 3, 4, 5]))
    assert d["mean"] == 3 and d["sd"] == pytest.approx(1.5811, abs=1e-4)
    assert d["ci95_low"] == pytest.approx(3 - 2.776 * 1.5811 / 5 ** 0.5, abs=1e-3)
