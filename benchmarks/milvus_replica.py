"""A shared Milvus archive: the time to index a corpus (pushing texts and records with the vectors),
to make a replica of it in an empty data dir (pulling everything, nothing embedded), and what a
replica's catch-up costs between questions when nothing changed. milvus-lite in a temporary folder,
the hash embedder (so indexing time is the store's, not the model's).

    .venv/bin/python -m benchmarks.milvus_replica --articles 500
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED_EVAL
from retrieval.config import Settings
from retrieval.documents import load_articles
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot


def bot(home: Path, uri: str, store: str = "milvus") -> Newsbot:
    """A newsbot with the hash embedder and its own data dir on the archive file."""
    settings = Settings(home=home, store=store, milvus_uri=uri if store == "milvus" else "")  # type: ignore[arg-type]
    return Newsbot(settings, embedder=HashEmbedder(), index_dir=home / "index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED_EVAL / "gnad-distractors.jsonl")
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--refreshes", type=int, default=200)
    args = parser.parse_args()
    articles = load_articles([args.corpus], 10_000_000).articles[: args.articles]
    with tempfile.TemporaryDirectory() as tmp:
        root, uri = Path(tmp), str(Path(tmp) / "archive.db")
        local = bot(root / "local", uri, store="local")
        started = time.perf_counter()
        local.index_articles(articles)
        local_s = time.perf_counter() - started
        local.close()
        writer = bot(root / "writer", uri)
        started = time.perf_counter()
        writer.index_articles(articles)
        writer_s = time.perf_counter() - started
        chunks = writer.index.counts()[1]
        writer.close()
        replica = bot(root / "replica", uri)
        started = time.perf_counter()
        replica.sources()
        replica_s = time.perf_counter() - started
        archive = replica.index.archive
        assert archive is not None
        times = []
        for _ in range(args.refreshes):
            started = time.perf_counter()
            archive.catch_up()
            times.append((time.perf_counter() - started) * 1000)
        replica.close()
    print(f"{len(articles)} articles, {chunks} chunks")
    print(f"index, local store:                 {local_s:6.1f} s")
    print(f"index, milvus archive (push):       {writer_s:6.1f} s")
    print(f"replica from the archive (pull):    {replica_s:6.1f} s (open included)")
    print(f"catch-up with nothing new: p50 {statistics.median(times):.2f} ms, max {max(times):.2f} ms")


if __name__ == "__main__":
    main()
