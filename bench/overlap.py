"""Overlap: which text-similarity method (labelled set), and how fast similar-project queries are.

`python -m bench.overlap [--projects 100000] [--queries 200] [--corpus varied,demo] [--methods]`

1. `--methods`: precision and recall on the labelled Finnish/Swedish pairs of
   tests/registry/overlap_pairs.py at several thresholds, for character 3/4/5-gram TF-IDF, word
   TF-IDF and Snowball-stemmed word TF-IDF (if `snowballstemmer` can be imported; it is not a
   dependency: install it beside the venv for this run, e.g. `uv pip install --target DIR
   snowballstemmer` and PYTHONPATH=DIR).
2. Speed: N synthetic projects (fi name + goals + starting points) in the similarity index the
   service uses (registry.overlap.index.SimilarityIndex, fed in-process without a database), then
   `--queries` similar-project queries (text neighbours + scoring of the reasons) for random
   projects: wall and CPU time per query (p50, p95, max), build time and memory, and the cost of a
   full national report build (every project's neighbours) extrapolated from a sample.
   Corpora: `varied` (400 topics of Finnish-like words with inflections, a shared domain
   vocabulary) and `demo` (registry.demo's generator: 6 templated topics, the worst case for the
   candidate step since every 4-gram is common).
   What the endpoint adds to this (the project row, its shared workplaces by an indexed
   project_id, the visibility of <= 150 ids) is a few indexed queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.overlap import scoring  # noqa: E402
from registry.overlap import text as T  # noqa: E402
from registry.overlap.index import SimilarityIndex  # noqa: E402
from tests.registry.overlap_pairs import TEXTS, pairs, precision_recall  # noqa: E402

THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def _scores(analyzer) -> tuple[list[float], list[bool]]:
    idx = {}
    for lang in ("fi", "sv"):
        i = T.TextIndex(analyzer(lang))
        i.bulk((k, t) for k, (_, lg, t) in enumerate(TEXTS) if lg == lang)
        idx[lang] = i
    ps = pairs()
    return ([T.dot(idx[TEXTS[a][1]].vector(a), idx[TEXTS[a][1]].vector(b)) for a, b, _ in ps],
            [y for *_, y in ps])


def _ngrams(n: int):
    def analyzer(text: str) -> Counter:
        out: Counter = Counter()
        for w in T.words(text):
            p = f" {w} "
            out.update([p] if len(p) <= n else [p[i:i + n] for i in range(len(p) - n + 1)])
        return out
    return analyzer


def methods() -> None:
    cands = {f"char {n}-gram TF-IDF": (lambda _l, n=n: _ngrams(n)) for n in (3, 4, 5)}
    cands["word TF-IDF"] = lambda _l: T.word_terms
    try:
        import snowballstemmer

        stem = {"fi": snowballstemmer.stemmer("finnish"), "sv": snowballstemmer.stemmer("swedish")}
        cands["Snowball stems TF-IDF"] = lambda lang: (
            lambda t: Counter(stem[lang].stemWords([w for w in T.words(t) if len(w) > 2])))
    except ImportError:
        print("(snowballstemmer not importable: stems left out)")
    labels = _scores(cands["char 4-gram TF-IDF"])[1]
    print(f"labelled pairs: {len(labels)} ({sum(labels)} similar, {len(labels) - sum(labels)} "
          f"dissimilar), {len(TEXTS)} texts")
    print("| method | " + " | ".join(f"P/R at {t}" for t in THRESHOLDS) + " |")
    print("|---|" + "---|" * len(THRESHOLDS))
    for name, make in cands.items():
        s, y = _scores(make)
        cells = []
        for t in THRESHOLDS:
            p, r = precision_recall(s, y, t)
            cells.append(f"{p:.2f} / {r:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


# --- speed ----------------------------------------------------------------------------------

_SYL = ["ka", "ta", "la", "ma", "ne", "ri", "vo", "su", "ki", "po", "lu", "hy", "tä", "jä",
        "mö", "se", "ko", "va", "ni", "ru", "te", "ho", "pa", "yö"]
_SUFFIX = ["", "n", "a", "ä", "ssa", "ssä", "lla", "ksi", "t", "jen", "ien", "sta", "an", "lle"]


def _pseudo(rnd: random.Random) -> str:
    return "".join(rnd.choice(_SYL) for _ in range(rnd.randint(2, 4)))


def varied_corpus(n: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    domain = sorted({w for _, lang, t in TEXTS if lang == "fi" for w in T.words(t)})
    topics = [[_pseudo(rnd) for _ in range(25)] + rnd.sample(domain, 10) for _ in range(400)]
    out = []
    for _ in range(n):
        topic = rnd.choice(topics)
        ws = []
        for _ in range(rnd.randint(40, 120)):
            r = rnd.random()
            pool = topic if r < 0.6 else domain if r < 0.9 else rnd.choice(topics)
            ws.append(rnd.choice(pool) + rnd.choice(_SUFFIX))
        out.append(" ".join(ws))
    return out


def demo_corpus(n: int) -> list[str]:
    from registry.demo import demo_projects

    return [" ".join([p["name"]["fi"], p["goals"]["fi"]]) for p in demo_projects(n, seed=7)]


def _row(i: int, text: str, rnd: random.Random) -> SimpleNamespace:
    start = dt.date(2021, 1, 1) + dt.timedelta(days=rnd.randrange(0, 2000))
    return SimpleNamespace(
        id=f"p{i:07d}", code=f"B{i:07d}", name={"fi": text[:60]}, goals={"fi": text},
        starting_points=None, theme_id="t", start_date=start,
        end_date=start + dt.timedelta(days=900), status="active", archived=False,
        target_groups=rnd.sample(["companies", "employees", "managers", "municipalities"], 2),
        sub_themes=[rnd.choice(["wellbeing", "productivity", "age_management"])],
        region_codes=[f"{rnd.randint(1, 19):02d}"], organisation_id=f"o{rnd.randrange(2000)}")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def speed(n: int, queries: int, corpus: str) -> dict:
    rnd = random.Random(5)
    texts = varied_corpus(n) if corpus == "varied" else demo_corpus(n)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    idx = SimilarityIndex()
    t0, c0 = time.perf_counter(), time.process_time()
    for i, text in enumerate(texts):
        row = _row(i, text, rnd)
        idx.row_of[row.id] = len(idx.meta)
        idx.meta.append(None)
        idx._put(row, set())
    for ti in idx.text.values():
        ti.pack()
    build_wall, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    fi = idx.text["fi"]
    walls, cpus, found = [], [], []
    ids = idx.project_ids()
    for pid in rnd.sample(ids, min(queries, len(ids))):
        t, c = time.perf_counter(), time.process_time()
        me = idx.get(pid)
        near = idx.text_neighbours(pid, 50, scoring.CANDIDATE_FLOOR)
        views = [scoring.score_pair(me, idx.get(o), s, lang, None) for o, (s, lang) in near.items()]
        views.sort(key=lambda v: -v["score"])
        walls.append((time.perf_counter() - t) * 1000)
        cpus.append((time.process_time() - c) * 1000)
        found.append(sum(1 for s, _ in near.values() if s >= scoring.THRESHOLD))
    sample = rnd.sample(ids, min(300, len(ids)))
    t = time.perf_counter()
    for pid in sample:
        idx.text_neighbours(pid, 10, scoring.THRESHOLD)
    per = (time.perf_counter() - t) / len(sample)
    print(f"| {corpus} | {n:,} | {len(fi.vocab):,} 4-grams, {fi.docs.size / 1e6:.1f} M postings | "
          f"{build_wall:.0f} s wall / {build_cpu:.0f} s CPU, ~{rss:.0f} MiB | "
          f"{statistics.median(walls):.1f} / {_pct(walls, 0.95):.1f} / {max(walls):.1f} | "
          f"{statistics.median(cpus):.1f} / {_pct(cpus, 0.95):.1f} | "
          f"{statistics.median(found):.0f} | {per * n / 60:.0f} min |")
    return {"corpus": corpus, "projects": n, "queries": len(walls), "build_wall_s": build_wall,
            "build_cpu_s": build_cpu, "build_rss_mib": rss,
            "query_wall_ms_p50": statistics.median(walls), "query_wall_ms_p95": _pct(walls, 0.95),
            "query_wall_ms_max": max(walls), "query_cpu_ms_p50": statistics.median(cpus),
            "query_cpu_ms_p95": _pct(cpus, 0.95), "similar_found_p50": statistics.median(found),
            "full_report_build_min": per * n / 60}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.overlap", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--corpus", default="varied,demo")
    ap.add_argument("--methods", action="store_true", help="only the labelled-set comparison")
    ap.add_argument("--speed-only", action="store_true", help="skip the labelled-set comparison")
    args = ap.parse_args(argv)
    if not args.speed_only:
        methods()
    if args.methods:
        return
    print("\n| corpus | projects | index | build, memory | query wall ms p50 / p95 / max | "
          "query CPU ms p50 / p95 | similar found (p50) | full report build |")
    print("|---|---|---|---|---|---|---|---|")
    runs = [speed(args.projects, args.queries, corpus.strip()) for corpus in args.corpus.split(",")]
    from bench.common import save

    print(f"raw: {save('overlap', {'benchmark': 'overlap', 'runs': runs})}")


if __name__ == "__main__":
    main()
