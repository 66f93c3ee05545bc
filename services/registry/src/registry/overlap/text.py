"""Text similarity of project descriptions: character 4-gram TF-IDF, cosine, one index per language.

Why character 4-grams (within words, padded with a space): Finnish is heavily inflected and
compounds freely ("työhyvinvointi", "työhyvinvoinnin", "hyvinvointia"); 4-grams match the shared
stems and compound parts without a stemmer or anything downloaded. Chosen by measurement on a
labelled set of Finnish and Swedish project pairs (tests/registry/overlap_pairs.py; figures in
bench/RESULTS.md, "overlap"): it beat word TF-IDF and Snowball-stemmed word TF-IDF on recall at
the same precision.

The index keeps, per language, an inverted list (CSC-like numpy arrays) over all documents and a
small overlay of documents changed since it was packed; a query scores only the documents that
share a feature with it (np.bincount over their postings). IDF is fixed when the index is packed
(documents added later use the document frequencies known then): it is repacked when the overlay
grows past a share of the whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

LANGS = ("fi", "sv", "en")
N = 4
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_GRAMS: dict[str, tuple[str, ...]] = {}  # word -> its 4-grams (vocabularies are small)
_REPACK_SHARE = 0.05  # overlay bigger than this share of the packed documents: repack
_SMALL = 2000  # documents: below this every query sees an exact IDF
CANDIDATES = 300  # documents scored exactly per query
POSTINGS_BUDGET = 1_500_000  # postings read per query in the candidate step (~10 ms)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def char_grams(text: str) -> Counter:
    """Character 4-grams of each word padded with spaces (a word of 1-2 letters is one gram)."""
    out: Counter = Counter()
    for w in words(text):
        g = _GRAMS.get(w)
        if g is None:
            p = f" {w} "
            g = (p,) if len(p) <= N else tuple(p[i:i + N] for i in range(len(p) - N + 1))
            if len(_GRAMS) < 500_000:
                _GRAMS[w] = g
        out.update(g)
    return out


def word_terms(text: str) -> Counter:
    return Counter(w for w in words(text) if len(w) > 2)


Analyzer = Callable[[str], Counter]


class TextIndex:
    """TF-IDF (sublinear tf, smoothed idf, L2 norm) cosine over one language's documents."""

    def __init__(self, analyzer: Analyzer = char_grams) -> None:
        self.analyzer = analyzer
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, np.int32)
        self.idf = np.zeros(0, np.float32)
        self.raw: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # doc -> (features, log tf)
        self.ndocs_packed = 0
        # Packed postings: feature f's documents are docs[ptr[f]:ptr[f+1]] with weights w[...].
        self.ptr = np.zeros(1, np.int64)
        self.docs = np.zeros(0, np.int32)
        self.w = np.zeros(0, np.float32)
        self.overlay: set[int] = set()  # documents whose packed postings are stale or missing
        self.capacity = 0

    # --- documents ------------------------------------------------------------------------

    def _features(self, text: str, grow: bool) -> tuple[np.ndarray, np.ndarray]:
        counts = self.analyzer(text or "")
        ids, tf = [], []
        for term, c in counts.items():
            f = self.vocab.get(term)
            if f is None:
                if not grow:
                    continue
                f = self.vocab[term] = len(self.vocab)
            ids.append(f)
            tf.append(1.0 + math.log(c))
        return np.asarray(ids, np.int32), np.asarray(tf, np.float32)

    def put(self, doc: int, text: str | None) -> None:
        """Add, replace (or with no text remove) one document; it is scored from the overlay."""
        old = self.raw.pop(doc, None)
        if old is not None and old[0].size:
            np.subtract.at(self.df, old[0], 1)
        self.overlay.add(doc)
        if not text or not text.strip():
            return
        ids, tf = self._features(text, grow=True)
        if len(self.vocab) > self.df.size:
            self.df = np.concatenate([self.df, np.zeros(len(self.vocab) - self.df.size + 1024,
                                                        np.int32)])
        if ids.size:
            np.add.at(self.df, ids, 1)
        self.raw[doc] = (ids, tf)
        self.capacity = max(self.capacity, doc + 1)

    def bulk(self, items: Iterable[tuple[int, str | None]]) -> None:
        for doc, text in items:
            self.put(doc, text)
        self.pack()

    def pack(self) -> None:
        """Fix the IDF and rebuild the postings from every document (the overlay empties)."""
        n = len(self.raw)
        self.ndocs_packed = n
        df = self.df[:len(self.vocab)].astype(np.float32)
        self.idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        if not n:
            self.ptr, self.docs, self.w = np.zeros(len(self.vocab) + 1, np.int64), \
                np.zeros(0, np.int32), np.zeros(0, np.float32)
            self.overlay.clear()
            return
        doc_ids = np.fromiter(self.raw.keys(), np.int32, n)
        feats = [self.raw[d][0] for d in doc_ids.tolist()]
        lens = np.fromiter((f.size for f in feats), np.int64, n)
        f_all = np.concatenate(feats)
        w_all = np.concatenate([self._weights(*self.raw[d]) for d in doc_ids.tolist()])
        d_all = np.repeat(doc_ids, lens)
        order = np.argsort(f_all, kind="stable")
        self.docs, self.w = d_all[order], w_all[order]
        counts = np.bincount(f_all, minlength=len(self.vocab))
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.overlay.clear()

    def _weights(self, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        idf = np.full(ids.size, self._new_idf(), np.float32)
        known = ids < self.idf.size
        idf[known] = self.idf[ids[known]]
        v = tf * idf
        norm = float(np.sqrt(np.dot(v, v))) or 1.0
        return (v / norm).astype(np.float32)

    def _new_idf(self) -> float:
        # A feature first seen after packing: as rare as can be.
        return float(math.log((1.0 + self.ndocs_packed) / 2.0) + 1.0)

    # --- queries --------------------------------------------------------------------------

    def fresh(self) -> None:
        """Repack when the overlay has grown: always while the corpus is small (cheap, and its
        IDF moves most), else past a share of it."""
        if self.overlay and (self.ndocs_packed < _SMALL or
                             len(self.overlay) > _REPACK_SHARE * self.ndocs_packed):
            self.pack()

    def vector(self, doc: int) -> tuple[np.ndarray, np.ndarray] | None:
        raw = self.raw.get(doc)
        if raw is None or not raw[0].size:
            return None
        return raw[0], self._weights(*raw)

    def vector_of(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        ids, tf = self._features(text, grow=False)
        return (ids, self._weights(ids, tf)) if ids.size else None

    def top(self, q: tuple[np.ndarray, np.ndarray], k: int, exclude: int = -1,
            floor: float = 0.0) -> list[tuple[int, float]]:
        """The `k` documents most similar to `q` (cosine >= `floor`), best first.

        Two steps, so a query's cost is bounded whatever the corpus: candidates are scored on
        the query's rarest features, as many as POSTINGS_BUDGET postings allow (np.bincount over
        them); the best CANDIDATES of them, and every document of the overlay, are then scored
        exactly on all features. The very common 4-grams left out of the first step (" työ",
        "sen ") weigh little anyway (low IDF); in a small corpus nothing is left out."""
        ids, qw = q
        cands: set[int] = set()
        inpk = ids < self.ptr.size - 1
        pids, pw = ids[inpk], qw[inpk]
        if pids.size:
            start, lens = self.ptr[pids], self.ptr[pids + 1] - self.ptr[pids]
            # The rarest features first, as many as POSTINGS_BUDGET postings allow.
            order = np.argsort(lens, kind="stable")
            keep = order[np.cumsum(lens[order]) <= max(POSTINGS_BUDGET, int(lens[order[0]]))]
            start, lens, pw = start[keep], lens[keep], pw[keep]
            total = int(lens.sum())
            if total:
                # Positions of every posting of those features, without a Python loop.
                offs = np.repeat(start - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
                pos = offs + np.arange(total)
                partial = np.bincount(self.docs[pos], self.w[pos] * np.repeat(pw, lens))
                if exclude < partial.size:
                    partial[exclude] = 0
                nz = np.flatnonzero(partial)
                if nz.size > CANDIDATES:
                    nz = nz[np.argpartition(-partial[nz], CANDIDATES)[:CANDIDATES]]
                cands.update(nz.tolist())
        cands.update(self.overlay)
        cands.discard(exclude)
        scored = []
        for doc in cands:
            v = self.vector(doc)
            if v is not None:
                s = dot(q, v)
                if s >= floor and s > 0:
                    scored.append((doc, s))
        scored.sort(key=lambda t: (-t[1], t[0]))
        return scored[:k]


def dot(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    common, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return float(np.dot(a[1][ia], b[1][ib])) if common.size else 0.0


def similarity(a: str, b: str, analyzer: Analyzer = char_grams, corpus: Iterable[str] = ()) -> float:
    """Cosine of two texts with IDF from `corpus` + the two (for tests and the measurement)."""
    idx = TextIndex(analyzer)
    texts = [a, b, *corpus]
    idx.bulk(enumerate(texts))
    va, vb = idx.vector(0), idx.vector(1)
    return 0.0 if va is None or vb is None else dot(va, vb)
