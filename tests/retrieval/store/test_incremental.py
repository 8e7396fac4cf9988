"""Adding 10 articles to a 1,000-article index does O(10) work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from tests.retrieval.store.test_crash import write_corpus


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Newsbot, Path]:
    """A 1,000-article index (the demo embedder), written in batches."""
    tmp = tmp_path_factory.mktemp("incremental")
    corpus = tmp / "corpus.jsonl"
    write_corpus(corpus, 1000, seed=11)
    bot = Newsbot(Settings(home=tmp / "home", index_batch_chars=50_000), embedder=HashEmbedder())
    bot.index_paths([corpus], progress=False)
    bot.index.save()  # snapshots as a long run leaves them
    return bot, tmp


def test_adding_ten_articles_touches_only_their_rows(built: tuple[Newsbot, Path]) -> None:
    bot, tmp = built
    index = bot.index
    db = index.records.db
    chunks_before = index.counts()[1]
    snapshots = {p.name: p.stat().st_mtime_ns for p in (index.directory / "vectors").glob("*.faiss")}
    assert snapshots  # the 1,000-article build wrote them
    read_back: list[int] = []
    original = index.records.added_since

    def counting(kind: str, commit: int, batch: int = 50_000):
        for ids, vectors in original(kind, commit, batch):
            read_back.append(len(ids))
            yield ids, vectors

    index.records.added_since = counting  # type: ignore[method-assign]
    changes_before = db.total_changes
    ten = tmp / "ten.jsonl"
    ten.write_text(
        "\n".join(
            json.dumps(
                {"id": f"new-{i}", "title": f"Neu {i}", "text": f"Ein neuer Artikel Nummer {i}. Er ist kurz."}
            )
            for i in range(10)
        )
        + "\n",
        encoding="utf-8",
    )
    report = bot.index_paths([ten], progress=False).report
    new_chunks = index.counts()[1] - chunks_before
    assert report.added == 10 and report.unchanged == 0 and new_chunks == report.chunks_embedded
    written = db.total_changes - changes_before
    # the article, sentence, chunk and vector rows, their postings and a few bookkeeping rows:
    # bounded by the new articles' size, not by the 1,000 already stored
    new_rows = 10 + 2 * report.sentences_embedded + 2 * report.chunks_embedded
    assert written < new_rows + 60 * 10 + 50, written
    # the vector indexes caught up with the new rows only
    assert sum(read_back) == report.chunks_embedded + report.sentences_embedded
    index.records.added_since = original  # type: ignore[method-assign]
    after = {p.name: p.stat().st_mtime_ns for p in (index.directory / "vectors").glob("*.faiss")}
    assert after == snapshots  # no snapshot rewritten for a small add
    hits = bot.search("neuer Artikel Nummer 7", 3)
    assert hits[0].chunk.article_id == "new-7"


def test_removing_ten_articles_is_as_cheap(built: tuple[Newsbot, Path]) -> None:
    bot, _ = built
    db = bot.index.records.db
    before = db.total_changes
    removed = bot.remove([f"a{i:04d}" for i in range(10)])
    assert len(removed) == 10
    assert db.total_changes - before < 600
    assert not bot.search("Nummer 3", 50) or all(
        h.chunk.article_id != "a0003" for h in bot.search("Nummer 3", 50)
    )
    assert bot.check() == []


def sqlite_steps(db, work) -> int:  # type: ignore[no-untyped-def]
    """How many hundreds of SQLite VM instructions `work()` runs on the connection."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    db.set_progress_handler(count, 100)
    try:
        work()
    finally:
        db.set_progress_handler(None, 100)
    return steps[0]


def test_the_vectors_added_since_a_commit_are_found_without_reading_the_others(
    built: tuple[Newsbot, Path],
) -> None:
    bot, tmp = built
    records = bot.index.records
    commit = records.commit()
    one = tmp / "one.jsonl"
    one.write_text(json.dumps({"id": "one-more", "title": "Eins", "text": "Noch ein Artikel. Kurz."}) + "\n")
    bot.index_paths([one], progress=False)
    new = sqlite_steps(records.db, lambda: list(records.added_since("sentence", commit)))
    every = sqlite_steps(records.db, lambda: list(records.added_since("sentence", -1)))
    assert sum(len(ids) for ids, _ in records.added_since("sentence", commit)) == 2
    assert new * 50 < every, (new, every)
