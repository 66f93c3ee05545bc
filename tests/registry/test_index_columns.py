"""The project index's multi-valued column (index_columns.Multi: a grid of value codes with the
overflow of wide rows aside) answers filters and facet counts as a plain row -> values map does,
for any sequence of rewrites, rows up to and past the grid's width included."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.projects.index_columns import Multi

VALUES = [f"v{i}" for i in range(12)]
rewrite = st.lists(st.tuples(st.integers(0, 29), st.lists(st.sampled_from(VALUES), max_size=11)),
                   min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(rewrite, min_size=1, max_size=8), probe=st.lists(st.sampled_from(VALUES),
                                                                        max_size=3),
       chosen=st.lists(st.booleans(), min_size=30, max_size=30))
def test_multi_answers_as_a_map_of_rows_to_values(steps, probe, chosen):
    multi, model = Multi(), {}
    multi.grow(30)
    for step in steps:
        rows = sorted({r for r, _ in step})
        latest = dict(step)  # a row rewritten twice in one step keeps its last values
        multi.replace(np.array(rows), [(r, v) for r in rows for v in latest[r]])
        model.update({r: list(latest[r]) for r in rows})
    mask = np.array(chosen)
    want_rows = [r for r in range(30) if set(model.get(r, ())) & set(probe)]
    assert np.flatnonzero(multi.rows_with(probe, 30)).tolist() == want_rows
    want = Counter(v for r in range(30) if mask[r] for v in model.get(r, ()))
    assert dict(multi.count(np.flatnonzero(mask), mask)) == dict(want)
    assert multi.grid.shape[1] <= Multi.WIDE
