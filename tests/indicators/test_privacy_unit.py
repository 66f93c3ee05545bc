"""The privacy rule as a property: whatever the cell sizes, nothing about fewer than k
respondents can be read or derived by subtraction from what is shown."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.surveys import privacy, stats
from indicators.surveys.service import results


def _one_way(cells: dict[str, int], k: int) -> tuple[set[str], bool]:
    """Hidden units and whether the total is hidden, for a table of units without bands."""
    labels = list(cells)
    codes = np.repeat(np.arange(len(labels)), [cells[u] for u in labels])
    t = privacy.protect(k, [codes], None, 0)
    hidden = {u for g, u in enumerate(labels) if cells[u] and not t.shown(("group", 0, g))}
    return hidden, not t.shown(("total",))


@pytest.mark.parametrize("k", [3, 5, 10])
def test_no_cell_or_difference_under_k(k):
    sizes = [1, 2, 4, 5, 6, 9, 12]
    for combo in product(sizes, repeat=3):
        cells = {f"u{i}": n for i, n in enumerate(combo)}
        hidden, hide_total = _one_way(cells, k)
        total = sum(combo)
        if total < k:
            assert hide_total
            continue
        shown = {u: n for u, n in cells.items() if u not in hidden}
        assert all(n >= k for n in shown.values()), (cells, hidden)
        if hidden and not hide_total:
            # Each hidden unit holds >= 1, so their sum must leave room for each to reach k.
            rest = total - sum(shown.values())
            assert len(hidden) >= 2 and rest >= k + len(hidden) - 1, (cells, hidden)


def test_single_small_cell_gets_a_partner():
    hidden, hide_total = _one_way({"A": 10, "B": 3, "C": 8}, 5)
    assert hidden == {"B", "C"} and not hide_total


def test_two_small_cells_together_below_k_take_a_third():
    hidden, hide_total = _one_way({"A": 10, "B": 1, "C": 2, "D": 30}, 5)
    assert hidden == {"B", "C", "A"} and not hide_total


def test_only_cell_small_hides_total():
    hidden, hide_total = _one_way({"A": 3}, 5)
    assert hidden == {"A"} and hide_total


def test_bands_must_cover_the_score_range_without_gaps():
    ok = [{"code": "lo", "min": 0, "max": 3}, {"code": "hi", "min": 3, "max": 6}]
    assert privacy.check_bands(ok, 0, 6) is None
    gap = [{"code": "lo", "min": 0, "max": 1.999}, {"code": "hi", "min": 2, "max": 6}]
    assert "contiguous" in privacy.check_bands(gap, 0, 6)
    overlap = [{"code": "lo", "min": 0, "max": 3.5}, {"code": "hi", "min": 3, "max": 6}]
    assert "contiguous" in privacy.check_bands(overlap, 0, 6)
    assert "whole score range" in privacy.check_bands(ok[:1], 0, 6)
    # A score on a boundary belongs to the upper band; the top score to the last band.
    assert privacy.band_index(np.array([0.0, 26 / 9, 3.0, 6.0]), ok).tolist() == [0, 0, 1, 1]
    # Scoring noise does not move a boundary score down a band: 0.3 * 10 is 3.0000000000000004.
    assert privacy.band_index(np.array([0.1 * 3 * 10, 2.9999999999]), ok).tolist() == [1, 1]


def test_cohens_d_is_null_when_undefined():
    same = np.full(10, 3.0)
    assert stats.cohens_d(same, same + 1) is None          # no variation: d undefined
    assert stats.cohens_d(np.full(10, 0.1 * 3), np.full(10, 0.3)) is None   # float noise
    assert stats.cohens_d(same[:1], same) is None
    assert stats.cohens_d(np.array([1.0, 2, 3]), np.array([2.0, 3, 4])) == 1.0


def _instrument():
    return SimpleNamespace(dimensions=[{"code": "d"}], bands=[
        {"code": "low", "min": 0, "max": 3}, {"code": "high", "min": 3, "max": 6}])


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


def test_an_audit_that_cannot_answer_publishes_nothing(monkeypatch):
    """Fail closed: if the solver cannot decide, every figure is withheld (no 500, no leak)."""
    def broken(*_a, **_k):
        return SimpleNamespace(status=4, message="numerical trouble", fun=0.0)

    monkeypatch.setattr(privacy, "linprog", broken)
    units = np.array(["A"] * 6 + ["B"] * 3 + ["C"] * 7, dtype=object)
    total = np.array([1.0] * 6 + [4.0] * 3 + [5.5] * 7)
    res = results(units, total, total.reshape(-1, 1), _instrument(), 5, True)
    assert res["total"]["suppressed"] and all(r["suppressed"] for r in res["breakdown"])


# The flat-key grouping (a speed-up, issue 16) finds the same combinations, in the same order,
# as the row-wise np.unique it replaced, for any number of breakdowns and group sizes.
@given(st.integers(0, 3).flatmap(lambda nb: st.tuples(
    st.integers(0, 80), st.lists(st.integers(1, 6), min_size=nb, max_size=nb), st.integers(0, 2**32 - 1))))
@settings(max_examples=200, deadline=None)
def test_grouping_matches_rowwise_unique(case):
    n, sizes, seed = case
    rng = np.random.default_rng(seed)
    breakdowns = [rng.integers(0, m, size=n) for m in sizes]
    keys = np.column_stack(breakdowns) if breakdowns else np.zeros((n, 1), dtype=np.int64)
    if n:
        expected, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
    else:
        expected, inverse = keys[:0], keys[:0, 0]
    combos, combo_of = privacy._combinations(breakdowns, n)
    assert np.array_equal(combos, expected) and np.array_equal(combo_of, inverse)
    assert (combos[combo_of] == keys).all() if n and breakdowns else True
