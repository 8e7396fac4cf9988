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
    texts = [bot.index.article_text(h.chunk.article_id)[h.chunk.start : h.chunk.end] for h in hits]
    assert not any("Feuerwehrleute" in t for t in texts)
    assert bot.index.counts()[1] == wien_chunks + 1


def _owners_in_sqlite(index: NewsIndex) -> dict[int, list[int]]:
    """Sentence id -> ids of the chunks containing it, straight from SQLite."""
    rows = index.records.db.execute(
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
        by_article = {
            a: [
                r[0]
                for r in index.records.db.execute(
                    "SELECT id FROM chunks WHERE article_id = ? ORDER BY id", (a,)
                )
            ]
            for a in ("wien-1", "graz-1")
        }
        assert index.chunk_ids_of(["wien-1", "graz-1", "nope"]) == {**by_article, "nope": []}
        chunk_ids = by_article["graz-1"]
        assert [c.id for c in index.chunks([*chunk_ids, 10**6]).values()] == chunk_ids
        mean, norm = index.article_mean_vectors(["graz-1"])["graz-1"]
        np.testing.assert_allclose(mean, index.chunk_vectors_of(chunk_ids).mean(axis=0))
        assert norm == pytest.approx(float(np.linalg.norm(mean)))
        sid = max(owners)
        cid = owners[sid][0]
        assert index.chunks([cid])[cid].article_id == index.sentences([sid])[sid].article_id
        path = tmp_path / "changed.jsonl"
        path.write_text(
            json.dumps(dict(ARTICLES[1], text="In Linz regnete es. Die Donau stieg.")) + "\n",
            encoding="utf-8",
        )
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


def test_damaged_derived_files_are_rebuilt_from_the_store(fake_bot: Newsbot) -> None:
    query = fake_bot.embedder.embed(["Feuerwehrleute Graz Mur"])[0]
    fake_bot.index.save()
    before = fake_bot.index.search_chunks(query, 3)
    fake_bot.close()
    snapshot = fake_bot.index_dir / "vectors" / "chunk.faiss"
    data = bytearray(snapshot.read_bytes())
    for n in range(32):  # flipped bytes in the vector file
        data[len(data) // 2 + n] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    bot = reopen(fake_bot)
    assert _same_hits(bot.index.search_chunks(query, 3), before)
    assert bot.check() == []
    bot.close()
    import shutil

    shutil.rmtree(fake_bot.index_dir / "vectors")  # deleted derived files
    bot = reopen(fake_bot)
    assert _same_hits(bot.index.search_chunks(query, 3), before)


def _same_hits(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """The same ids in the same order, with scores equal up to float rounding."""
    return [i for i, _ in got] == [i for i, _ in want] and all(
        abs(a - b) < 1e-5 for (_, a), (_, b) in zip(got, want, strict=True)
    )


def test_damaged_store_is_a_clear_error(fake_bot: Newsbot) -> None:
    fake_bot.close()
    (fake_bot.index_dir / "newsbot.sqlite3").write_bytes(b"not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        (fake_bot.index_dir / f"newsbot.sqlite3{suffix}").unlink(missing_ok=True)
    with pytest.raises(IndexCorruptError, match="newsbot.sqlite3"):
        reopen(fake_bot).answer("Wer?")


def test_a_new_store_never_serves_old_vector_files(fake_bot: Newsbot, tmp_path: Path) -> None:
    fake_bot.index.save()
    fake_bot.close()
    for name in ("newsbot.sqlite3", "newsbot.sqlite3-wal", "newsbot.sqlite3-shm"):
        (fake_bot.index_dir / name).unlink(missing_ok=True)
    only = tmp_path / "only.jsonl"
    only.write_text(json.dumps(ARTICLES[0]) + "\n", encoding="utf-8")
    bot = reopen(fake_bot)
    bot.index_paths([only], progress=False)
    query = bot.embedder.embed(["Feuerwehrleute Graz Mur"])[0]
    found = bot.index.chunks([c for c, _ in bot.index.search_chunks(query, 10)])
    assert {c.article_id for c in found.values()} == {"wien-1"}
    assert bot.check() == []


def test_bit_rot_in_stored_vectors_is_found_and_repaired(fake_bot: Newsbot) -> None:
    index = fake_bot.index
    chunk_id = index.chunk_ids_of(["graz-1"])["graz-1"][0]
    huge = np.full(index.embedder.dim, 300.0, dtype=np.float16).tobytes()
    with index.records.transaction() as db:
        db.execute("UPDATE chunk_vectors SET vec = ? WHERE id = ?", (huge, chunk_id))
    problems = fake_bot.check()
    assert any("damaged" in p for p in problems)
    fake_bot.repair()
    assert fake_bot.check() == []
    vector = index.chunk_vectors_of([chunk_id])[0]
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=0.01)


def test_remove_frees_rows_and_answers_without_the_article(fake_bot: Newsbot) -> None:
    assert fake_bot.remove(["graz-1", "nope"]) == ["graz-1"]
    bot = reopen(fake_bot)
    assert [s.id for s in bot.sources()] == ["wien-1"]
    db = bot.index.records.db
    assert db.execute("SELECT COUNT(*) FROM sentences WHERE article_id = 'graz-1'").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM chunk_vectors").fetchone()[0] == bot.index.counts()[1]
    assert all(bot.index.chunks([h.chunk.id]) for h in bot.search("Feuerwehrleute Graz", 5))
    assert not any(h.chunk.article_id == "graz-1" for h in bot.search("Feuerwehrleute Graz", 5))
    assert bot.check() == []


def test_an_index_of_the_previous_release_is_migrated(tmp_path: Path) -> None:
    import shutil

    old = Path(__file__).resolve().parents[1] / "data" / "index-v2"
    home = tmp_path / "home"
    shutil.copytree(old, home / "index")
    bot = Newsbot(Settings(home=home), embedder=HashEmbedder())
    assert [s.id for s in bot.sources()] == ["graz-1", "wien-1"]
    assert bot.search("Feuerwehrleute Graz Mur", 1)[0].chunk.article_id == "graz-1"
    assert bot.check() == []
    assert not (home / "index" / "chunks.faiss").exists() and not (home / "index" / "bm25").exists()
    fresh_home = tmp_path / "fresh"
    fresh = Newsbot(Settings(home=fresh_home), embedder=HashEmbedder())
    corpus = Path(__file__).resolve().parents[1] / "data" / "index-v2-corpus.jsonl"
    fresh.index_paths([corpus], progress=False)
    for question in ("Feuerwehrleute Graz Mur", "U-Bahn Wien Kosten", "Bürgermeister Häupl"):
        migrated = [(h.chunk.article_id, h.chunk.ord, round(h.score, 4)) for h in bot.search(question, 3)]
        built = [(h.chunk.article_id, h.chunk.ord, round(h.score, 4)) for h in fresh.search(question, 3)]
        assert migrated == built
    report = bot.index_paths([corpus], progress=False).report
    assert report.unchanged == 2 and report.chunks_embedded == 0


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


def test_lexical_rows_read_while_answering_are_cached_and_follow_other_writers(
    fake_bot: Newsbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.ingest import chunk_terms
    from retrieval.store import lexical
    from retrieval.store.lexical import LexicalStore

    monkeypatch.setattr(lexical, "CACHE_MIN", 1)
    index = fake_bot.index
    query = chunk_terms("Feuerwehrleute Graz Mur Wien Donau Linz regnete", "de")

    def uncached() -> list[tuple[int, float]]:
        return LexicalStore(index.records.db, cache_mib=0).search(query, 5)

    with index.reading():
        first = index.search_terms(query, 5)
        assert index.lexical._cache.rows, "rows read inside a read snapshot are cached"
    assert first and first == uncached()
    other = Newsbot(fake_bot.settings, embedder=HashEmbedder(), index_dir=fake_bot.index_dir)
    path = tmp_path / "changed.jsonl"
    path.write_text(
        json.dumps(dict(ARTICLES[1], text="In Linz regnete es. Die Donau stieg.")) + "\n", encoding="utf-8"
    )
    other.index_paths([path], progress=False)
    other.close()
    with index.reading():
        second = index.search_terms(query, 5)
    assert second == uncached() and second != first
    assert index.chunks([second[0][0]])[second[0][0]].article_id == "graz-1"


def test_only_a_read_snapshot_that_wrote_nothing_counts_as_committed_data(fake_bot: Newsbot) -> None:
    records = fake_bot.index.records
    assert not records.in_read_snapshot()
    with records.transaction():
        assert not records.in_read_snapshot(), "a write transaction sees its own uncommitted rows"
    with records.reading():
        assert records.in_read_snapshot()
        with records.reading():
            assert records.in_read_snapshot()
    assert not records.in_read_snapshot()


def test_a_damaged_file_is_reported_without_checking_what_is_derived_from_it(
    fake_bot: Newsbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = fake_bot.index
    assert index.records.integrity() == [] and index.problems() == []
    damage = [f"{index.records.path}: *** in database main *** Page 7: btreeInitPage() returns error code 11"]
    monkeypatch.setattr(index.records, "integrity", lambda: damage)

    def unreachable() -> list[str]:
        raise AssertionError("the derived indexes are not checked against a damaged file")

    monkeypatch.setattr(index.records, "problems", unreachable)
    monkeypatch.setattr(index.lexical, "check", unreachable)
    assert index.problems() == damage


def test_stored_rows_are_embedded_again_in_one_call_as_when_indexed(fake_bot: Newsbot) -> None:
    from retrieval.store.migrate import embed_stored

    class Counting(HashEmbedder):
        calls = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return super().embed(texts)

    records = fake_bot.index.records
    for kind, table in (("chunk", "chunks"), ("sentence", "sentences")):
        ids = [r[0] for r in records.db.execute(f"SELECT id FROM {table} ORDER BY id DESC")]
        assert len(ids) > 2
        Counting.calls = 0
        again = embed_stored(records, kind, ids, Counting())
        assert Counting.calls == (2 if kind == "chunk" else 1)  # sentences and chunks: one call each
        np.testing.assert_allclose(again, records.vectors_of(kind, ids), atol=2e-3)
    assert embed_stored(records, "chunk", [], HashEmbedder()).shape == (0, HashEmbedder().dim)


def test_ids_added_since_a_commit_agree_with_the_vectors_added(fake_bot: Newsbot, tmp_path: Path) -> None:
    records = fake_bot.index.records
    before = records.commit()
    path = tmp_path / "changed.jsonl"
    path.write_text(json.dumps(dict(ARTICLES[1], text="In Linz regnete es. Die Donau stieg.")) + "\n")
    fake_bot.index_paths([path], progress=False)
    for kind in ("chunk", "sentence"):
        for commit in (-1, before, records.commit()):
            want = [int(i) for ids, _ in records.added_since(kind, commit) for i in ids]
            assert records.added_ids_since(kind, commit) == want
        assert records.added_ids_since(kind, before), "the new article's rows"
