"""The text index (registry/projects/text_index.py) matches and ranks as PostgreSQL does: for
random documents and random user queries, the rows it matches are exactly those `@@` matches and
its ranks are `ts_rank`'s, before and after rows change (the overlay) and after the overlay is
merged. PostgreSQL itself is the oracle (a temporary table on the machine's server)."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from registry.projects import tsquery
from registry.projects.search import CONFIGS
from registry.projects.text_index import TextIndex, fetch_postings, query_keys
from shared.db import create_engine
from tests.support import databases

PG_URL = databases.PG_BASE.replace("postgresql://", "postgresql+asyncpg://") + "/postgres"
# Words that stem together, stop words, hyphenated and apostrophe words, numbers, three languages.
WORDS = ["työhyvinvointi", "työhyvinvoinnin", "tuottavuus", "tuottavuutta", "hanke", "hankkeen",
         "ja", "on", "pk-yritykset", "oulu", "tampere", "välbefinnande", "och", "arbete",
         "digital", "digitalisation", "work", "working", "the", "of", "o'neil", "2024", "s399995",
         "ikäjohtaminen", "age", "management", "kehittäminen", "utveckling"]
doc = st.tuples(*[st.lists(st.sampled_from(WORDS), max_size=12) for _ in range(3)])
long_doc = st.tuples(*[st.lists(st.sampled_from(WORDS), min_size=40, max_size=90)
                       for _ in range(3)])
docs = st.lists(st.one_of(doc, doc, doc, long_doc), min_size=1, max_size=25)
query = st.tuples(
    st.lists(st.tuples(st.sampled_from(["", "-", "or ", '"']), st.sampled_from(WORDS),
                       st.sampled_from(WORDS)), min_size=1, max_size=4),
    st.sampled_from([None, "fi", "sv", "en"]))


def _user_text(words) -> str:
    out = " ".join(f"{op}{w}" if op != '"' else f'"{w} {w2}"' for op, w, w2 in words)
    return out[3:] if out.startswith("or ") else out


def _tsquery(lang: str | None) -> str:
    parts = [f"websearch_to_tsquery('{CONFIGS[la]}', :q)" for la in ([lang] if lang else CONFIGS)]
    return "(" + " || ".join(parts) + ")"


async def _insert(conn, rows: dict[int, tuple]) -> None:
    if not rows:
        return
    await conn.execute(text(
        "INSERT INTO tdocs (n, id, fts_vector) VALUES (:n, :id, "
        "to_tsvector('finnish', :fi) || to_tsvector('swedish', :sv) || to_tsvector('english', :en))"),
        [{"n": n, "id": f"p{n}", "fi": " ".join(fi), "sv": " ".join(sv), "en": " ".join(en)}
         for n, (fi, sv, en) in rows.items()])


async def _indexed(conn, documents, size: int | None = None) -> TextIndex:
    """The documents in a temporary table (rows 0..), and a text index built from it."""
    await conn.execute(text(
        "CREATE TEMP TABLE tdocs (n bigint PRIMARY KEY, id text, fts_vector tsvector)"))
    await _insert(conn, dict(enumerate(documents)))
    index = TextIndex()
    index.build(*await fetch_postings(conn, "true", {}, table="tdocs"),
                len(documents) if size is None else size)
    return index


async def _compare(conn, index: TextIndex, size: int, queries) -> int:
    """Every readable query answered alike; the number of queries compared. (A negation
    matches rows that do not exist too: the project index's own "present" column drops them.)"""
    present = np.zeros(size, bool)
    present[(await conn.execute(text("SELECT n FROM tdocs"))).scalars().all()] = True
    compared = 0
    for words, lang in queries:
        q = _user_text(words)
        expr = _tsquery(lang)
        tree = tsquery.parse((await conn.execute(text(f"SELECT {expr}::text"), {"q": q})).scalar())
        want = dict((await conn.execute(text(
            f"SELECT n, ts_rank(fts_vector, {expr}) FROM tdocs WHERE fts_vector @@ {expr}"),
            {"q": q})).all())
        if tree is None:
            assert want == {}, q
            continue
        if not tsquery.readable_here(tree):
            continue
        keys = await query_keys(conn, tree)
        got = np.flatnonzero(index.match(tree, keys, size) & present)
        assert sorted(want) == got.tolist(), (q, lang, str(tree))
        ranks = index.rank(tree, keys, got, size)
        assert ranks.dtype == np.float32
        # Exactly: the same float4 steps as tsrank.c (the SQL path's ranks, compared by the
        # project index's own test to 1e-6, are these).
        assert ranks.tolist() == [want[int(r)] for r in got], (q, lang)
        compared += 1
    return compared


async def _check(documents, changes, deleted, queries) -> None:
    engine = create_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            size = len(documents) + len(changes)
            index = await _indexed(conn, documents, size)
            await _compare(conn, index, size, queries)
            # Rows rewritten, new and deleted: the overlay.
            changed = {i % len(documents) if i % 2 else len(documents) + i: d
                       for i, d in enumerate(changes)}
            gone = [n for n in deleted if n < len(documents) and n not in changed]
            await conn.execute(text("DELETE FROM tdocs WHERE n = ANY(:ns)"),
                               {"ns": [*changed, *gone]})
            await _insert(conn, changed)
            ids = [f"p{n}" for n in [*changed, *gone]]
            ns, keys, npos, pos = await fetch_postings(conn, "s.id = ANY(:ids)", {"ids": ids},
                                                       table="tdocs")
            starts = (np.cumsum(npos) - npos).astype(np.int64)
            index.replace([*changed, *gone], [
                (int(n), (int(k[0]), int(k[1])), pos[s:s + c])
                for n, k, s, c in zip(ns, keys, starts, npos, strict=True)], size)
            await _compare(conn, index, size, queries)
            index._merge(size)  # as when the overlay outgrows its share
            assert not index.overlay and not index.stale.any()
            await _compare(conn, index, size, queries)
    finally:
        await engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=docs, changes=st.lists(doc, max_size=6),
       deleted=st.lists(st.integers(0, 24), max_size=4), queries=st.lists(query, min_size=1,
                                                                         max_size=6))
def test_text_index_matches_and_ranks_as_postgresql(documents, changes, deleted, queries):
    asyncio.run(_check(documents, changes, deleted, queries))


def test_known_queries_are_compared_not_skipped():
    """The readable kinds the search mix uses: one word in any language (OR of three lexemes),
    two words in one language (AND: calc_rank_and over positions), a negated word; and a row
    with no words at all, which only negations match (ts_rank gives it 0, not calc_rank_and's
    1e-20 for rows without a pair)."""
    documents = [(["työhyvinvointi", "ja", "pk-yritykset"], ["arbete"], ["digital", "work", "age"]),
                 (["tuottavuus"], [], ["work"] + ["age"] * 60 + ["digital"]),
                 (["hanke"] * 5, ["välbefinnande"], ["working", "digital", "working"]),
                 ([], [], []), (["ja"], ["och"], ["the"]),
                 ([], [], ["work", "the", "digital"]), ([], [], ["work", "digital", "work"])]
    queries = [([("", "työhyvinvointi", "")], None), ([("", "digital", ""), ("", "work", "")], "en"),
               ([("", "tuottavuus", ""), ("-", "työhyvinvointi", "")], "fi"),
               ([("", "hanke", ""), ("or ", "arbete", "")], None),
               ([("-", "hanke", ""), ("-", "oulu", "")], "fi"),
               ([("", "pk-yritykset", "")], "fi"), ([('"', "digital", "work")], "en"),
               ([('"', "work", "the")], None),
               ([('"', "work the", "digital")], "en")]  # 'work' <2> 'digit': a stop word between

    async def run() -> None:
        engine = create_engine(PG_URL)
        try:
            async with engine.connect() as conn:
                index = await _indexed(conn, documents)
                assert await _compare(conn, index, len(documents), queries) == len(queries)
        finally:
            await engine.dispose()
    asyncio.run(run())


HOSTILE = ["'", "''", "\\", "a'b", "!", "a <-> b", "a:*", '"unclosed', "-", "or", "a or or b",
           "(((", "a & | b", "x" * 300, "pk-yritykset", "ÅÄÖ åäö", "🙂 työ", "\u200b", "1 2 3",
           "-työhyvinvointi", "ja", "a:B", "o'neil's", "back\\slash", '"digital work"',
           "työ-hyvin-vointi -ja or ikä"]


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)),
    min_size=1, max_size=5))
def test_any_user_text_is_read_or_left_to_postgresql(texts):
    """Whatever a client types, PostgreSQL's reading of it either parses here and matches as
    `@@` does, or is left to PostgreSQL (tsquery.Unreadable / not readable_here): never an error."""
    documents = [(["työhyvinvointi", "pk-yritykset"], ["arbete"], ["digital", "work"]),
                 (["ikäjohtaminen"], [], ["o'neil", "back", "slash"]), ([], [], [])]

    async def run() -> None:
        engine = create_engine(PG_URL)
        try:
            async with engine.connect() as conn:
                index = await _indexed(conn, documents)
                for q in texts:
                    for lang in (None, "fi", "en"):
                        printed = (await conn.execute(text(f"SELECT {_tsquery(lang)}::text"),
                                                      {"q": q})).scalar()
                        try:
                            tree = tsquery.parse(printed)
                        except tsquery.Unreadable:
                            continue
                        if tree is None or not tsquery.readable_here(tree):
                            continue
                        want = sorted((await conn.execute(text(
                            f"SELECT n FROM tdocs WHERE fts_vector @@ {_tsquery(lang)}"),
                            {"q": q})).scalars().all())
                        got = index.match(tree, await query_keys(conn, tree), len(documents))
                        assert np.flatnonzero(got).tolist() == want, (q, lang, printed)
        finally:
            await engine.dispose()
    asyncio.run(run())
