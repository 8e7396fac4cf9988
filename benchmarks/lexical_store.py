"""Build the SQLite lexical store over synthetic Zipf documents and time 5-term queries.

    python benchmarks/lexical_store.py --docs 1000000 --db /tmp/lexical.sqlite --json out.json

Documents have about `--terms` terms drawn from a Zipf(1) vocabulary of `--vocab` terms. Query mixes:
"zipf" draws query terms like document terms (the head of the vocabulary is in nearly every document,
the worst case); "content" leaves out the 100 most frequent terms, as stop word removal does for real
questions; "rare" draws terms uniformly from the vocabulary.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from retrieval.store.lexical import SCHEMA, LexicalStore


def zipf_sampler(vocab: int, rng: np.random.Generator, skip: int = 0):  # -> Callable[[int], np.ndarray]
    """A function drawing n term ranks from Zipf(1) over ranks skip..vocab-1."""
    weights = 1.0 / np.arange(1, vocab + 1)
    weights[:skip] = 0
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return lambda n: np.minimum(np.searchsorted(cdf, rng.random(n)), vocab - 1)


def documents(
    n: int, vocab: int, terms: int, seed: int, first_id: int = 1
) -> Iterator[tuple[int, list[str]]]:
    """n synthetic documents (id, terms) of about `terms` Zipf-drawn terms each."""
    rng = np.random.default_rng(seed)
    draw = zipf_sampler(vocab, rng)
    names = [f"t{r}" for r in range(vocab)]
    block = 10_000
    for start in range(0, n, block):
        lengths = rng.poisson(terms, size=min(block, n - start))
        ranks = draw(int(lengths.sum())).tolist()
        at = 0
        for i, length in enumerate(lengths.tolist()):
            yield first_id + start + i, [names[r] for r in ranks[at : at + length]]
            at += length


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    ms = np.array(values) * 1000
    return {f"p{p}_ms": round(float(np.percentile(ms, p)), 2) for p in (50, 95)}


def time_queries(db: sqlite3.Connection, vocab: int, n: int, seed: int) -> dict[str, dict[str, float]]:
    """Latency of 5-term queries per mix, for k = 15 (what hybrid search asks for) and k = 100, with the
    row cache (warm after the first queries) and without it (every row read from SQLite)."""
    rng = np.random.default_rng(seed)
    mixes = {
        "zipf": zipf_sampler(vocab, rng),
        "content": zipf_sampler(vocab, rng, skip=100),
        "rare": lambda m: rng.integers(0, vocab, m),
    }
    out = {}
    for name, draw in mixes.items():
        queries = [[f"t{r}" for r in draw(5)] for _ in range(n)]
        for cache_mib in (128, 0):
            store = LexicalStore(db, cache_mib=cache_mib)
            for k in (15, 100):
                for q in queries[:20]:
                    store.search(q, k)  # warm the page cache (and the row cache)
                times = []
                for q in queries:
                    t0 = time.perf_counter()
                    store.search(q, k)
                    times.append(time.perf_counter() - t0)
                out[f"{name}_k{k}_{'cache' if cache_mib else 'nocache'}"] = percentiles(times)
    return out


def main() -> None:
    """Build (unless the database exists), then measure and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--vocab", type=int, default=200_000)
    parser.add_argument("--terms", type=int, default=60)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compact", action="store_true", help="compact after the build, then measure again")
    args = parser.parse_args()

    result: dict[str, object] = {"docs": args.docs, "vocab": args.vocab, "terms": args.terms}
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    store = LexicalStore(db)
    if store.count() != args.docs:
        t0 = time.perf_counter()
        with db:
            store.rebuild(documents(args.docs, args.vocab, args.terms, args.seed))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result["build_seconds"] = round(time.perf_counter() - t0, 1)
    result["bytes_on_disk"] = args.db.stat().st_size
    result["rows"], result["postings"] = db.execute("SELECT COUNT(*), SUM(n) FROM postings").fetchone()
    result["max_rows_per_term"] = db.execute(
        "SELECT MAX(c) FROM (SELECT COUNT(*) c FROM postings GROUP BY term)"
    ).fetchone()[0]
    result["query"] = time_queries(db, args.vocab, args.queries, args.seed + 1)

    new = list(documents(100, args.vocab, args.terms, args.seed + 2, first_id=args.docs + 1))
    t0 = time.perf_counter()
    with db:
        store.add(new)
    result["add_100_docs_seconds"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    with db:
        store.remove(range(1, 1001, 10))
    result["remove_100_docs_seconds"] = round(time.perf_counter() - t0, 3)
    result["query_after_changes"] = time_queries(db, args.vocab, args.queries, args.seed + 3)
    if args.compact:
        t0 = time.perf_counter()
        with db:
            store.compact()
        result["compact_seconds"] = round(time.perf_counter() - t0, 1)
        result["query_after_compact"] = time_queries(db, args.vocab, args.queries, args.seed + 4)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
