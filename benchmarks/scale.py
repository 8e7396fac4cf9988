"""How the index behaves at 10k, 100k and 1M chunks: build, add, remove, query, memory, disk.

Synthetic articles are written with the vocabulary and sentence lengths of real news (the GNAD
articles in ../shared/eval, else the seed), chunked by the real pipeline; their vectors are drawn
around the centroids of really encoded sentences, with residuals taken from real ones, so that the
approximate index meets realistic structure (the encoder is not run for N chunks). Queries are
real questions, encoded for real, through the whole retrieval path (hybrid search, ranking,
sentence lookup); they run in a fresh process whose peak memory is reported.

    .venv/bin/python benchmarks/scale.py --chunks 1000000 --json OUT.json [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script

from benchmarks import SHARED_EVAL
from retrieval.config import REPO_ROOT, Settings
from retrieval.documents import Article, load_articles
from retrieval.evaluate import load_questions
from retrieval.pipeline import Newsbot

GNAD = SHARED_EVAL / "gnad-distractors.jsonl"

# Articles per written batch (one transaction): up to this many, fewer for small N so that the
# index ends close to N chunks (~8 chunks an article).
ARTICLES_PER_BATCH = 1_000
CENTROIDS = 256
QUERIES = 200


def real_articles() -> list[Article]:
    """Real news to learn vocabulary, lengths and vector structure from."""
    path = GNAD if GNAD.exists() else REPO_ROOT / "seeds"
    return load_articles([path]).articles


def real_questions() -> list[str]:
    """Real questions (the news-dev and seed sets), for the query measurements."""
    out: list[str] = []
    for path in (SHARED_EVAL / "news-dev" / "questions.jsonl", REPO_ROOT / "seeds" / "questions.jsonl"):
        if path.exists():
            out += [q.question for q in load_questions(path).questions]
    return out or ["Wer ist Bürgermeister von Wien?"]


class Synthesizer:
    """Articles and vectors that look like the real ones."""

    def __init__(self, articles: list[Article], bot: Newsbot, seed: int = 0) -> None:
        from retrieval.chunking import split_sentences

        self.rng = np.random.default_rng(seed)
        self.random = random.Random(seed)
        self.articles_per_batch = ARTICLES_PER_BATCH
        sentences = [
            a.text[s.start : s.end] for a in articles[:400] for s in split_sentences(a.text, a.title)
        ]
        words = Counter(w for s in sentences for w in s.split())
        self.vocabulary = list(words)
        weights = np.array([words[w] for w in self.vocabulary], dtype=np.float64)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.lengths = [len(s.split()) for s in sentences]
        self.article_sentences = [len(split_sentences(a.text, a.title)) for a in articles]
        vectors = bot.embedder.embed(sentences[:4000])
        self.centroids, self.residuals = _structure(vectors)

    def text(self, n_sentences: int) -> str:
        """An article's text: sentences of real lengths from the real word distribution."""
        out = []
        for _ in range(n_sentences):
            length = self.random.choice(self.lengths)
            picks = np.searchsorted(self.cumulative, self.rng.random(max(length, 3)))
            words = [self.vocabulary[min(i, len(self.vocabulary) - 1)] for i in picks]
            out.append(" ".join(words).rstrip(".!?") + ".")
        return " ".join(out)

    def article(self, n: int) -> Article:
        """The n-th synthetic article."""
        sentences = max(2, self.random.choice(self.article_sentences))
        return Article(
            id=f"syn-{n:07d}", text=self.text(sentences), title=f"Synthetic {n}", date="2024-01-01"
        )

    def vectors(self, n: int, topic: int) -> np.ndarray:
        """n unit vectors of one article: its topic's centroid plus real residuals."""
        picks = self.rng.integers(0, len(self.residuals), size=n)
        scale = self.rng.uniform(0.8, 1.2, size=(n, 1)).astype(np.float32)
        out = self.centroids[topic] + self.residuals[picks] * scale
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _structure(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroids of real vectors (k-means) and each vector's residual from its centroid."""
    import faiss

    k = min(CENTROIDS, max(1, len(vectors) // 8))
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=1, spherical=True)
    kmeans.train(vectors.astype(np.float32))
    _, assigned = kmeans.index.search(vectors.astype(np.float32), 1)
    return kmeans.centroids.astype(np.float32), (vectors - kmeans.centroids[assigned[:, 0]]).astype(
        np.float32
    )


_SYNTH: Synthesizer | None = None  # shared with the worker processes (fork)


def synthetic_batch(number: int, size: int = 3, overlap: int = 1):
    """The number-th batch of synthetic articles, chunked by the real pipeline (in a worker)."""
    from retrieval.ingest import _plan
    from retrieval.store.records import Batch, NewChunk, NewSentence

    synth = _SYNTH
    assert synth is not None
    synth.rng = np.random.default_rng(number)
    synth.random = random.Random(number)
    per_batch = synth.articles_per_batch
    articles = [synth.article(number * per_batch + i) for i in range(per_batch)]
    sentences: list[NewSentence] = []
    chunks: list[NewChunk] = []
    _plan(articles, size, overlap, sentences, chunks)
    per_article = Counter(s.article_id for s in sentences)
    sentence_vectors = np.vstack(
        [synth.vectors(per_article[a.id], synth.random.randrange(len(synth.centroids))) for a in articles]
    )
    chunk_vectors = np.array([sentence_vectors[c.first : c.last + 1].mean(axis=0) for c in chunks])
    chunk_vectors /= np.linalg.norm(chunk_vectors, axis=1, keepdims=True)
    return Batch(articles, sentences, chunks, sentence_vectors, chunk_vectors.astype(np.float32))


def synthetic_batches(synth: Synthesizer, chunks: int) -> Iterator:
    """Synthetic batches, made by worker processes, until about `chunks` chunks. At most two
    batches per worker are in flight, so the batches waiting to be written stay few."""
    import multiprocessing
    from collections import deque

    global _SYNTH
    _SYNTH = synth
    made, number = 0, 0
    workers = os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque = deque()
        while made < chunks:
            while len(pending) < 2 * workers:
                pending.append(pool.apply_async(synthetic_batch, (number,)))
                number += 1
            batch = pending.popleft().get()
            yield batch
            made += len(batch.chunks)
        pool.terminate()


def build(bot: Newsbot, chunks: int) -> dict:
    """Build the synthetic index; returns its size and build time."""
    from tqdm import tqdm

    synth = Synthesizer(real_articles(), bot)
    synth.articles_per_batch = max(10, min(ARTICLES_PER_BATCH, chunks // 80))
    started = time.perf_counter()
    with bot._write_lock():
        index = bot._writable_index()
        with tqdm(total=chunks, desc="Building", unit="chunk") as bar:
            for batch in synthetic_batches(synth, chunks):
                index.write(batch)
                bar.update(len(batch.chunks))
        index.save()
    articles, stored = index.counts()
    return {
        "chunks": stored,
        "articles": articles,
        "build_seconds": round(time.perf_counter() - started, 1),
        "build_peak_rss_mib": peak_rss_mib(),
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it does not carry over the
    parent's peak into a process started with fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def add_and_remove(bot: Newsbot, workdir: Path) -> dict:
    """Add 10 real articles (encoding them) and remove them again, timed."""
    real = real_articles()[-10:]
    path = workdir / "ten.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": f"new-{a.id}", "title": a.title, "text": a.text}, ensure_ascii=False)
            for a in real
        )
        + "\n",
        encoding="utf-8",
    )
    bot.embedder.embed(["warm up"])
    started = time.perf_counter()
    bot.index_paths([path], progress=False)
    added = time.perf_counter() - started
    started = time.perf_counter()
    bot.remove([f"new-{a.id}" for a in real])
    removed = time.perf_counter() - started
    return {"add_10_articles_seconds": round(added, 2), "remove_10_articles_seconds": round(removed, 2)}


def query_figures(home: Path) -> dict:
    """Run in a fresh process: query latency over the whole retrieval path, recall of the vector
    index against exact search, peak memory."""
    bot = Newsbot(Settings(home=home))
    questions = (real_questions() * 10)[:QUERIES]
    index = bot.index
    vectors = bot.embedder.embed(questions)
    bot.search(questions[0])  # opens everything once
    times = []
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        from retrieval.search import Searcher

        with index.reading():
            Searcher(index).search(question, 30, vector=vector)
        times.append((time.perf_counter() - started) * 1000)
    peak = peak_rss_mib()  # before the exact reference
    recall = _recall_vs_exact(index, vectors[:100])
    return {
        "query_ms_p50": round(float(np.percentile(times, 50)), 1),
        "query_ms_p95": round(float(np.percentile(times, 95)), 1),
        "recall_at_10_vs_exact": round(recall, 4),
        "peak_rss_mib": peak,
        "chunk_vector_tier": getattr(index.vectors["chunk"], "tier", "?"),
    }


def _recall_vs_exact(index, queries: np.ndarray) -> float:
    """Share of the exact top-10 chunks (brute force over every stored vector) that the index finds."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for ids, vectors in index.records.added_since("chunk", -1, batch=100_000):
        scores = queries @ vectors.T
        all_scores = np.hstack([best_scores, scores])
        all_ids = np.hstack([best_ids, np.broadcast_to(ids, scores.shape)])
        top = np.argsort(-all_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    found = [
        len({c for c, _ in index.search_chunks(q, 10)} & set(best_ids[i].tolist()))
        for i, q in enumerate(queries)
    ]
    return sum(found) / (10 * len(queries))


def disk_bytes(directory: Path) -> int:
    """Bytes of every file under the folder."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main() -> None:
    """Build, measure, print and write the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    parser.add_argument("--workdir", type=Path, help="Keep the index here (default: a temporary folder).")
    parser.add_argument("--query-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.query_only:
        print(json.dumps(query_figures(args.query_only)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsbot-scale-"))
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    bot = Newsbot(Settings(home=home))
    figures = build(bot, args.chunks)
    figures.update(add_and_remove(bot, workdir))
    bot.close()
    out = subprocess.run(
        [sys.executable, __file__, "--query-only", str(home)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "NEWSBOT_HOME": str(home)},
    )
    figures.update(json.loads(out.stdout.strip().splitlines()[-1]))
    figures["index_bytes_on_disk"] = disk_bytes(home / "index")
    figures["machine"] = f"{os.cpu_count()} cores, {os.uname().machine}"
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
