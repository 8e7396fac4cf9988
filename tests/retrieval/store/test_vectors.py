"""The derived FAISS vector index: exact search, snapshots, catch-up, damage, tiers, check."""

from __future__ import annotations

import json
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from retrieval.store import vectors as vectors_module
from retrieval.store.vectors import FaissVectors, VectorIndex, VectorSource, ivf_params
from tests.retrieval.store.fakes import FakeSource, clustered

DIM = 32


def brute_force(source: FakeSource, query: np.ndarray, k: int, kind: str = "chunk") -> list[int]:
    """Ids of the k stored vectors with the highest inner product, computed directly."""
    ids, vectors = source.all_vectors(kind)
    scores = vectors @ query
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture
def source() -> FakeSource:
    """A store of 1,500 clustered chunk vectors and 300 sentence vectors."""
    store = FakeSource(DIM)
    store.add("chunk", clustered(1500, DIM, seed=1))
    store.add("sentence", clustered(300, DIM, seed=2))
    return store


@pytest.fixture
def queries() -> np.ndarray:
    """Queries drawn from the same clusters as the stored vectors."""
    return clustered(20, DIM, seed=99)


def built(directory: Path, source: FakeSource, kind: str = "chunk", **kw: int) -> FaissVectors:
    """An index built from the store and saved, as the writer leaves it."""
    index = FaissVectors(directory, kind, source.dim, source, **kw)
    index.save(force=True)
    return index


def test_the_fake_and_the_index_follow_their_protocols(tmp_path: Path, source: FakeSource) -> None:
    assert isinstance(source, VectorSource)
    assert isinstance(FaissVectors(tmp_path, "chunk", DIM, source), VectorIndex)


def test_flat_search_equals_brute_force(tmp_path: Path, source: FakeSource, queries: np.ndarray) -> None:
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    for query in queries:
        found = index.search(query, 10)
        assert [i for i, _ in found] == brute_force(source, query, 10)
        _, vectors = source.all_vectors("chunk")
        assert found[0][1] == pytest.approx(float((vectors @ query).max()), abs=1e-5)
    assert index.tier == "flat" and len(index) == 1500


def test_kinds_are_separate_files(tmp_path: Path, source: FakeSource, queries: np.ndarray) -> None:
    chunks, sentences = built(tmp_path, source, "chunk"), built(tmp_path, source, "sentence")
    assert (len(chunks), len(sentences)) == (1500, 300)
    assert [i for i, _ in sentences.search(queries[0], 5)] == brute_force(source, queries[0], 5, "sentence")
    assert {p.name for p in tmp_path.iterdir()} == {
        "chunk.faiss",
        "chunk.json",
        "sentence.faiss",
        "sentence.json",
    }


def test_empty_store_gives_no_results_and_no_warning(
    tmp_path: Path, queries: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    index = FaissVectors(tmp_path, "chunk", DIM, FakeSource(DIM))
    with caplog.at_level(logging.WARNING):
        assert index.search(queries[0], 10) == [] and len(index) == 0
    assert not caplog.records
    assert index.search(queries[0], 0) == []


def test_nothing_is_read_before_first_use(tmp_path: Path, source: FakeSource) -> None:
    FaissVectors(tmp_path, "chunk", DIM, source)
    assert not source.calls and not list(tmp_path.iterdir())


def test_snapshot_round_trip(tmp_path: Path, source: FakeSource, queries: np.ndarray) -> None:
    first = built(tmp_path, source)
    meta = json.loads((tmp_path / "chunk.json").read_text())
    assert meta["format"] == 1 and meta["store_id"] == "store-a" and meta["commit"] == source.commit()
    assert meta["count"] == 1500 and meta["kind"] == "chunk" and meta["dim"] == DIM
    assert meta["crc32"] == zlib.crc32((tmp_path / "chunk.faiss").read_bytes())
    source.yielded = 0
    second = FaissVectors(tmp_path, "chunk", DIM, source)
    for query in queries:
        assert second.search(query, 10) == first.search(query, 10)
    assert second.rebuilds == 0 and source.yielded == 0


def test_catch_up_after_adds_and_removals_without_rebuild(
    tmp_path: Path, source: FakeSource, queries: np.ndarray
) -> None:
    built(tmp_path, source)
    reader = FaissVectors(tmp_path, "chunk", DIM, source)
    reader.search(queries[0], 1)
    source.yielded = 0
    new_ids = source.add("chunk", clustered(40, DIM, seed=7))
    best = [i for i, _ in reader.search(queries[1], 5)]
    source.remove("chunk", [*best, int(new_ids[0])])
    reader.refresh()
    assert len(reader) == 1500 + 40 - 6 and reader.rebuilds == 0
    assert source.yielded == 39  # only the rows added since, minus the one removed again
    for query in queries:
        assert [i for i, _ in reader.search(query, 10)] == brute_force(source, query, 10)
    # A new process catches the old snapshot up the same way.
    source.yielded = 0
    late = FaissVectors(tmp_path, "chunk", DIM, source)
    assert len(late) == len(reader) and late.rebuilds == 0 and source.yielded == 39


def test_refresh_costs_one_call_when_the_store_has_not_moved(tmp_path: Path, source: FakeSource) -> None:
    index = built(tmp_path, source)
    source.calls.clear()
    index.refresh()
    assert dict(source.calls) == {"commit": 1}


def test_a_reader_sees_a_writers_batches(tmp_path: Path, source: FakeSource, queries: np.ndarray) -> None:
    writer, reader = built(tmp_path, source), FaissVectors(tmp_path, "chunk", DIM, source)
    assert len(reader) == 1500
    near = queries[3] + 0.01 * clustered(1, DIM, seed=4)[0]
    (new_id,) = source.add("chunk", (near / np.linalg.norm(near))[None, :])
    writer.save()
    assert reader.search(queries[3], 1)[0][0] != new_id  # not yet refreshed
    reader.refresh()
    assert reader.search(queries[3], 1)[0][0] == new_id and reader.rebuilds == 0


def test_rows_added_while_catching_up_are_not_duplicated(tmp_path: Path, queries: np.ndarray) -> None:
    class MovingSource(FakeSource):
        """A store that another writer commits to while a catch-up reads it."""

        moves = 0

        def added_since(self, kind: str, commit: int, batch: int = 50_000):  # type: ignore[override]
            if self.moves:
                self.moves -= 1
                self.add(kind, clustered(3, DIM, seed=100 + self.moves))
            yield from super().added_since(kind, commit, batch)

    source = MovingSource(DIM)
    source.add("chunk", clustered(200, DIM, seed=1))
    index = built(tmp_path, source)
    source.add("chunk", clustered(10, DIM, seed=2))
    source.moves = 2
    index.refresh()
    assert len(index) == source.count("chunk") == 216 and index.rebuilds == 1  # the first build only
    found = [i for i, _ in index.search(queries[0], 50)]
    assert len(set(found)) == len(found) == 50
    assert index.save(force=True)  # settled: the snapshot can be written
    assert len(FaissVectors(tmp_path, "chunk", DIM, source)) == 216


def flip_bytes(path: Path, count: int = 32, seed: int = 0) -> None:
    """Overwrite `count` bytes past the header with random values (bit rot)."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for position in rng.choice(np.arange(64, len(data)), size=count, replace=False):
        data[position] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def test_corrupt_file_is_rebuilt_with_right_results(
    tmp_path: Path, source: FakeSource, queries: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    built(tmp_path, source)
    flip_bytes(tmp_path / "chunk.faiss")
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    problems = index.check()
    assert len(problems) == 1 and "checksum" in problems[0] and "chunk.faiss" in problems[0]
    with caplog.at_level(logging.WARNING):
        for query in queries:
            assert [i for i, _ in index.search(query, 10)] == brute_force(source, query, 10)
    assert index.rebuilds == 1
    assert any("chunk.faiss" in r.getMessage() and "checksum" in r.getMessage() for r in caplog.records)
    assert FaissVectors(tmp_path, "chunk", DIM, source).check() == []  # replaced on disk


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda meta: {**meta, "store_id": "store-b"}, "store_id"),
        (lambda meta: {**meta, "commit": meta["commit"] + 5}, "newer than the store"),
        (lambda meta: {**meta, "dim": DIM * 2}, "dim"),
        (lambda meta: {**meta, "count": meta["count"] + 1}, "sidecar says"),
        (lambda meta: {**meta, "kind": "sentence"}, "kind"),
        (lambda meta: {**meta, "commit": "7"}, "commit"),
        (lambda meta: ["not", "an", "object"], "JSON object"),
    ],
    ids=["other-store", "newer-than-store", "dim", "count", "kind", "commit-type", "not-object"],
)
def test_a_sidecar_that_does_not_fit_is_rebuilt(
    tmp_path: Path,
    source: FakeSource,
    queries: np.ndarray,
    caplog: pytest.LogCaptureFixture,
    damage,
    reason: str,
) -> None:
    built(tmp_path, source)
    meta_path = tmp_path / "chunk.json"
    meta_path.write_text(json.dumps(damage(json.loads(meta_path.read_text()))))
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert any(reason in p for p in index.check())
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)
    assert index.rebuilds == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "chunk.faiss" in record.getMessage() and reason in record.getMessage()
    assert json.loads(meta_path.read_text())["store_id"] == "store-a"


def test_snapshot_from_another_store_is_rebuilt(
    tmp_path: Path, source: FakeSource, queries: np.ndarray
) -> None:
    other = FakeSource(DIM, store_id="store-b")
    other.add("chunk", clustered(1500, DIM, seed=50))
    built(tmp_path, other)
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)
    assert index.rebuilds == 1


def test_snapshot_newer_than_the_store_is_rebuilt(tmp_path: Path, queries: np.ndarray) -> None:
    ahead = FakeSource(DIM)
    ahead.add("chunk", clustered(500, DIM, seed=1))
    ahead.add("chunk", clustered(500, DIM, seed=3))
    built(tmp_path, ahead)
    behind = FakeSource(DIM)  # the same store restored from an older copy
    behind.add("chunk", clustered(500, DIM, seed=1))
    index = FaissVectors(tmp_path, "chunk", DIM, behind)
    assert len(index) == 500 and index.rebuilds == 1
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(behind, queries[0], 10)


@pytest.mark.parametrize("which", ["chunk.faiss", "chunk.json"])
def test_missing_file_is_built(tmp_path: Path, source: FakeSource, queries: np.ndarray, which: str) -> None:
    built(tmp_path, source)
    (tmp_path / which).unlink()
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert index.check() and index.search(queries[0], 10)
    assert index.rebuilds == 1 and (tmp_path / which).exists()
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)


@pytest.mark.parametrize("content", [b"", b"garbage" * 10])
def test_unreadable_index_file_is_rebuilt(tmp_path: Path, source: FakeSource, content: bytes) -> None:
    built(tmp_path, source)
    (tmp_path / "chunk.faiss").write_bytes(content)
    meta_path = tmp_path / "chunk.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "crc32": zlib.crc32(content)}))  # checksum agrees
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert any("not a FAISS index" in p for p in index.check())
    assert len(index) == 1500 and index.rebuilds == 1


def test_index_and_store_disagreeing_on_size_is_rebuilt(tmp_path: Path, source: FakeSource) -> None:
    built(tmp_path, source)

    class Undercounting(FakeSource):
        """The store says it has one row more than it yields."""

        def count(self, kind: str) -> int:
            return super().count(kind) + 1

    liar = Undercounting(DIM)
    liar._kinds, liar._commit = source._kinds, source._commit
    index = FaissVectors(tmp_path, "chunk", DIM, liar)
    assert any("the store has 1501" in p for p in index.check())
    assert len(index) == 1500 and index.rebuilds == 1


def test_save_writes_only_past_the_lag_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "SAVE_MIN_LAG", 100)
    source = FakeSource(DIM)
    source.add("chunk", clustered(1500, DIM, seed=1))
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert index.save() is False  # the first use built and wrote it
    written = index.snapshots_written
    assert written == 1
    ids = source.add("chunk", clustered(100, DIM, seed=2))  # lag 100: not past max(100, 10% of 1600)
    assert index.save() is False
    source.remove("chunk", ids[:60])  # lag 160 > 154
    assert index.save() is True and index.snapshots_written == written + 1
    assert json.loads((tmp_path / "chunk.json").read_text())["count"] == 1540
    source.add("chunk", clustered(5, DIM, seed=3))
    assert index.save() is False and index.save(force=True) is True
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path: Path, source: FakeSource) -> None:
    dead = tmp_path / ".chunk.faiss.999999999.tmp"
    dead.write_bytes(b"half a file")
    built(tmp_path, source)
    assert not dead.exists()


@pytest.fixture
def ivf_source() -> FakeSource:
    """4,000 clustered 64-dimensional vectors: the ivf tier with exact_max=2,000."""
    store = FakeSource(64)
    store.add("chunk", clustered(4000, 64, centroids=40, spread=0.6, seed=11))
    return store


def test_ivf_tier_recall_and_exact_scores(tmp_path: Path, ivf_source: FakeSource) -> None:
    index = FaissVectors(tmp_path, "chunk", 64, ivf_source, exact_max=2000)
    assert index.tier == "ivf" and len(index) == 4000 and index.nprobe
    ids, vectors = ivf_source.all_vectors("chunk")
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    queries = clustered(50, 64, centroids=40, spread=0.6, seed=12)
    recall = []
    for query in queries:
        found = index.search(query, 10)
        exact = brute_force(ivf_source, query, 10)
        recall.append(len({i for i, _ in found} & set(exact)) / 10)
        for i, score in found:
            assert score == pytest.approx(float(vector_of[i] @ query), abs=1e-5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert np.mean(recall) >= 0.95
    meta = json.loads((tmp_path / "chunk.json").read_text())
    assert meta["tier"] == "ivf" and meta["trained_on"] == 4000 and meta["nprobe"] == index.nprobe
    assert meta["factory"].startswith("IVF") and "PQ8" in meta["factory"]
    reopened = FaissVectors(tmp_path, "chunk", 64, ivf_source, exact_max=2000)
    assert reopened.search(queries[0], 10) == index.search(queries[0], 10) and reopened.rebuilds == 0


def test_ivf_tier_catches_up_and_drops_removed_ids(tmp_path: Path, ivf_source: FakeSource) -> None:
    index = built(tmp_path, ivf_source, exact_max=2000)
    query = clustered(1, 64, centroids=40, spread=0.6, seed=12)[0]
    best = [i for i, _ in index.search(query, 3)]
    ivf_source.remove("chunk", best)
    new_ids = ivf_source.add("chunk", clustered(30, 64, centroids=40, spread=0.6, seed=13))
    reader = FaissVectors(tmp_path, "chunk", 64, ivf_source, exact_max=2000)
    found = {i for i, _ in reader.search(query, 50)}
    assert not found & set(best) and len(reader) == 4027 and reader.rebuilds == 0
    for new_id, vector in zip(new_ids, ivf_source.vectors_of("chunk", new_ids.tolist()), strict=True):
        assert reader.search(vector, 1)[0][0] == new_id


@pytest.mark.parametrize("missing", ["nan", "raise"])
def test_ivf_search_skips_ids_removed_since_the_last_refresh(tmp_path: Path, missing: str) -> None:
    source = FakeSource(64, missing=missing)
    source.add("chunk", clustered(4000, 64, centroids=40, spread=0.6, seed=11))
    reader = FaissVectors(tmp_path, "chunk", 64, source, exact_max=2000)
    query = clustered(1, 64, centroids=40, spread=0.6, seed=12)[0]
    best = [i for i, _ in reader.search(query, 5)]
    source.remove("chunk", best[:2])  # another process; the reader has not refreshed
    found = [i for i, _ in reader.search(query, 5)]
    assert found[:3] == best[2:] and not set(found) & set(best[:2])
    assert (reader.commit == source.commit()) == (missing == "raise")  # KeyError made it catch up


def test_tier_follows_the_size(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = FakeSource(64)
    ids = source.add("chunk", clustered(1900, 64, centroids=40, spread=0.6, seed=1))
    index = built(tmp_path, source, exact_max=2000)
    assert index.tier == "flat"
    source.add("chunk", clustered(2100, 64, centroids=40, spread=0.6, seed=2))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        index.refresh()
    assert index.tier == "ivf" and len(index) == 4000 and index.rebuilds == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    source.remove("chunk", ids.tolist() + list(range(1901, 3001)))  # down to exact_max / 2
    index.refresh()
    assert index.tier == "flat" and len(index) == 1000


def test_too_few_vectors_to_train_stay_exact(tmp_path: Path, source: FakeSource, queries: np.ndarray) -> None:
    index = FaissVectors(tmp_path, "sentence", DIM, source, exact_max=10)  # 300 sentence vectors
    assert index.tier == "flat" and index.rebuilds == 1
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10, "sentence")
    index.refresh()
    assert index.rebuilds == 1


def test_ivf_retrains_after_growing_fourfold(tmp_path: Path) -> None:
    source = FakeSource(64)
    source.add("chunk", clustered(1200, 64, centroids=40, spread=0.6, seed=1))
    index = built(tmp_path, source, exact_max=1000)
    assert index.tier == "ivf"
    source.add("chunk", clustered(3600, 64, centroids=40, spread=0.6, seed=2))
    index.refresh()
    assert index.rebuilds == 1  # 4,800 is not more than 4 x 1,200
    source.add("chunk", clustered(100, 64, centroids=40, spread=0.6, seed=3))
    index.refresh()
    assert index.rebuilds == 2 and json.loads((tmp_path / "chunk.json").read_text())["trained_on"] == 4900


def plant_huge_vector(path: Path, meta_path: Path, vector: np.ndarray) -> None:
    """Overwrite one stored (float16) vector's first component with 6e4 and make the checksum
    agree, as a bit flip before the checksum was taken would."""
    data = bytearray(path.read_bytes())
    where = bytes(data).find(vector.astype(np.float16).tobytes())
    assert where > 0
    data[where : where + 2] = struct.pack("<e", 6e4)
    path.write_bytes(bytes(data))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "crc32": zlib.crc32(bytes(data))}))


def test_a_huge_vector_is_detected_and_rebuilt(
    tmp_path: Path, source: FakeSource, queries: np.ndarray
) -> None:
    built(tmp_path, source)
    ids, vectors = source.all_vectors("chunk")
    plant_huge_vector(tmp_path / "chunk.faiss", tmp_path / "chunk.json", vectors[7])
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    problems = index.check()
    assert len(problems) == 1 and "norm" in problems[0] and f"id {ids[7]}" in problems[0]
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)
    assert index.rebuilds == 1 and index.check() == []


def test_check_passes_on_a_sound_index_and_adopts_it(tmp_path: Path, source: FakeSource) -> None:
    built(tmp_path, source)
    source.add("chunk", clustered(10, DIM, seed=8))
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert index.check() == []
    assert len(index) == 1510 and index.rebuilds == 0


def test_rebuild_replaces_the_snapshot(tmp_path: Path, source: FakeSource) -> None:
    index = built(tmp_path, source)
    before = index.snapshots_written
    index.rebuild()
    assert index.rebuilds == 2 and index.snapshots_written == before + 1 and index.check() == []


def test_an_unwritable_folder_is_a_clear_error_on_rebuild_and_a_warning_on_open(
    tmp_path: Path, source: FakeSource, queries: np.ndarray
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    index = FaissVectors(blocked, "chunk", DIM, source)
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)
    from retrieval.errors import IndexWriteError

    with pytest.raises(IndexWriteError, match="chunk.faiss"):
        index.rebuild()


def test_ivf_params_fit_the_size() -> None:
    small, large = ivf_params(4000, 64), ivf_params(1_000_000, 512)
    assert small.nlist * 39 <= small.train_size <= 4000 and small.m == 8 and small.nbits < 8
    assert large.m == 64 and large.nbits == 8 and large.nlist >= 512 and 1 <= large.nprobe <= large.nlist
    assert ivf_params(10**6, 512, available=1000).train_size == 1000


def test_a_float32_flat_snapshot_of_an_earlier_version_is_rebuilt_as_float16(
    tmp_path: Path, source: FakeSource, queries: np.ndarray
) -> None:
    import faiss

    ids, vectors = source.all_vectors("chunk")
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    old.add_with_ids(vectors, ids)
    faiss.write_index(old, str(tmp_path / "chunk.faiss"))
    meta = {
        "format": 1, "store_id": source.store_id, "commit": source.commit(), "count": len(ids),
        "crc32": zlib.crc32((tmp_path / "chunk.faiss").read_bytes()), "kind": "chunk", "dim": DIM,
        "tier": "flat", "factory": "IDMap2,Flat", "nprobe": None, "trained_on": 0,
    }  # fmt: skip
    (tmp_path / "chunk.json").write_text(json.dumps(meta))
    index = FaissVectors(tmp_path, "chunk", DIM, source)
    assert [i for i, _ in index.search(queries[0], 10)] == brute_force(source, queries[0], 10)
    assert index.rebuilds == 1
    assert json.loads((tmp_path / "chunk.json").read_text())["factory"] == "IDMap2,SQfp16"
    assert (tmp_path / "chunk.faiss").stat().st_size < vectors.nbytes * 0.6  # float16 rows


def test_the_exact_tier_serves_stored_vectors_equal_to_the_stores(
    tmp_path: Path, source: FakeSource
) -> None:
    index = built(tmp_path, source)
    ids, _ = source.all_vectors("chunk")
    picked = [int(i) for i in ids[[5, 0, 1499, 700, 5]]]
    assert np.array_equal(index.stored_vectors(picked), source.vectors_of("chunk", picked))
    assert index.stored_vectors([*picked, 10**9]) is None  # an id not indexed: read the store
    # After removals and additions the id -> row map follows the index.
    source.remove("chunk", picked[:2])
    new_ids = source.add("chunk", clustered(10, DIM, seed=5)).tolist()
    index.refresh()
    assert index.stored_vectors(picked[:1]) is None
    later = [*new_ids[::-1], *picked[2:4]]
    assert np.array_equal(index.stored_vectors(later), source.vectors_of("chunk", later))


def test_the_approximate_tier_serves_no_stored_vectors(tmp_path: Path, ivf_source: FakeSource) -> None:
    index = FaissVectors(tmp_path, "chunk", 64, ivf_source, exact_max=2000)
    assert index.tier == "ivf" and index.stored_vectors([0, 1]) is None
