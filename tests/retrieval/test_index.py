"""The index on disk: round trip, incremental updates, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.errors import EmbedderMismatchError, IndexCorruptError, IndexMissingError, InputError
from retrieval.index import NewsIndex
from retrieval.pipeline import Newsbot
from tests.conftest import ARTICLES


def reopen(bot: Newsbot) -> Newsbot:
    """A new Newsbot over the same index folder, as a new process would see it."""
    bot.close()
    return Newsbot(bot.settings, embedder=HashEmbedder(), index_dir=bot.index_dir)


def test_round_trip_keeps_articles_chunks_and_vectors(fake_bot: Newsbot) -> None:
    before = fake_bot.index.counts()
    bot = reopen(fake_bot)
    assert bot.index.counts() == before == (2, before[1])
    sources = {s.id: s for s in bot.sources()}
    assert sources["wien-1"].title == "Neue U-Bahn in Wien" and sources["wien-1"].date == "2015-09-18"
    assert sources["wien-1"].chunks >= 1
    article = bot.index.article("wien-1")
    assert article.source == "https://example.org/wien"
    query = bot.embedder.embed(["Feuerwehrleute Graz Mur"])[0]
    best_chunk_id, _ = bot.index.search_chunks(query, 1)[0]
    chunk = bot.index.chunks([best_chunk_id])[best_chunk_id]
    assert chunk.article_id == "graz-1"
    assert "Feuerwehrleute" in bot.index.article_text("graz-1")[chunk.start : chunk.end]


def test_reindexing_the_same_articles_embeds_nothing(fake_bot: Newsbot, corpus_file: Path) -> None:
    report = fake_bot.index_paths([corpus_file], progress=False).report
    assert (report.added, report.updated, report.unchanged, report.chunks_embedded) == (0, 0, 2, 0)


def test_changed_article_replaces_its_chunks(fake_bot: Newsbot, tmp_path: Path) -> None:
    wien_chunks = next(s.chunks for s in fake_bot.sources() if s.id == "wien-1")
    changed = dict(ARTICLES[1], text="In Linz regnete es. Die Donau stieg stark an.")
    path = tmp_path / "changed.jsonl"
    path.write_text(json.dumps(changed) + "\n", encoding="utf-8")
    report = fake_bot.index_paths([path], progress=False).report
    assert (report.added, report.updated, report.chunks_embedded) == (0, 1, 1)
    bot = reopen(fake_bot)
    assert "Donau" in bot.index.article_text("graz-1")
    hits = bot.search("Donau Linz regnete")
    assert hits[0].chunk.article_id == "graz-1"
    texts = [bot.index.article_text(h.chunk.article_id)[h.chunk.start:h.chunk.end] for h in hits]
    assert not any("Feuerwehrleute" in t for t in texts)
    assert bot.index.counts()[1] == wien_chunks + 1


def _owners_in_sqlite(index: NewsIndex) -> dict[int, list[int]]:
    """Sentence id -> ids of the chunks containing it, straight from SQLite."""
    rows = index._db.execute(
        "SELECT s.id, c.id FROM sentences s JOIN chunks c ON c.article_id = s.article_id "
        "AND s.id BETWEEN c.first_sentence AND c.last_sentence ORDER BY s.id, c.id"
    ).fetchall()
    owners: dict[int, list[int]] = {}
    for sid, cid in rows:
        owners.setdefault(sid, []).append(cid)
    return owners


def test_cached_lookups_agree_with_sqlite_and_follow_changes(fake_bot: Newsbot, tmp_path: Path) -> None:
    index = fake_bot.index
    for _ in range(2):  # before and after an update in the same process
        owners = _owners_in_sqlite(index)
        assert owners and index.sentence_owners([*owners, 10**6]) == owners
        by_article = {a: [r[0] for r in index._db.execute(
            "SELECT id FROM chunks WHERE article_id = ? ORDER BY id", (a,))] for a in ("wien-1", "graz-1")}
        assert index.chunk_ids_of(["wien-1", "graz-1", "nope"]) == {**by_article, "nope": []}
        chunk_ids = by_article["graz-1"]
        assert [c.id for c in index.chunks([*chunk_ids, 10**6]).values()] == chunk_ids
        mean, norm = index.article_mean_vector("graz-1")
        np.testing.assert_allclose(mean, index.chunk_vectors_of(chunk_ids).mean(axis=0))
        assert norm == pytest.approx(float(np.linalg.norm(mean)))
        sid = max(owners)
        cid = owners[sid][0]
        assert index.chunks([cid])[cid].article_id == index.sentences([sid])[sid].article_id
        path = tmp_path / "changed.jsonl"
        path.write_text(json.dumps(dict(ARTICLES[1], text="In Linz regnete es. Die Donau stieg.")) + "\n",
                        encoding="utf-8")
        fake_bot.index_paths([path], progress=False)
    assert "Donau" in index.article_text("graz-1")


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    bot = Newsbot(Settings(home=tmp_path), embedder=HashEmbedder(), index_dir=tmp_path / "none")
    with pytest.raises(IndexMissingError, match="newsbot index"):
        bot.answer("Wer?")


def test_other_embedder_is_refused_with_rebuild_hint(fake_bot: Newsbot) -> None:
    fake_bot.close()
    with pytest.raises(EmbedderMismatchError, match="demo-hash.*--rebuild"):
        NewsIndex(fake_bot.index_dir, HashEmbedder(dim=32))


def test_corrupt_files_are_reported_not_crashed(fake_bot: Newsbot) -> None:
    fake_bot.close()
    (fake_bot.index_dir / "chunks.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="chunks.faiss"):
        reopen(fake_bot).answer("Wer ist Bürgermeister?")
    (fake_bot.index_dir / "newsbot.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(IndexCorruptError, match="newsbot.sqlite3"):
        reopen(fake_bot).answer("Wer?")


def test_bad_input_keeps_what_is_indexed(fake_bot: Newsbot, tmp_path: Path) -> None:
    before = fake_bot.index.counts()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError):
        fake_bot.index_paths([empty], progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.jsonl:1"):
        fake_bot.index_paths([bad], progress=False)
    assert reopen(fake_bot).index.counts() == before


def test_rebuild_swaps_in_a_fresh_index(fake_bot: Newsbot, tmp_path: Path) -> None:
    only = tmp_path / "only.jsonl"
    only.write_text(json.dumps(ARTICLES[0]) + "\n", encoding="utf-8")
    fake_bot.index_paths([only], rebuild=True, progress=False)
    assert [s.id for s in reopen(fake_bot).sources()] == ["wien-1"]


def test_vectors_are_normalized() -> None:
    vectors = HashEmbedder().embed(["a b c", "Wien Wien"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def _flat_top_k(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and rows of a plain FAISS flat inner-product scan."""
    import faiss

    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    return flat.search(query, k)


def test_float16_prefilter_gives_the_exact_flat_top_k() -> None:
    from retrieval.index import _Vectors

    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((3000, 64)).astype(np.float32)
    matrix[1000:1100] = matrix[:100]  # exact duplicates: ties must come out as in the full scan
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(3000, dtype=np.int64) * 3 + 5
    vectors = _Vectors({int(i): n for n, i in enumerate(ids)}, ids, matrix)
    queries = np.vstack([matrix[:50], rng.standard_normal((50, 64)).astype(np.float32)])
    for query in queries:
        got = vectors.prefiltered_search(query[None], 20)
        assert got is not None
        scores, rows = _flat_top_k(matrix, query[None], 20)
        np.testing.assert_array_equal(got[0], scores)
        np.testing.assert_array_equal(got[1], ids[rows])


def test_float16_prefilter_declines_when_it_cannot_prove_the_top_k() -> None:
    from retrieval.index import _Vectors

    rng = np.random.default_rng(3)
    base = rng.standard_normal(64).astype(np.float32)
    matrix = base + 1e-5 * rng.standard_normal((500, 64)).astype(np.float32)  # all but equal
    ids = np.arange(500, dtype=np.int64)
    vectors = _Vectors({int(i): int(i) for i in ids}, ids, matrix)
    assert vectors.prefiltered_search(base[None], 10) is None


def test_large_index_search_uses_the_prefilter_with_the_same_hits(
    fake_bot: Newsbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.index as module

    index = fake_bot.index
    query = fake_bot.embedder.embed(["Feuerwehrleute in Graz"])[0]
    plain = index.search_sentences(query, 1)
    answered = []
    original = module._Vectors.prefiltered_search

    def spy(self: module._Vectors, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        answered.append(original(self, q, k))
        return answered[-1]

    monkeypatch.setattr(module._Vectors, "prefiltered_search", spy)
    monkeypatch.setattr(module, "_PREFILTER_MIN_ROWS", 1)
    monkeypatch.setattr(module, "_PREFILTER_FACTOR", 2)
    assert index.search_sentences(query, 1) == plain
    assert len(answered) == 1 and answered[0] is not None  # served by the prefilter
