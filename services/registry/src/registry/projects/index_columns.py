"""Column helpers of the in-memory project index (index.py): value vocabularies, id pairs,
masks, and timestamps and amounts as integers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Vocab:
    """Values of one column as small integer codes (0 is None)."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {None: 0}
        self.values: list[Any] = [None]

    def code(self, value: Any) -> int:
        c = self.codes.get(value)
        if c is None:
            c = self.codes[value] = len(self.values)
            self.values.append(value)
        return c

    def known(self, values: Iterable[Any]) -> np.ndarray:
        return np.array([self.codes[v] for v in values if v in self.codes], dtype=np.int32)


class Multi:
    """A multi-valued column as a grid of value codes, a row each (0: no value), as wide as the
    widest row up to WIDE; a wider row keeps its other values in `more`.

    Why a grid: counting a facet over the ~225,000 rows a broad word matches at 1.5M projects
    gathers their few cells (~2 ms) where (row, value) pairs cost a pass over all of them (16 ms)."""

    WIDE = 8

    def __init__(self) -> None:
        self.vocab = Vocab()
        self.grid = np.zeros((0, 1), np.int32)
        self.more: dict[int, list[int]] = {}

    def grow(self, size: int) -> None:
        if size > len(self.grid):
            grid = np.zeros((size, self.grid.shape[1]), np.int32)
            grid[:len(self.grid)] = self.grid
            self.grid = grid

    def replace(self, rows: np.ndarray, pairs: list[tuple[int, Any]]) -> None:
        """`rows` now have exactly the values in `pairs` (row, value)."""
        rows = np.asarray(rows, np.int64)
        if len(rows):
            self.grid[rows] = 0
            for r in rows[np.isin(rows, np.fromiter(self.more, np.int64, len(self.more)))] \
                    if self.more else ():
                del self.more[int(r)]
        if not pairs:
            return
        row = np.fromiter((r for r, _ in pairs), np.int64, len(pairs))
        val = np.fromiter((self.vocab.code(v) for _, v in pairs), np.int32, len(pairs))
        order = np.argsort(row, kind="stable")
        row, val = row[order], val[order]
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        place = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))
        wide = min(int(place.max()) + 1, self.WIDE)
        if wide > self.grid.shape[1]:
            grid = np.zeros((len(self.grid), wide), np.int32)
            grid[:, :self.grid.shape[1]] = self.grid
            self.grid = grid
        fits = place < self.grid.shape[1]
        self.grid[row[fits], place[fits]] = val[fits]
        for r, v in zip(row[~fits].tolist(), val[~fits].tolist(), strict=True):
            self.more.setdefault(r, []).append(v)

    def rows_with(self, values: Sequence[Any], size: int) -> np.ndarray:
        """Rows having any of `values`."""
        codes = self.vocab.known(values)
        if not len(codes):
            return np.zeros(size, bool)
        out = np.isin(self.grid[:size], codes).any(axis=1)
        for r, more in self.more.items():
            if r < size and not out[r] and np.isin(more, codes).any():
                out[r] = True
        return out

    def count(self, rows: np.ndarray, mask: np.ndarray) -> list[tuple[Any, int]]:
        """Values by count among `rows` (`mask`: the same rows as a mask)."""
        counts = np.bincount(self.grid[rows].ravel(), minlength=len(self.vocab.values))
        counts[0] = 0
        for r, more in self.more.items():
            if mask[r]:
                np.add.at(counts, more, 1)
        return [(self.vocab.values[c], int(counts[c])) for c in np.flatnonzero(counts)]


def all_of(conds: dict[str, np.ndarray], n: int, skip: str | None = None) -> np.ndarray:
    mask = np.ones(n, bool)
    for name, cond in conds.items():
        if name != skip:
            mask &= cond
    return mask


def micros(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def cents(amount: Decimal, up: bool) -> int:
    cents = Decimal(amount) * 100
    whole = int(cents)  # toward zero; amounts are >= 0
    return whole + 1 if up and cents != whole else whole
