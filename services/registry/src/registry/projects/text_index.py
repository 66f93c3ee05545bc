"""Full-text matching and ranking of the project index in the process (PostgreSQL).

Why: at 1,500,000 projects a broad word matches ~225,000 rows, and PostgreSQL spent ~700 ms a
search fetching and ranking each of them (ts_rank reads every matched row's tsvector). Here the
match is a few posting lists and the rank a sum over them.

PostgreSQL stays the authority on words: the lexemes come from the search table's stored
`fts_vector` and the query from `websearch_to_tsquery` (its text form, read by tsquery.py), so
stemming, stop words and configurations are PostgreSQL's. The rank is `ts_rank(vector, query)`
computed as PostgreSQL's tsrank.c does, in its float4 steps (calc_rank_or, calc_rank_and), so the
index answers exactly as the SQL path (tests/registry/test_text_index.py compares them on random
texts and queries). Prefix and weight-restricted queries, and phrases other than a chain of
words, are left to PostgreSQL.

Layout: postings grouped by term (terms ordered by a 64-bit hash of the lexeme, a second hash
checks a hit; both PostgreSQL's `hashtextextended`, asked for the query's lexemes too), each
with its row, its OR-rank share and its positions (a 128-bit key: two lexemes sharing one are
not expected). Rows changed since the build are "stale" there and their postings kept in a small
overlay, merged in when it grows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from registry.projects.tsquery import Node, operands

WEIGHTS = np.array([0.1, 0.2, 0.4, 1.0], np.float32)  # ts_rank's defaults, by weight D..A
_WEIGHT_CODE = np.zeros(256, np.uint16)
_WEIGHT_CODE[[ord("A"), ord("B"), ord("C"), ord("D")]] = [3, 2, 1, 0]
_POS_BITS = 15  # (row, position) as one integer; positions are below 2**14
_MERGE_SHARE = 0.05  # overlay rows beyond this share of the index (and 5,000): merge


def or_shares(npos: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Each posting's term in calc_rank_or, before its division by 1.64493406685:
    wjm + resj - wjm / (jm+1)^2 over its positions' weights, in float4 as C computes it."""
    n = len(npos)
    start = (np.cumsum(npos) - npos).astype(np.int64)
    weight = WEIGHTS[pos >> 14] if len(pos) else np.zeros(0, np.float32)
    resj = np.zeros(n, np.float32)
    wjm = np.full(n, -1.0, np.float32)
    jm = np.zeros(n, np.float32)
    active = np.arange(n)
    j = 0
    while len(active := active[npos[active] > j]):
        w = weight[start[active] + j]
        resj[active] = resj[active] + w / np.float32((j + 1) * (j + 1))
        better = w > wjm[active]
        wjm[active[better]] = w[better]
        jm[active[better]] = j
        j += 1
    return (wjm + resj) - wjm / ((jm + 1) * (jm + 1))


def word_distance(dist: np.ndarray) -> np.ndarray:
    """tsrank.c's word_distance: 1 / (1.005 + 0.05 e^(d/1.5 - 2)) as float4, tiny past 100."""
    out = (1.0 / (1.005 + 0.05 * np.exp(dist.astype(np.float32).astype(np.float64) / 1.5 - 2))
           ).astype(np.float32)
    out[dist > 100] = np.float32(1e-30)
    return out


class Postings:
    """One term's postings among some rows: dense per row of `rows` (npos 0: absent)."""

    def __init__(self, size: int) -> None:
        self.npos = np.zeros(size, np.int64)
        self.start = np.zeros(size, np.int64)
        self.share = np.zeros(size, np.float32)
        self.pos = np.zeros(0, np.uint16)


class TextIndex:
    def __init__(self) -> None:
        self.h1 = np.zeros(0, np.int64)  # per term, ascending: the first half of its key
        self.h2 = np.zeros(0, np.int64)
        self.t_off = np.zeros(1, np.int64)  # term -> its postings [t_off[t], t_off[t+1])
        self.p_off = np.zeros(1, np.int64)  # term -> its postings' positions from p_off[t]
        self.rows = np.zeros(0, np.int32)
        self.share = np.zeros(0, np.float32)
        self.npos = np.zeros(0, np.uint16)
        self.pos = np.zeros(0, np.uint16)  # PostgreSQL's WordEntryPos: weight << 14 | position
        self.stale = np.zeros(0, bool)  # per row: its base postings no longer hold
        self.has_terms = np.zeros(0, bool)  # per row: a non-empty vector
        # Rows changed since the build: key -> {row: (share, positions)}, and row -> keys.
        self.overlay: dict[tuple[int, int], dict[int, tuple[np.float32, np.ndarray]]] = {}
        self.overlay_rows: dict[int, list[tuple[int, int]]] = {}

    # --- building and keeping ----------------------------------------------------------------

    def grow(self, size: int) -> None:
        if size > len(self.stale):
            for name in ("stale", "has_terms"):
                old = getattr(self, name)
                arr = np.zeros(size, bool)
                arr[:len(old)] = old
                setattr(self, name, arr)

    def build(self, rows: np.ndarray, keys: np.ndarray, npos: np.ndarray, pos: np.ndarray,
              size: int) -> None:
        """The base from every posting: its row, its term key (n x 2), its number of positions;
        the positions flat, in the postings' order."""
        npos = npos.astype(np.uint16)
        starts = np.zeros(len(npos) + 1, np.int64)
        np.cumsum(npos, out=starts[1:])
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        k = keys[order]
        first = np.ones(len(order), bool)
        first[1:] = (k[1:, 0] != k[:-1, 0]) | (k[1:, 1] != k[:-1, 1])
        self.h1, self.h2 = k[first, 0].copy(), k[first, 1].copy()
        self.t_off = np.append(np.flatnonzero(first), len(order)).astype(np.int64)
        self.rows = rows[order].astype(np.int32)
        self.npos = npos[order]
        self.pos = pos[np.repeat(starts[:-1][order], self.npos) + _ramp(self.npos)] \
            .astype(np.uint16)
        self.p_off = np.zeros(len(self.h1) + 1, np.int64)
        if len(self.npos):
            np.cumsum(np.add.reduceat(self.npos.astype(np.int64), self.t_off[:-1]),
                      out=self.p_off[1:])
        self.share = or_shares(self.npos, self.pos)
        self.stale = np.zeros(size, bool)
        self.has_terms = np.zeros(size, bool)
        self.has_terms[self.rows] = True
        self.overlay.clear()
        self.overlay_rows.clear()

    def replace(self, changed: Iterable[int], postings: list[tuple[int, tuple[int, int], np.ndarray]],
                size: int) -> None:
        """Rows rewritten or deleted: their postings are now `postings` (row, key, positions)."""
        self.grow(size)
        for row in changed:
            for key in self.overlay_rows.pop(row, ()):
                self.overlay[key].pop(row, None)
            self.stale[row] = True
            self.has_terms[row] = False
        if postings:
            shares = or_shares(np.array([len(p) for _, _, p in postings]),
                               np.concatenate([p for _, _, p in postings]).astype(np.uint16))
            for (row, key, positions), share in zip(postings, shares, strict=True):
                self.overlay.setdefault(key, {})[row] = (share, positions.astype(np.uint16))
                self.overlay_rows.setdefault(row, []).append(key)
                self.has_terms[row] = True
        if len(self.overlay_rows) > max(5000, _MERGE_SHARE * size):
            self._merge(size)

    def _merge(self, size: int) -> None:
        """Fold the overlay into the base (no database trip: every posting is here)."""
        keep = ~self.stale[self.rows]
        term = np.repeat(np.arange(len(self.h1)), np.diff(self.t_off))[keep]
        extra = [(row, key, p) for key, by_row in self.overlay.items()
                 for row, (_, p) in by_row.items()]
        has_terms = self.has_terms
        self.build(
            np.concatenate([self.rows[keep], np.array([r for r, _, _ in extra], np.int32)]),
            np.concatenate([np.stack([self.h1[term], self.h2[term]], 1),
                            np.array([k for _, k, _ in extra], np.int64).reshape(-1, 2)]),
            np.concatenate([self.npos[keep], np.array([len(p) for _, _, p in extra], np.uint16)]),
            np.concatenate([self.pos[np.repeat(keep, self.npos)], *[p for _, _, p in extra]]),
            size)
        self.has_terms = has_terms

    def _term(self, key: tuple[int, int]) -> int | None:
        lo = int(np.searchsorted(self.h1, key[0]))
        hi = int(np.searchsorted(self.h1, key[0], side="right"))
        hit = np.flatnonzero(self.h2[lo:hi] == key[1])
        return lo + int(hit[0]) if len(hit) else None

    def _rows_of(self, key: tuple[int, int], n: int) -> np.ndarray:
        out = np.zeros(n, bool)
        t = self._term(key)
        if t is not None:
            rows = self.rows[self.t_off[t]:self.t_off[t + 1]]
            out[rows[~self.stale[rows]]] = True
        for row in self.overlay.get(key, ()):
            out[row] = True
        return out

    def match(self, node: Node, keys: dict[str, tuple[int, int]], n: int) -> np.ndarray:
        """Rows whose vector matches the tree (`@@`), as a mask of the index's n rows; `keys`:
        each lexeme's key (query_keys)."""
        if node.op == "val":
            return self._rows_of(keys[node.lexeme], n)
        if node.op == "not":
            return ~self.match(node.args[0], keys, n)
        if node.op == "phrase":
            out = np.zeros(n, bool)
            out[self._phrase(node, keys) >> _POS_BITS] = True
            return out
        left, right = (self.match(a, keys, n) for a in node.args)
        return left & right if node.op == "and" else left | right

    def _positions(self, key: tuple[int, int]) -> np.ndarray:
        """Every (row, position) of a term, as row << _POS_BITS | position."""
        parts = []
        t = self._term(key)
        if t is not None:
            a, b = self.t_off[t], self.t_off[t + 1]
            seg = self.rows[a:b].astype(np.int64)
            npos = self.npos[a:b].astype(np.int64)
            keep = ~self.stale[seg]
            start = (self.p_off[t] + np.cumsum(npos) - npos)[keep]
            src = np.repeat(start, npos[keep]) + _ramp(npos[keep])
            parts.append(np.repeat(seg[keep], npos[keep]) << _POS_BITS
                         | (self.pos[src] & 0x3FFF).astype(np.int64))
        for row, (_, p) in self.overlay.get(key, {}).items():
            parts.append(np.int64(row) << _POS_BITS | (p & 0x3FFF).astype(np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _phrase(self, node: Node, keys: dict[str, tuple[int, int]]) -> np.ndarray:
        """A left-deep phrase `a <N> b <M> c`: its matches as (row, position of its last word),
        as PostgreSQL's phrase operator puts them (b exactly N after a, c M after that b)."""
        left, right = node.args
        before = self._phrase(left, keys) if left.op == "phrase" else \
            self._positions(keys[left.lexeme])
        after = self._positions(keys[right.lexeme])
        return after[np.isin(after - node.distance, before)]

    def postings(self, key: tuple[int, int], rows: np.ndarray, where: np.ndarray,
                 positions: bool = True) -> Postings:
        """A term's postings among `rows` (`where`: each row's place in `rows`, -1 if not);
        their positions only if asked (the OR rank needs the shares alone)."""
        out = Postings(len(rows))
        parts = []
        t = self._term(key)
        if t is not None:
            a, b = self.t_off[t], self.t_off[t + 1]
            seg = self.rows[a:b]
            at = where[seg]
            hit = np.flatnonzero((at >= 0) & ~self.stale[seg])
            out.share[at[hit]] = self.share[a:b][hit]
            if positions:
                npos = self.npos[a:b].astype(np.int64)
                start = self.p_off[t] + np.cumsum(npos) - npos
                out.npos[at[hit]] = npos[hit]
                parts.append((at[hit], start[hit], npos[hit], self.pos))
        extra = [(row, share, p) for row, (share, p) in self.overlay.get(key, {}).items()
                 if where[row] >= 0]
        if not positions:
            for row, share, _ in extra:
                out.share[where[row]] = share
            return out
        # One positions array: the base's hits then the overlay's, each row pointing in.
        flat, offset = [], 0
        for at, start, npos, pos in parts:
            src = np.repeat(start, npos) + _ramp(npos)
            flat.append(pos[src])
            out.start[at] = offset + np.cumsum(npos) - npos
            offset += int(npos.sum())
        for row, share, p in extra:
            at = where[row]
            out.npos[at], out.share[at], out.start[at] = len(p), share, offset
            flat.append(p)
            offset += len(p)
        out.pos = np.concatenate(flat) if flat else np.zeros(0, np.uint16)
        return out

    def rank(self, node: Node, keys: dict[str, tuple[int, int]], rows: np.ndarray, n: int
             ) -> np.ndarray:
        """ts_rank(vector, query) of each of `rows` (rows that match the tree), float4 values."""
        items = operands(node)
        where = np.full(n, -1, np.int32)
        where[rows] = np.arange(len(rows))
        pairs = node.op in ("and", "phrase") and len(items) >= 2
        lists = [self.postings(keys[lex], rows, where, positions=pairs) for lex in items]
        if pairs:
            res = _rank_and(lists, len(rows))
        else:
            res = np.zeros(len(rows), np.float32)
            for p in lists:
                res = (res.astype(np.float64) + p.share.astype(np.float64) / 1.64493406685
                       ).astype(np.float32)
            res = res / np.float32(len(items))
        res[res < 0] = np.float32(1e-20)
        res[~self.has_terms[rows]] = 0  # calc_rank: an empty vector ranks 0
        return res


def _rank_and(lists: list[Postings], size: int) -> np.ndarray:
    """calc_rank_and: over every pair of query items (i, k < i) present in a row, every pair of
    their positions at a distance: res = 1 - (1 - res)(1 - curw), in the C loop's order."""
    docs, values = [], []
    for i in range(len(lists)):
        for k in range(i):
            a, b = lists[i], lists[k]
            d = np.flatnonzero((a.npos > 0) & (b.npos > 0))
            if not len(d):
                continue
            na, nb = a.npos[d], b.npos[d]
            per = na * nb
            doc = np.repeat(d, per)
            t = _ramp(per)
            nbr = np.repeat(nb, per)
            pa = a.pos[np.repeat(a.start[d], per) + t // nbr]
            pb = b.pos[np.repeat(b.start[d], per) + t % nbr]
            dist = np.abs((pa & 0x3FFF).astype(np.int64) - (pb & 0x3FFF).astype(np.int64))
            keep = dist != 0
            doc, pa, pb, dist = doc[keep], pa[keep], pb[keep], dist[keep]
            prod = (WEIGHTS[pa >> 14] * WEIGHTS[pb >> 14]) * word_distance(dist)
            docs.append(doc)
            values.append(np.sqrt(prod.astype(np.float64)).astype(np.float32))
    res = np.full(size, -1.0, np.float32)
    if not docs:
        return res
    doc = np.concatenate(docs)
    curw = np.concatenate(values)
    if len(docs) > 1:  # one pair of items: already by row
        order = np.argsort(doc, kind="stable")  # each row's values in the loop's order
        doc, curw = doc[order], curw[order]
    counts = np.bincount(doc, minlength=size)
    if counts.max() == 1:  # the common case: one pair of positions a row
        res[doc] = curw
        return res
    step = _ramp(counts[counts > 0])  # a value's place in its row's sequence
    steps = int(step.max()) + 1 if len(step) else 0
    if steps <= 16:  # few steps (short texts): a pass each beats sorting by step
        parts = [np.flatnonzero(step == s) for s in range(steps)]
    else:
        by_step = np.argsort(step, kind="stable")
        bounds = np.searchsorted(step[by_step], np.arange(steps + 1))
        parts = [by_step[bounds[s]:bounds[s + 1]] for s in range(steps)]
    res[doc[parts[0]]] = curw[parts[0]]
    for part in parts[1:]:
        d, w = doc[part], curw[part]
        res[d] = (1.0 - (1.0 - res[d].astype(np.float64)) * (1.0 - w.astype(np.float64))
                  ).astype(np.float32)
    return res

def _ramp(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    return np.arange(total) - np.repeat(ends - counts, counts)


# Every posting of the chosen search rows: row number, key halves, positions and weights, as
# arrays in one row (a row per posting would cost more to build in Python than to find).
POSTINGS_SQL = """
SELECT array_agg(x.n), array_agg(x.h1), array_agg(x.h2), array_agg(x.k),
       string_agg(x.p, ','), string_agg(x.w, '')
FROM (SELECT s.n, hashtextextended(u.lexeme, 0) AS h1, hashtextextended(u.lexeme, 1) AS h2,
             coalesce(cardinality(u.positions), 0) AS k,
             array_to_string(u.positions, ',') AS p, array_to_string(u.weights, '') AS w
      FROM {table} s, unnest(s.fts_vector) u
      WHERE {where}) x
"""
# The query's lexemes keyed the same way.
KEYS_SQL = """
SELECT x, hashtextextended(x, 0), hashtextextended(x, 1) FROM unnest(CAST(:lexemes AS text[])) x
"""


async def query_keys(session, node: Node) -> dict[str, tuple[int, int]]:
    from sqlalchemy import text

    rows = (await session.execute(text(KEYS_SQL), {"lexemes": operands(node)})).all()
    return {lex: (h1, h2) for lex, h1, h2 in rows}


async def fetch_postings(session, where: str, params: dict, table: str = "fts_project_search"
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(search row numbers n, keys (n x 2), numbers of positions, WordEntryPos flat)."""
    from sqlalchemy import text

    ns, h1, h2, k, p, w = (await session.execute(
        text(POSTINGS_SQL.format(table=table, where=where)), params)).one()
    if not ns:
        return (np.zeros(0, np.int64), np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                np.zeros(0, np.uint16))
    positions = np.fromstring(p, dtype=np.int64, sep=",") if p else np.zeros(0, np.int64)
    weights = _WEIGHT_CODE[np.frombuffer(w.encode(), np.uint8)] if w else np.zeros(0, np.uint16)
    pos = (weights.astype(np.int64) << 14 | positions).astype(np.uint16)
    return (np.array(ns, np.int64), np.stack([np.array(h1, np.int64), np.array(h2, np.int64)], 1),
            np.array(k, np.int64), pos)
