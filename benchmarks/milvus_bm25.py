"""Would Milvus' own BM25 rank chunks like newsbot's lexical index? Compares the two stores.

Indexes a corpus locally (hash embedder: only the lexical side matters), builds the shipped
Milvus terms collection (`MilvusTerms`: each chunk's stemmed terms, BM25 `Function` over the
standard tokenizer, in milvus-lite) from it, then asks each question's terms of both and
compares the top k and their scores (MilvusTerms scales Milvus' to the local index's).

    .venv/bin/python -m benchmarks.milvus_bm25 ../shared/eval/xquad-dev/corpus.jsonl \\
        ../shared/eval/xquad-dev/questions.de.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.evaluate import load_questions
from retrieval.language import query_terms
from retrieval.pipeline import Newsbot
from retrieval.store.milvus import MilvusStore, MilvusTarget
from retrieval.store.milvus_terms import MilvusTerms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bot = Newsbot(Settings(home=Path(tmp)), embedder=HashEmbedder(), index_dir=Path(tmp) / "index")
        bot.index_paths([args.corpus], progress=False)
        records = bot.index.records
        target = MilvusTarget(str(Path(tmp) / "bm25.db"), prefix="newsbot_bench", temporary=True)
        store = MilvusStore(target, embedder=bot.embedder.name, dim=records.dim, store_id=records.store_id)
        milvus = MilvusTerms(store, records)
        chunks = len(milvus)  # builds the collection
        top1 = overlap = worst = 0.0
        ratios: list[float] = []
        local_ms, milvus_ms = [], []
        asked = [q.question for q in load_questions(args.questions).questions[: args.limit]]
        for question in asked:
            terms = query_terms(question)
            started = time.perf_counter()
            local_hits = dict(bot.index.search_terms(terms, args.k))
            local = list(local_hits)
            local_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            hits = milvus.search(terms, args.k)
            milvus_ms.append((time.perf_counter() - started) * 1000)
            found = [cid for cid, _ in hits]
            for cid, score in hits:
                if cid in local_hits:
                    worst = max(worst, abs(score - local_hits[cid]))
                    ratios.append(score / local_hits[cid])
            top1 += bool(local and found and local[0] == found[0])
            overlap += len(set(local) & set(found)) / max(len(local), 1)
        store.close()
        bot.close()
    n = len(asked)
    print(f"{chunks} chunks, {n} questions, k={args.k}")
    print(f"same top chunk: {top1 / n:.3f}   mean overlap of the top {args.k}: {overlap / n:.3f}")
    print(f"largest score difference of a chunk found by both: {worst:.4f}")
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    print(f"milvus / local score: min {low:.4f}, median {mid:.4f}, max {high:.4f}")
    local_p50, milvus_p50 = statistics.median(local_ms), statistics.median(milvus_ms)
    print(f"p50 ms: local BM25 {local_p50:.2f}, milvus-lite BM25 {milvus_p50:.2f}")


if __name__ == "__main__":
    main()
