"""Milvus as the vector store, on milvus-lite in a temporary file (no server, no network).

A test against a real Milvus server runs only when NEWSBOT_MILVUS_TEST_URI is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.errors import EmbedderMismatchError, IndexCorruptError
from retrieval.index import NewsIndex
from retrieval.pipeline import Newsbot
from retrieval.store.milvus import MilvusStore, MilvusTarget, MilvusVectors
from retrieval.store.milvus_records import vector_rows
from retrieval.store.replica import published
from retrieval.store.vectors import FaissVectors, VectorIndex
from tests.conftest import ARTICLES
from tests.retrieval.store.fakes import FakeSource, clustered

DIM = 32
QUESTIONS = [
    "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
    "Wann soll die U5 eröffnet werden?",
    "Was kostet die neue U-Bahn in Wien?",
    "Wer hat den Mond betreten?",
]


def write_corpus(path: Path, articles: list[dict]) -> Path:
    """A JSONL corpus file."""
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")
    return path


def make_bot(tmp_path: Path, store: str, name: str = "", **settings: object) -> Newsbot:
    """A Newsbot with the hash embedder over its own index folder, on the given store."""
    home = tmp_path / (name or store)
    return Newsbot(
        Settings(home=home, store=store, **settings),  # type: ignore[arg-type]
        embedder=HashEmbedder(),
        index_dir=home / "index",
    )


def outcome(bot: Newsbot) -> list[tuple]:
    """Every question's answer text, abstention and citations (article, span)."""
    out = []
    for question in QUESTIONS:
        answer = bot.answer(question)
        spans = [(c.article_id, c.chunk_id, c.start, c.end) for c in answer.citations]
        out.append((answer.text, answer.abstained, spans))
    return out


def ranked(hits: list[tuple[int, float]]) -> list[tuple[float, frozenset[int]]]:
    """Hits as groups of ids with equal scores, best first (ties may come in any order)."""
    groups: dict[float, set[int]] = {}
    for i, score in hits:
        groups.setdefault(round(score, 4), set()).add(i)
    return [(score, frozenset(ids)) for score, ids in groups.items()]


def searches(bot: Newsbot) -> list[tuple]:
    """Ids found by chunk and sentence search for each question (all of them: no tie is cut off)."""
    found = []
    for question in QUESTIONS:
        vector = bot.embedder.embed([question])[0]
        chunks = ranked(bot.index.search_chunks(vector, 100))
        sentences = ranked(bot.index.search_sentences(vector, 100))
        found.append((chunks, sentences))
    return found


def test_index_answer_update_remove_equal_the_local_store(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    bots = {store: make_bot(tmp_path, store) for store in ("local", "milvus")}
    for bot in bots.values():
        bot.index_paths([corpus], progress=False)
    assert isinstance(bots["milvus"].index.vectors["chunk"], MilvusVectors)
    assert (tmp_path / "milvus" / "index" / "milvus.db").exists()
    assert outcome(bots["milvus"]) == outcome(bots["local"])
    assert searches(bots["milvus"]) == searches(bots["local"])
    assert outcome(bots["milvus"])[0][2], "the Graz question is answered with citations"

    changed = dict(ARTICLES[1], text=ARTICLES[1]["text"] + " Die Schäden betragen 2 Millionen Euro.")
    update = write_corpus(tmp_path / "update.jsonl", [changed])
    for bot in bots.values():
        bot.index_paths([update], progress=False)
    assert outcome(bots["milvus"]) == outcome(bots["local"])

    for bot in bots.values():
        assert bot.remove(["graz-1"]) == ["graz-1"]
    assert outcome(bots["milvus"]) == outcome(bots["local"])
    assert outcome(bots["milvus"])[0][1] or all(a != "graz-1" for a, *_ in outcome(bots["milvus"])[0][2])
    milvus_chunks = bots["milvus"].index.vectors["chunk"]
    assert len(milvus_chunks) == bots["milvus"].index.counts()[1]
    assert bots["milvus"].check() == []

    # a new process sees the same collections without writing them again
    assert bots["milvus"].index.milvus is not None
    pushed = published(bots["milvus"].index.milvus.get_meta())
    bots["milvus"].close()
    again = make_bot(tmp_path, "milvus")
    chunks = again.index.vectors["chunk"]
    assert isinstance(chunks, MilvusVectors)
    assert searches(again) == searches(bots["local"])
    assert again.index.milvus is not None and published(again.index.milvus.get_meta()) == pushed
    assert chunks.rebuilds == 0
    for bot in (again, bots["local"]):
        bot.close()


def test_milvus_bm25_scores_chunks_like_the_local_lexical_index(tmp_path: Path) -> None:
    from retrieval.language import query_terms

    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    local, milvus = make_bot(tmp_path, "local"), make_bot(tmp_path, "milvus", milvus_bm25=True)

    def lexical(bot: Newsbot) -> list[list[tuple[int, float]]]:
        return [[(i, round(s, 4)) for i, s in bot.index.search_terms(query_terms(q), 10)] for q in QUESTIONS]

    for bot in (local, milvus):
        bot.index_paths([corpus], progress=False)
    assert milvus.index.milvus_terms is not None and len(milvus.index.milvus_terms) == local.index.counts()[1]
    assert lexical(milvus) == lexical(local) and any(lexical(local))
    assert outcome(milvus) == outcome(local)
    for bot in (local, milvus):
        bot.remove(["graz-1"])
    # removed chunks are gone, but milvus-lite's BM25 statistics (document frequencies, mean length)
    # still count them (observed), so after removals the scores drift; here the order does not
    assert [[i for i, _ in hits] for hits in lexical(milvus)] == [
        [i for i, _ in hits] for hits in lexical(local)
    ]
    local.close()
    milvus.close()


def _pushed(store: MilvusStore, source: FakeSource) -> MilvusVectors:
    """The chunk collection holding the source's rows, as a push writes them in newsbot."""
    store.ensure("chunk")
    ids, vectors = source.all_vectors("chunk")
    name = store.collection("chunk")
    store.client.upsert(name, vector_rows(source, "chunk", ids, vectors, source.commit()))
    store.client.flush(name)
    return MilvusVectors(store, "chunk", source)


def test_search_equals_faiss_exact_search(tmp_path: Path) -> None:
    source = FakeSource(DIM)
    source.add("chunk", clustered(600, DIM, seed=1))
    source.remove("chunk", np.arange(1, 600, 7))
    source.add("chunk", clustered(100, DIM, seed=3))
    store = MilvusStore(MilvusTarget(str(tmp_path / "m.db")), embedder="fake", dim=DIM, store_id="store-a")
    milvus = _pushed(store, source)
    faiss = FaissVectors(tmp_path / "faiss", "chunk", DIM, source)
    assert isinstance(milvus, VectorIndex)
    assert len(milvus) == len(faiss) == source.count("chunk")
    for query in clustered(15, DIM, seed=99):
        got, want = milvus.search(query, 10), faiss.search(query, 10)
        assert ranked(got) == ranked(want)
    store.close()


def test_another_embedder_or_schema_is_a_clear_error(tmp_path: Path) -> None:
    uri = str(tmp_path / "shared.db")
    bot = make_bot(tmp_path, "milvus", milvus_uri=uri)
    bot.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    store_id = bot.index.records.store_id
    bot.close()

    with pytest.raises(EmbedderMismatchError, match="demo-hash"):
        MilvusStore(MilvusTarget(uri), embedder="other", dim=64, store_id=store_id)
    with pytest.raises(EmbedderMismatchError, match="dim 64"):
        MilvusStore(MilvusTarget(uri), embedder="demo-hash", dim=32, store_id=store_id)

    store = MilvusStore(MilvusTarget(uri), embedder="demo-hash", dim=64, store_id=store_id)
    store.put_meta({"schema": "0"})
    store.close()
    with pytest.raises(IndexCorruptError, match="schema 0"):
        NewsIndex(tmp_path / "milvus" / "index", HashEmbedder(), milvus=MilvusTarget(uri))


def test_an_empty_data_dir_on_another_stores_archive_becomes_its_replica(tmp_path: Path) -> None:
    # (a store with articles of its own is refused instead: tests/retrieval/store/test_milvus_shared.py)
    uri = str(tmp_path / "shared.db")
    first = make_bot(tmp_path, "milvus", name="first", milvus_uri=uri)
    first.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    first.close()
    second = make_bot(tmp_path, "milvus", name="second", milvus_uri=uri)
    second.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES[1:])], progress=False)
    vector = second.embedder.embed(["Feuerwehrleute"])[0]
    found = second.index.chunks([i for i, _ in second.index.search_chunks(vector, 10)])
    assert {c.article_id for c in found.values()} == {a["id"] for a in ARTICLES}
    assert len(second.index.vectors["chunk"]) == second.index.counts()[1]
    second.close()


def test_settings_check_the_uri_and_keep_the_token_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ending in .db"):
        Settings(home=tmp_path, store="milvus", milvus_uri="./news.sqlite")
    with pytest.raises(ValueError, match="milvus_collection"):
        Settings(home=tmp_path, milvus_collection="bad-name")
    settings = Settings(
        home=tmp_path, store="milvus", milvus_uri="https://milvus.example:19530", milvus_token="u:secret"
    )
    target = settings.milvus_target(tmp_path / "index")
    assert target is not None and target.token == "u:secret" and not target.is_lite
    assert "secret" not in repr(target) and "secret" not in repr(settings)
    assert Settings(home=tmp_path).milvus_target(tmp_path) is None
    lite = Settings(home=tmp_path, store="milvus").milvus_target(tmp_path / "index")
    assert lite is not None and lite.uri == str(tmp_path / "index" / "milvus.db") and lite.is_lite


def test_evaluation_uses_collections_of_its_own_and_drops_them(tmp_path: Path) -> None:
    local = Settings(home=tmp_path)
    assert local.for_evaluation() is local
    lite = Settings(home=tmp_path, store="milvus", milvus_uri=str(tmp_path / "mine.db")).for_evaluation()
    assert lite.milvus_target(tmp_path / "eval" / "index") == MilvusTarget(
        str(tmp_path / "eval/index/milvus.db")
    )
    server = Settings(home=tmp_path, store="milvus", milvus_uri="http://127.0.0.1:19530").for_evaluation()
    target = server.milvus_target(tmp_path)
    assert target is not None and target.temporary and target.prefix.startswith("newsbot_eval_")

    uri = str(tmp_path / "t.db")
    store = MilvusStore(MilvusTarget(uri, prefix="tmp", temporary=True), embedder="e", dim=DIM, store_id="s")
    MilvusVectors(store, "chunk", FakeSource(DIM)).refresh()
    assert store.client.has_collection("tmp_chunk")
    store.close()
    kept = MilvusStore(MilvusTarget(uri, prefix="kept"), embedder="e", dim=DIM, store_id="s")
    assert not kept.client.has_collection("tmp_chunk") and not kept.client.has_collection("tmp_meta")
    kept.close()


def test_cli_store_flag_answers_from_milvus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bot.cli import main

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for article in ARTICLES:
        (seeds / f"{article['id']}.txt").write_text(article["title"] + "\n\n" + article["text"], "utf-8")
    monkeypatch.setenv("NEWSBOT_SEEDS", str(seeds))
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    assert main(["--store", "milvus", "ask", "Wie viele Feuerwehrleute waren in Graz im Einsatz?"]) == 0
    assert "300 Feuerwehrleute" in capsys.readouterr().out
    assert (Path(os.environ["NEWSBOT_HOME"]) / "index" / "milvus.db").exists()


def test_another_process_answers_from_the_collections(tmp_path: Path) -> None:
    """Collections come back released when milvus-lite reopens its file; newsbot loads them."""
    bot = make_bot(tmp_path, "milvus")
    bot.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    expected = searches(bot)[0]
    bot.close()
    script = (
        "import sys; from pathlib import Path; "
        "from tests.retrieval.store.test_milvus import make_bot, searches; "
        "bot = make_bot(Path(sys.argv[1]), 'milvus'); print(repr(searches(bot)[0])); bot.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr(expected)


def test_migrate_to_milvus_and_back(tmp_path: Path) -> None:
    local = make_bot(tmp_path, "local", name="home")
    local.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    expected = outcome(local)
    lines = local.migrate("milvus")
    assert lines == [
        f"chunk vectors in the milvus store: {local.index.counts()[1]}",
        f"sentence vectors in the milvus store: {len(local.index.vectors['sentence'])}",
        f"article records in the milvus store: {len(ARTICLES)}",
        f"chunk terms for Milvus' BM25: {local.index.counts()[1]}",  # the default since issue 14
    ]
    local.close()

    home = tmp_path / "home"
    milvus = Newsbot(Settings(home=home, store="milvus"), embedder=HashEmbedder(), index_dir=home / "index")
    assert outcome(milvus) == expected
    chunks = milvus.index.vectors["chunk"]
    assert isinstance(chunks, MilvusVectors) and chunks.rebuilds == 0  # filled by the migration
    assert len(chunks) == milvus.index.counts()[1]

    assert milvus.remove(["wien-1"]) == ["wien-1"]  # a change made on the milvus store ...
    after = outcome(milvus)
    assert milvus.migrate("local", drop=True)[-1].startswith("dropped the Milvus collections 'newsbot_*'")
    back = make_bot(tmp_path, "local", name="home")
    assert outcome(back) == after  # ... is in the local store too (the record store is shared)
    store = MilvusStore(
        MilvusTarget(str(home / "index" / "milvus.db")), embedder="demo-hash", dim=64, store_id="x"
    )
    assert not store.client.has_collection("newsbot_chunk")
    store.close()
    back.close()


@pytest.mark.skipif(not os.environ.get("NEWSBOT_MILVUS_TEST_URI"), reason="NEWSBOT_MILVUS_TEST_URI not set")
def test_a_real_server_round_trip(tmp_path: Path) -> None:
    prefix = f"newsbot_test_{uuid.uuid4().hex[:8]}"
    server = {
        "milvus_uri": os.environ["NEWSBOT_MILVUS_TEST_URI"],
        "milvus_token": os.environ.get("NEWSBOT_MILVUS_TEST_TOKEN") or None,
        "milvus_collection": prefix,
    }
    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    local, remote = make_bot(tmp_path, "local"), make_bot(tmp_path, "milvus", **server)
    try:
        for bot in (local, remote):
            bot.index_paths([corpus], progress=False)
        assert outcome(remote) == outcome(local)
        for bot in (local, remote):
            bot.remove(["wien-1"])
        assert outcome(remote) == outcome(local)
    finally:
        if remote.index.milvus is not None:
            remote.index.milvus.drop_all()
        remote.close()
        local.close()
