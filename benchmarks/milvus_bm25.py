"""Does Milvus' own BM25 rank chunks like newsbot's lexical index? Compares the two per question.

Indexes a corpus locally (hash embedder: only the lexical side matters) in commits of
`--batch-chars` article characters, builds the shipped Milvus terms collection (`MilvusTerms`:
each chunk's stemmed terms, BM25 `Function`, in milvus-lite) from the same record store, then asks
each question's terms of both and compares the top k: identical (ids and order), differing only
inside groups of tied scores, or otherwise; and the largest relative score difference.

`--segments N` then fills the collection the way milvus-lite scores wrongly (N flushed batches,
as incremental catch-ups made them; N < 4, else milvus-lite's background compaction merges them)
and compares that too: milvus-lite keeps BM25 statistics per segment. It also counts vocabulary
terms that share milvus-lite's 32-bit term hash (FNV-1a).

    .venv/bin/python -m benchmarks.milvus_bm25 ../shared/eval/xquad-dev/corpus.jsonl \\
        ../shared/eval/xquad-dev/questions.de.jsonl --segments 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.evaluate import load_questions
from retrieval.language import query_terms
from retrieval.pipeline import Newsbot
from retrieval.store.milvus import MilvusStore, MilvusTarget
from retrieval.store.milvus_terms import MilvusTerms
from retrieval.store.records import RecordStore

Hits = list[tuple[int, float]]


def compare(pairs: Sequence[tuple[Hits, Hits]]) -> dict[str, float]:
    """How many top-k lists are identical, differ only among tied scores, or otherwise; the largest
    relative score difference of a chunk both found."""
    out = {"identical": 0, "ties only": 0, "other": 0, "worst relative score difference": 0.0}
    for local, milvus in pairs:
        if [i for i, _ in local] == [i for i, _ in milvus]:
            out["identical"] += 1
        elif tie_groups(local) == tie_groups(milvus):
            out["ties only"] += 1
        else:
            out["other"] += 1
        scores = dict(local)
        for i, score in milvus:
            if i in scores:
                diff = abs(score - scores[i]) / scores[i]
                out["worst relative score difference"] = max(out["worst relative score difference"], diff)
    return out


def tie_groups(hits: Hits) -> list[frozenset[int]]:
    """The ids grouped by equal score (to 6 significant digits), best first; the last group (which
    the cut-off may split) left out."""
    groups: dict[float, set[int]] = {}
    for i, score in hits:
        groups.setdefault(float(f"{score:.6g}"), set()).add(i)
    return [frozenset(ids) for ids in list(groups.values())[:-1]]


def hash_collisions(terms: Sequence[str]) -> int:
    """Vocabulary terms sharing milvus-lite's term hash with another term."""
    from milvus_lite.analyzer.hash import term_to_id

    seen: dict[int, int] = {}
    for term in terms:
        key = term_to_id(term)
        seen[key] = seen.get(key, 0) + 1
    return sum(n for n in seen.values() if n > 1)


Search = Callable[[list[str], int], Hits]


def timed(search: Search, asked: list[list[str]], k: int) -> tuple[list[Hits], float]:
    """Each query's hits and the median ms per query."""
    hits, ms = [], []
    for terms in asked:
        started = time.perf_counter()
        hits.append(search(terms, k))
        ms.append((time.perf_counter() - started) * 1000)
    return hits, statistics.median(ms)


def segmented(milvus: MilvusTerms, records: RecordStore, segments: int) -> None:
    """Fill the collection in `segments` flushed batches (what incremental catch-ups produced)."""
    ids = records.added_ids_since("chunk", 0)
    step = -(-len(ids) // segments)
    milvus._recreated()
    for start in range(0, len(ids), step):
        milvus._write(ids[start : start + step])
        milvus.store.client.flush(milvus.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("questions", type=Path)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--k", type=int, default=15, help="hits compared (search takes 15)")
    parser.add_argument("--batch-chars", type=int, default=250_000)
    parser.add_argument("--segments", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), index_batch_chars=args.batch_chars)
        bot = Newsbot(settings, embedder=HashEmbedder(), index_dir=Path(tmp) / "index")
        bot.index_paths(args.corpus, progress=False)
        records = bot.index.records
        target = MilvusTarget(str(Path(tmp) / "bm25.db"), prefix="newsbot_bench", temporary=True)
        store = MilvusStore(target, embedder=bot.embedder.name, dim=records.dim, store_id=records.store_id)
        milvus = MilvusTerms(store, records)
        started = time.perf_counter()
        milvus.push()  # writes the collection, as a writer does at the end of its run
        chunks = len(milvus)
        print(f"{chunks} chunks written to Milvus in {time.perf_counter() - started:.1f} s")
        vocabulary = [r[0] for r in records.db.execute("SELECT DISTINCT term FROM postings")]
        print(f"{len(vocabulary)} terms, {hash_collisions(vocabulary)} sharing a 32-bit term hash")
        asked = [query_terms(q.question) for q in load_questions(args.questions).questions[: args.limit]]
        local, local_p50 = timed(bot.index.lexical.search, asked, args.k)
        found, milvus_p50 = timed(milvus.search, asked, args.k)
        print(f"{len(asked)} questions, top {args.k}: {compare(list(zip(local, found, strict=True)))}")
        print(f"p50 ms: local BM25 {local_p50:.2f}, milvus-lite BM25 {milvus_p50:.2f}")
        if args.segments:
            segmented(milvus, records, args.segments)
            found, _ = timed(milvus.search, asked, args.k)
            drift = compare(list(zip(local, found, strict=True)))
            print(f"the same rows in {args.segments} milvus-lite segments: {drift}")
        store.close()
        bot.close()


if __name__ == "__main__":
    main()
