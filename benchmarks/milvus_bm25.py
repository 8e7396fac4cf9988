"""Would Milvus' own BM25 rank chunks like newsbot's lexical index? An experiment, not a store.

Indexes a corpus locally (hash embedder: only the lexical side matters), puts each chunk's terms
(newsbot's stemmed terms, space-separated) into a milvus-lite collection with a BM25 `Function`
over the standard tokenizer (milvus-lite has no whitespace one; k1=1.5, b=0.75 as newsbot's),
then asks each question's terms of both and compares the top k.

    .venv/bin/python -m benchmarks.milvus_bm25 ../shared/eval/xquad-dev/corpus.jsonl \\
        ../shared/eval/xquad-dev/questions.de.jsonl --limit 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pymilvus import DataType, Function, FunctionType, MilvusClient

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.ingest import chunk_terms
from retrieval.language import query_terms
from retrieval.pipeline import Newsbot


def questions(path: Path, limit: int) -> list[str]:
    """The first `limit` questions of a JSONL question file."""
    with path.open(encoding="utf-8") as rows:
        return [json.loads(line)["question"] for line in rows if line.strip()][:limit]


def milvus_collection(client: MilvusClient, rows: list[dict]) -> None:
    """A collection `terms` of chunk terms with a BM25 function over the standard tokenizer."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field(
        "terms",
        DataType.VARCHAR,
        max_length=65_535,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["terms"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": 1.5, "bm25_b": 0.75},
    )
    client.create_collection("terms", schema=schema)
    client.create_index("terms", index, sync=False)
    client.load_collection("terms")
    for start in range(0, len(rows), 2000):
        client.insert("terms", rows[start : start + 2000])
    client.flush("terms")


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
        rows = [
            {"id": cid, "terms": " ".join(chunk_terms(text, lang))}
            for batch in bot.index.records.chunk_texts()
            for cid, text, lang in batch
        ]
        client = MilvusClient(str(Path(tmp) / "bm25.db"))
        milvus_collection(client, rows)
        top1 = overlap = worst = 0.0
        ratios: list[float] = []
        local_ms, milvus_ms = [], []
        asked = questions(args.questions, args.limit)
        for question in asked:
            terms = query_terms(question)
            started = time.perf_counter()
            local_hits = dict(bot.index.search_terms(terms, args.k))
            local = list(local_hits)
            local_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            hits = client.search(
                "terms",
                data=[" ".join(terms)],
                anns_field="sparse",
                limit=args.k,
                search_params={"metric_type": "BM25"},
            )[0]
            milvus_ms.append((time.perf_counter() - started) * 1000)
            found = [int(h["id"]) for h in hits]
            for h in hits:
                if int(h["id"]) in local_hits:
                    worst = max(worst, abs(float(h["distance"]) - local_hits[int(h["id"])]))
                    ratios.append(float(h["distance"]) / local_hits[int(h["id"])])
            top1 += bool(local and found and local[0] == found[0])
            overlap += len(set(local) & set(found)) / max(len(local), 1)
        client.close()
        bot.close()
    n = len(asked)
    print(f"{len(rows)} chunks, {n} questions, k={args.k}")
    print(f"same top chunk: {top1 / n:.3f}   mean overlap of the top {args.k}: {overlap / n:.3f}")
    print(f"largest score difference of a chunk found by both: {worst:.4f}")
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    print(f"milvus / local score: min {low:.4f}, median {mid:.4f}, max {high:.4f}")
    local_p50, milvus_p50 = statistics.median(local_ms), statistics.median(milvus_ms)
    print(f"p50 ms: local BM25 {local_p50:.2f}, milvus-lite BM25 {milvus_p50:.2f}")


if __name__ == "__main__":
    main()
