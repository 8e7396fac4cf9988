"""Search latency of one vector kind: FAISS exact (the local store) next to Milvus (milvus-lite by
default, or a server with --uri), over the same random unit vectors.

    .venv/bin/python -m benchmarks.milvus_search --rows 10000 --dim 512 --queries 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from retrieval.store.milvus import UPSERT_ROWS, MilvusStore, MilvusTarget, MilvusVectors
from retrieval.store.milvus_records import vector_rows
from retrieval.store.vectors import FaissVectors


class RandomSource:
    """A record store stand-in: `rows` random unit vectors (float16, as stored) added in one commit."""

    def __init__(self, rows: int, dim: int, seed: int = 0) -> None:
        vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors.astype(np.float16).astype(np.float32)
        self.ids = np.arange(1, rows + 1, dtype=np.int64)
        self.store_id = "bench"

    def commit(self) -> int:
        return 1

    def count(self, kind: str) -> int:
        return len(self.ids)

    def added_since(
        self, kind: str, commit: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if commit < 1:
            for start in range(0, len(self.ids), batch):
                yield self.ids[start : start + batch], self.vectors[start : start + batch]

    def removed_since(self, kind: str, commit: int) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)

    def vectors_of(self, kind: str, ids: Sequence[int]) -> np.ndarray:
        return self.vectors[np.asarray(ids, dtype=np.int64) - 1]

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        return self.vectors[:n]


def pushed(store: MilvusStore, source: RandomSource) -> MilvusVectors:
    """The chunk collection holding the source's rows, written as a push writes them."""
    store.ensure("chunk")
    name = store.collection("chunk")
    for start in range(0, len(source.ids), UPSERT_ROWS):
        part = slice(start, start + UPSERT_ROWS)
        store.client.upsert(name, vector_rows(source, "chunk", source.ids[part], source.vectors[part], 1))
    store.client.flush(name)
    return MilvusVectors(store, "chunk", source)


def timed(search, queries: np.ndarray, k: int) -> tuple[list[float], list[list[int]]]:
    """Milliseconds per query and the ids found."""
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        hits = search(query, k)
        times.append((time.perf_counter() - started) * 1000)
        found.append([i for i, _ in hits])
    return times, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument(
        "--uri", default="", help="a Milvus server (default: milvus-lite in a temporary file)"
    )
    args = parser.parse_args()
    source = RandomSource(args.rows, args.dim)
    queries = RandomSource(args.queries, args.dim, seed=1).vectors
    with tempfile.TemporaryDirectory() as tmp:
        faiss = FaissVectors(Path(tmp) / "faiss", "chunk", args.dim, source)
        target = MilvusTarget(args.uri or str(Path(tmp) / "bench.db"), prefix="newsbot_bench", temporary=True)
        store = MilvusStore(target, embedder="random", dim=args.dim, store_id="bench")
        started = time.perf_counter()
        len(faiss)
        faiss_build = time.perf_counter() - started
        started = time.perf_counter()
        milvus = pushed(store, source)
        len(milvus)
        milvus_build = time.perf_counter() - started
        faiss_ms, faiss_ids = timed(faiss.search, queries, args.k)
        milvus_ms, milvus_ids = timed(milvus.search, queries, args.k)
        store.close()
    same = sum(a == b for a, b in zip(faiss_ids, milvus_ids, strict=True)) / len(queries)
    print(f"{args.rows} vectors of dim {args.dim}, {args.queries} queries, k={args.k}")
    for name, build, ms in (("faiss exact", faiss_build, faiss_ms), ("milvus", milvus_build, milvus_ms)):
        p95 = statistics.quantiles(ms, n=20)[-1]
        print(
            f"{name:12s} load {build:6.2f} s   search p50 {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms"
        )
    print(f"queries with the same ids in the same order: {same:.3f}")


if __name__ == "__main__":
    main()
