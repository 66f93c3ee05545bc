"""The project index's multi-valued column (index_columns.Multi: a grid of value codes with the
overflow of wide rows aside) answers filters and facet counts as a plain row -> values map does,
for any sequence of rewrites, rows up to and past the grid's width included."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.projects.index_columns import Multi, Order

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
    counted = multi.vocab.listed(multi.count(np.flatnonzero(mask), mask))
    assert counted == sorted(want.items(), key=lambda vc: (-vc[1], vc[0]))
    assert len(multi.cols) <= Multi.WIDE


@settings(max_examples=150, deadline=None)
@given(start=st.lists(st.sampled_from(VALUES), max_size=40),
       steps=st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 60), st.sampled_from(VALUES)),
                                         max_size=5), st.integers(0, 4)), max_size=8))
def test_order_kept_up_to_date_equals_a_full_sort(start, steps):
    """Order.ranks after rows change value or are added: as a stable sort of the column."""
    col = np.array(start + [None] * 80, object)
    n = len(start)
    order = Order()
    order.ranks(col, n)
    for changes, added in steps:
        for row, value in changes:
            if row < n:
                col[row] = value
                order.moved.add(row)
        for i in range(added):
            col[n + i] = VALUES[(n + i) % len(VALUES)]
        n += added
        want = np.empty(n, np.int64)
        want[sorted(range(n), key=lambda r: (col[r], r))] = np.arange(n)
        assert order.ranks(col, n).tolist() == want.tolist()
