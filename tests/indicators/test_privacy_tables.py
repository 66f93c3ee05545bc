"""Published survey tables against an analyst who subtracts: random rounds (teams of 1 to 12,
random answers, one or several breakdowns), each published result attacked by an independent
integer program (tests/support/attacker.py) that knows the table's structure and every shown
figure. No withheld figure may be pinned to a value or confined to 1..k-1."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.surveys import privacy
from indicators.surveys.service import results
from tests.support.attacker import Fig, leaks, round_figures

BANDS = [{"code": c, "min": lo, "max": hi} for c, lo, hi in (
    ("very_low", 0, 2), ("fairly_low", 2, 3), ("average", 3, 4), ("fairly_high", 4, 5), ("high", 5, 6))]
CODES = [b["code"] for b in BANDS]
UWES = SimpleNamespace(dimensions=[{"code": "vigor"}], bands=BANDS)
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rounds(draw):
    """Teams of 1..12 respondents; each respondent's UWES-9 score is a sum of nine 0..6
    answers over 9, drawn around a team-specific level so that bands cluster as in life."""
    k = draw(st.sampled_from([3, 5]))
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))
    units, scores = [], []
    for t, size in enumerate(sizes):
        level = draw(st.integers(0, 54))
        spread = draw(st.integers(0, 20))
        for _ in range(size):
            s = min(54, max(0, level + draw(st.integers(-spread, spread))))
            units.append(f"U{t}")
            scores.append(s / 9)
    return k, np.array(units, dtype=object), np.array(scores)


def _check_truth(res, units, scores, k):
    """What is shown is true, and shown rows concern at least k respondents."""
    band = privacy.band_index(scores, BANDS)
    for row in res["breakdown"]:
        mine = units == row["unit"]
        if row["suppressed"]:
            assert row["n"] is None and row["mean"] is None and row["bands"] is None
            continue
        assert row["n"] == mine.sum() >= k
        assert abs(row["mean"] - scores[mine].mean()) < 1e-3
        for j, code in enumerate(CODES):
            if row["bands"][code] is not None:
                assert row["bands"][code] == int((band[mine] == j).sum())
    if not res["total"]["suppressed"]:
        assert res["total"]["n"] == len(scores)
        assert sum(v for v in res["total"]["bands"].values() if v is not None) <= len(scores)


@PROPERTY
@given(rounds())
def test_round_results_leak_nothing_to_an_attacker(case):
    k, units, scores = case
    res = results(units, scores, scores.reshape(-1, 1), UWES, k, True)
    _check_truth(res, units, scores, k)
    figs, n_cells = round_figures(res, CODES)
    assert leaks(figs, n_cells, k) == [], res
    # Without the breakdown the total is the same as with it: two requests cannot be
    # combined into more than one of them shows.
    alone = results(units, scores, scores.reshape(-1, 1), UWES, k, False)
    assert alone["total"] == res["total"]
    # Hidden units together: their combined mean is derivable, so they hold k or more.
    if not res["total"]["suppressed"]:
        hidden = [r for r in res["breakdown"] if r["suppressed"]]
        rest = res["total"]["n"] - sum(r["n"] for r in res["breakdown"] if not r["suppressed"])
        assert not hidden or rest >= k


@PROPERTY
@given(rounds(), st.integers(1, 3))
def test_linked_breakdowns_leak_nothing(case, per_department):
    """Two breakdowns of the same respondents published together (teams, and departments of
    `per_department` teams each): the attacker combines both tables."""
    k, units, scores = case
    team = np.array([int(u[1:]) for u in units])
    labels = sorted(set(team))
    team_code = np.array([labels.index(t) for t in team])
    dept_of = {g: g // per_department for g in range(len(labels))}
    dept_labels = sorted(set(dept_of.values()))
    dept_code = np.array([dept_labels.index(dept_of[g]) for g in team_code])
    band = privacy.band_index(scores, BANDS)
    table = privacy.protect(k, [team_code, dept_code], band, len(BANDS))

    # The attacker's own picture: cells are team x band; a department is its teams' cells.
    nb = len(BANDS)

    def cells(teams, j=None):
        return [g * nb + b for g in teams for b in range(nb) if j is None or b == j]

    all_teams = range(len(labels))
    figs = [Fig("total", cells(all_teams), table.value(("total",)))]
    figs += [Fig(("band", j), cells(all_teams, j), table.value(("band", j))) for j in range(nb)]
    for b, groups in ((0, {g: [g] for g in all_teams}),
                      (1, {d: [g for g in all_teams if dept_of[g] == dept_labels[d]]
                           for d in range(len(dept_labels))})):
        for g, teams in groups.items():
            figs.append(Fig(("group", b, g), cells(teams), table.value(("group", b, g)), listed=True))
            figs += [Fig(("group_band", b, g, j), cells(teams, j), table.value(("group_band", b, g, j)))
                     for j in range(nb)]
    # Shown figures are true.
    for f in figs:
        if f.value is not None:
            truth = sum(int(((team_code == c // nb) & (band == c % nb)).sum()) for c in f.cells)
            assert f.value == truth, f
    assert leaks(figs, len(labels) * nb, k) == []


def test_the_examples_found_by_an_analyst():
    """Issue 11: U0 n=6 all very low, U1 n=5 none, U2 n=7 with 4 very low: 10 - 6 - 0 gave
    U2's 4. And four teams of 4, 7, 4 and 6, whose margins gave the two small teams' bands."""
    units = np.array(["U0"] * 6 + ["U1"] * 5 + ["U2"] * 7, dtype=object)
    scores = np.array([1.0] * 6 + [3.5] * 5 + [1.0] * 4 + [5.5] * 3)
    res = results(units, scores, scores.reshape(-1, 1), UWES, 5, True)
    figs, n_cells = round_figures(res, CODES)
    assert leaks(figs, n_cells, 5) == []
    u2 = next(r for r in res["breakdown"] if r["unit"] == "U2")
    total_vl = res["total"]["bands"]["very_low"]
    others = [r["bands"]["very_low"] for r in res["breakdown"] if r["unit"] != "U2" and not r["suppressed"]]
    assert u2["bands"]["very_low"] is None
    assert total_vl is None or None in others      # the subtraction no longer closes

    rng = np.random.default_rng(11)
    sizes = {"A": 4, "B": 7, "C": 4, "D": 6}
    units = np.array([u for u, n in sizes.items() for _ in range(n)], dtype=object)
    scores = rng.integers(0, 55, len(units)) / 9
    res = results(units, scores, scores.reshape(-1, 1), UWES, 5, True)
    figs, n_cells = round_figures(res, CODES)
    assert leaks(figs, n_cells, 5) == []
    assert all(r["suppressed"] for r in res["breakdown"] if r["unit"] in ("A", "C"))
