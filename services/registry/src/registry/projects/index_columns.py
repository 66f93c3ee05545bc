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


class Pairs:
    """A multi-valued column as (row, value code) pairs; a row's pairs are dropped and re-added
    when it changes, and the dead ones swept out once they are half the array."""

    def __init__(self) -> None:
        self.vocab = Vocab()
        self.row = np.zeros(0, np.int32)
        self.val = np.zeros(0, np.int32)
        self.live = np.zeros(0, bool)

    def replace(self, rows: np.ndarray, pairs: list[tuple[int, Any]]) -> None:
        if len(rows) and len(self.row):
            self.live &= ~np.isin(self.row, rows)
        if pairs:
            self.row = np.concatenate([self.row, np.fromiter((r for r, _ in pairs), np.int32, len(pairs))])
            self.val = np.concatenate([self.val, np.fromiter(
                (self.vocab.code(v) for _, v in pairs), np.int32, len(pairs))])
            self.live = np.concatenate([self.live, np.ones(len(pairs), bool)])
        if len(self.live) > 1024 and self.live.sum() * 2 < len(self.live):
            self.row, self.val = self.row[self.live], self.val[self.live]
            self.live = np.ones(len(self.row), bool)

    def rows_with(self, values: Sequence[Any], size: int) -> np.ndarray:
        """Rows having any of `values`."""
        out = np.zeros(size, bool)
        codes = self.vocab.known(values)
        if len(codes):
            out[self.row[self.live & np.isin(self.val, codes)]] = True
        return out

    def count(self, mask: np.ndarray) -> list[tuple[Any, int]]:
        sel = self.live & mask[self.row]
        counts = np.bincount(self.val[sel], minlength=len(self.vocab.values))
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
