"""Several newsbots sharing one Milvus archive (one writer, many replicas), on milvus-lite files.

milvus-lite serves a .db file to one process at a time, so "another machine" is another Newsbot with
its own, empty data dir on the same .db: opened after the first one closed, or in the same process
(the embedded server is shared there)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from retrieval.pipeline import Newsbot
from retrieval.store import milvus_records
from retrieval.store.milvus import MilvusStore, MilvusTarget
from retrieval.store.replica import ArchiveBusyError, ArchiveMismatchError, Lease, published
from tests.conftest import ARTICLES
from tests.retrieval.store.test_milvus import make_bot, outcome, write_corpus

EXTRA = {
    "id": "salzburg-1",
    "title": "Festspiele in Salzburg",
    "date": "2015-07-20",
    "source": "APA",
    "text": "Die Salzburger Festspiele beginnen am Montag. Erwartet werden 250.000 Besucher aus aller Welt.",
}


def shared(tmp_path: Path, name: str) -> Newsbot:
    """A newsbot with its own data dir on the shared archive file."""
    return make_bot(tmp_path, "milvus", name=name, milvus_uri=str(tmp_path / "archive.db"))


def local_answers(tmp_path: Path, name: str, articles: list[dict]) -> list[tuple]:
    """What a local-store newsbot over these articles answers."""
    bot = make_bot(tmp_path, "local", name=name)
    bot.index_paths([write_corpus(tmp_path / f"{name}.jsonl", articles)], progress=False)
    try:
        return outcome(bot)
    finally:
        bot.close()


def ids_of(bot: Newsbot) -> tuple[list[str], list[int], list[int]]:
    """The article ids, chunk ids and sentence ids of a newsbot's local store."""
    db = bot.index.records.db
    return (
        [r[0] for r in db.execute("SELECT id FROM articles ORDER BY id")],
        [r[0] for r in db.execute("SELECT id FROM chunks ORDER BY id")],
        [r[0] for r in db.execute("SELECT id FROM sentences ORDER BY id")],
    )


def test_a_second_data_dir_answers_with_the_same_citations(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    expected, ids = outcome(writer), ids_of(writer)
    assert expected[0][2], "the Graz question is answered with citations"
    writer.close()

    replica = shared(tmp_path, "replica")
    assert not (tmp_path / "replica" / "index").exists() and replica.has_index()
    assert outcome(replica) == expected
    assert ids_of(replica) == ids  # the archive's ids are kept
    archive = replica.index.archive
    assert archive is not None and archive.pulled == len(ARTICLES)
    assert replica.index.records.article("graz-1").text == ARTICLES[1]["text"]
    assert replica.index.lexical.count() == len(ids[1])

    # the chunk rows are self-contained for any Milvus client
    milvus = replica.index.milvus
    assert milvus is not None
    rows = milvus.client.query(
        "newsbot_chunk", filter="id >= 0", output_fields=["id", "text", "article_id", "title", "commit"]
    )
    chunk = replica.index.chunks([rows[0]["id"]])[rows[0]["id"]]
    article = replica.index.article(chunk.article_id)
    assert rows[0]["text"] == article.text[chunk.start : chunk.end]
    assert (rows[0]["article_id"], rows[0]["title"]) == (article.id, article.title)
    assert rows[0]["commit"] >= 1
    replica.close()


def test_writes_reach_a_replica_on_refresh(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    replica = shared(tmp_path, "replica")
    assert [a.id for a in replica.sources()] == [ARTICLES[0]["id"]]

    writer.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES[1:])], progress=False)
    assert outcome(replica) == outcome(writer) == local_answers(tmp_path, "all", ARTICLES)
    assert ids_of(replica) == ids_of(writer)

    assert writer.remove(["graz-1"]) == ["graz-1"]
    assert outcome(replica) == outcome(writer)
    assert [a.id for a in replica.sources()] == [ARTICLES[0]["id"]]
    assert replica.index.counts() == writer.index.counts()
    assert replica.index.lexical.count() == writer.index.counts()[1]

    # the replica writes in its turn (the writer's lease is free again); the first one catches up
    replica.index_articles([_article(EXTRA)])
    assert "salzburg-1" in [a.id for a in writer.sources()]
    assert ids_of(writer) == ids_of(replica)
    for bot in (writer, replica):
        bot.close()


def test_a_store_with_its_own_articles_is_refused_and_the_archive_kept(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    expected = outcome(writer)
    archive_id = writer.index.records.store_id
    writer.close()

    other = make_bot(tmp_path, "local", name="other")
    other.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES[1:])], progress=False)
    other_id = other.index.records.store_id
    other.close()
    uri = str(tmp_path / "archive.db")
    other = make_bot(tmp_path, "milvus", name="other", milvus_uri=uri)
    with pytest.raises(ArchiveMismatchError) as refused:
        other.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    message = str(refused.value)
    assert archive_id in message and other_id in message and "migrate --to milvus --drop" in message
    with pytest.raises(ArchiveMismatchError):
        other.index_articles([_article(EXTRA)])
    other.close()

    again = shared(tmp_path, "writer")
    assert outcome(again) == expected  # untouched
    again.close()

    # the way out: replace the archive with this store
    other = make_bot(tmp_path, "milvus", name="other", milvus_uri=uri)
    lines = other.migrate("milvus", drop=True)
    assert lines[0].startswith("dropped the Milvus collections") and lines[-1].endswith(": 1")
    replica = shared(tmp_path, "replica")
    assert [a.id for a in replica.sources()] == ["graz-1"]
    replica.close()


def test_a_killed_push_is_resumed_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    before = outcome(writer)
    sent = milvus_records.record_rows

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the vectors, before the records

    monkeypatch.setattr(milvus_records, "record_rows", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES[1:])], progress=False)
    monkeypatch.setattr(milvus_records, "record_rows", sent)
    assert writer.index.records.counts()[0] == len(ARTICLES)  # stored locally
    writer.close()

    # meanwhile a replica sees the archive as it was published, and may not write
    replica = shared(tmp_path, "replica")
    assert outcome(replica) == before
    with pytest.raises(ArchiveBusyError, match="unfinished push to commit 2"):
        replica.index_articles([_article(EXTRA)])
    replica.close()

    writer = shared(tmp_path, "writer")  # the next write resumes the push (a reader only pulls)
    writer.sources()
    assert writer.index.archive is not None and writer.index.archive.pushed == 0
    writer.remove([])
    writer.close()
    replica = shared(tmp_path, "replica")
    assert outcome(replica) == local_answers(tmp_path, "all", ARTICLES)
    assert sorted(a.id for a in replica.sources()) == sorted(a["id"] for a in ARTICLES)
    replica.close()


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    store = MilvusStore(MilvusTarget(str(tmp_path / "l.db")), embedder="e", dim=8, store_id="s")
    now = [1000.0]
    first = Lease(store, "first", ttl=60, clock=lambda: now[0])
    second = Lease(store, "second", ttl=60, clock=lambda: now[0])
    first.take()
    with pytest.raises(ArchiveBusyError, match="being written by"):
        second.take()
    first.release()
    second.take()  # allowed after release
    now[0] += 61  # the second writer dies without releasing: its lease expires
    first.take()
    assert first.read()["holder"] == first.holder and first.read()["store"] == "first"
    first.renew(pushing=5)  # ... and dies during a push: nobody else may write until it finishes
    now[0] += 61
    with pytest.raises(ArchiveBusyError, match="unfinished push to commit 5"):
        Lease(store, "second", ttl=60, clock=lambda: now[0]).take()
    first = Lease(store, "first", ttl=60, clock=lambda: now[0])
    first.take()  # the same holder (its data dir) resumes
    store.put_meta({key: "5" for key in ("records_commit", "chunk_commit", "sentence_commit")})
    assert published(store.get_meta()) == 5
    first.release()
    store.close()

    # between newsbots: a writer holding the lease refuses another
    writer, replica = shared(tmp_path, "writer"), shared(tmp_path, "replica")
    writer.index_articles([_article(EXTRA)])
    replica.sources()
    with writer.index.writing(), pytest.raises(ArchiveBusyError):
        replica.index_articles([_article(ARTICLES[0])])
    replica.index_articles([_article(ARTICLES[0])])  # allowed after release
    assert len(writer.sources()) == 2
    for bot in (writer, replica):
        bot.close()


def _article(row: dict):
    from retrieval.documents import Article

    return Article(**{k: row[k] for k in ("id", "text", "title", "date", "source")}, meta=json.loads("{}"))


def dump(bot: Newsbot) -> dict[str, list[tuple]]:
    """Every row of the record store that a replica must hold exactly (vectors without their commit)."""
    db = bot.index.records.db
    queries = {
        "articles": "SELECT * FROM articles ORDER BY id",
        "chunks": "SELECT * FROM chunks ORDER BY id",
        "sentences": "SELECT * FROM sentences ORDER BY id",
        "chunk_vectors": "SELECT id, vec FROM chunk_vectors ORDER BY id",
        "sentence_vectors": "SELECT id, vec FROM sentence_vectors ORDER BY id",
        "article_sources": "SELECT * FROM article_sources ORDER BY source_id",
        "fingerprints": "SELECT * FROM fingerprints ORDER BY article_id",
        "minhash_bands": "SELECT * FROM minhash_bands ORDER BY band, key, article_id",
    }
    return {name: db.execute(sql).fetchall() for name, sql in queries.items()}


def test_merged_sources_and_their_removal_reach_a_replica_exactly(tmp_path: Path) -> None:
    from tests.retrieval.store.test_sources import COPIES, WIRE

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "wire.jsonl", WIRE)], progress=False)
    replica = shared(tmp_path, "replica")
    report = writer.index_paths([write_corpus(tmp_path / "copies.jsonl", COPIES)], progress=False).report
    assert report.merged == 2
    replica.sources()
    assert dump(replica) == dump(writer)
    assert replica.article("standard-u5").source == "Der Standard, Kurier"
    assert dump(replica)["fingerprints"] and dump(replica)["minhash_bands"]

    writer.remove(["standard-u5"])  # the story stays, under its next source
    question = "Wann soll die Linie U5 eröffnet werden?"
    assert outcome(replica) == outcome(writer)
    assert dump(replica) == dump(writer)
    cited = replica.answer(question).citations
    assert cited and cited[0].article_id == "kurier-u5"
    # the replica's fingerprints find duplicates when it writes in its turn
    writer.close()
    again = replica.index_paths([write_corpus(tmp_path / "again.jsonl", WIRE[:1])], progress=False).report
    assert (again.added, again.merged) == (0, 1)
    replica.close()


def test_migrate_to_local_rebuilds_a_local_store_from_the_archive(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    expected, ids = outcome(writer), ids_of(writer)
    writer.close()

    copy = shared(tmp_path, "copy")
    lines = copy.migrate("local")
    assert lines[0] == f"caught up from the Milvus archive 'newsbot_*': {len(ARTICLES)} articles"
    assert lines[1].startswith("chunk vectors in the local store: ")
    alone = make_bot(tmp_path, "local", name="copy")  # no Milvus at all now
    assert outcome(alone) == expected and ids_of(alone) == ids
    alone.close()


def test_a_rebuild_replaces_the_archive(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")
    assert len(replica.sources()) == len(ARTICLES)
    replica.close()
    writer.index_paths([write_corpus(tmp_path / "new.jsonl", [EXTRA])], rebuild=True, progress=False)
    assert [a.id for a in writer.sources()] == ["salzburg-1"]
    writer.close()

    fresh = shared(tmp_path, "fresh")
    assert [a.id for a in fresh.sources()] == ["salzburg-1"]
    fresh.close()
    old = shared(tmp_path, "replica")  # it follows the archive that was replaced
    with pytest.raises(ArchiveMismatchError, match="empty data dir"):
        old.sources()
    old.close()


def test_long_values_are_split_or_cut_and_come_back_exact(tmp_path: Path) -> None:
    assert milvus_records.cut("Grüße" * 3, 5) == "Grü"  # bytes, on a character boundary
    record = {"article": ["x", "ä" * 40_000], "chunks": [], "sentences": []}
    rows = milvus_records.record_rows("x", record, 7)
    assert len(rows) == 3 and all(len(r["data"].encode()) <= 65_535 for r in rows)
    assembled = milvus_records._assemble(list(reversed(rows)))
    assert assembled is not None and assembled.record == record
    assert milvus_records._assemble(rows[:2]) is None  # a part missing: not yet
    stale = dict(rows[2], commit=3)  # a leftover part of an older, longer version is ignored
    assert milvus_records._assemble([*rows, dict(stale, key="x:3", part=3)]) == assembled

    sentence = "Der Übergang über die Straße in Österreich wurde gesperrt, sagt der Bürgermeister. "
    long = dict(EXTRA, title="Überschrift " * 600, text=sentence * 800)
    writer = shared(tmp_path, "writer")
    writer.index_articles([_article(long)])
    writer.close()
    replica = shared(tmp_path, "replica")
    article = replica.article("salzburg-1")
    assert (article.text, article.title) == (long["text"], long["title"])
    milvus = replica.index.milvus
    assert milvus is not None
    row = milvus.client.query("newsbot_chunk", filter="id >= 0", output_fields=["title"], limit=1)[0]
    assert len(row["title"].encode()) <= 4_096 and article.title.startswith(row["title"])
    replica.close()


def test_a_replica_in_another_process_answers_like_the_writer(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    expected = outcome(writer)
    writer.close()
    script = (
        "import sys; from pathlib import Path; "
        "from tests.retrieval.store.test_milvus_shared import shared, outcome; "
        "bot = shared(Path(sys.argv[1]), 'replica'); print(repr(outcome(bot))); bot.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr(expected)
    assert (tmp_path / "replica" / "index" / "newsbot.sqlite3").exists()


def test_a_replica_keeps_answering_while_the_writer_repairs(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")
    expected = outcome(replica)
    milvus = writer.index.milvus
    assert milvus is not None
    with writer.index.writing():
        commit = milvus.get_meta()["chunk_commit"]
        milvus.put_meta({"chunk_commit": "0"})  # as while `repair` rebuilds the chunk collection
        assert [a.id for a in replica.sources()] == sorted(a["id"] for a in ARTICLES)
        milvus.put_meta({"chunk_commit": commit})
    milvus.put_meta({"chunk_commit": "0"})  # with no writer, a shrunken archive is an error
    with pytest.raises(ArchiveMismatchError, match="older than this replica"):
        replica.sources()
    milvus.put_meta({"chunk_commit": commit})
    assert writer.repair()[-1].startswith("rebuilt the sentence vector index")
    assert outcome(replica) == expected
    for bot in (writer, replica):
        bot.close()


def test_an_open_replica_does_not_mix_a_rebuilt_archive_with_the_old_one(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES[:2])], progress=False)
    replica = shared(tmp_path, "replica")  # stays open (a telegram bot) across the rebuild
    before = ids_of(replica)
    assert before[0] == sorted(a["id"] for a in ARTICLES[:2])
    writer.index_paths([write_corpus(tmp_path / "new.jsonl", [EXTRA])], rebuild=True, progress=False)
    second = dict(EXTRA, id="x2", text="Ein zweiter Bericht aus Linz. Die Donau steigt.")
    writer.index_articles([_article(second)])
    with writer.index.writing():  # while a writer holds the new archive's lease: the old store answers
        assert [a.id for a in replica.sources()] == before[0]
    with pytest.raises(ArchiveMismatchError, match="empty data dir"):
        replica.sources()
    assert ids_of(replica) == before  # nothing of the new archive mixed in
    for bot in (writer, replica):
        bot.close()


def test_a_reader_on_the_writers_data_dir_neither_pushes_nor_releases_its_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = shared(tmp_path, "writer")
    cli.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES[:1])], progress=False)
    bot = shared(tmp_path, "writer")  # `newsbot telegram` on the same data dir
    bot.sources()
    other = shared(tmp_path, "other")
    other.sources()
    assert cli.index.archive is not None and bot.index.archive is not None
    assert cli.index.archive.lease.holder != bot.index.archive.lease.holder  # one holder a process
    pushed = cli.index.archive.pushed
    with cli._write_lock(), cli.index.writing():
        monkeypatch.setattr(cli.index, "_after_write", lambda: None)  # no push after the commit yet
        cli._add(cli.index, [_article(EXTRA)], False)  # committed locally, pushed when the block ends
        assert cli.index.archive.pushed == pushed
        assert "salzburg-1" in [a.id for a in bot.sources()]  # the bot reads the local store
        assert bot.index.archive.pushed == 0
        lease = cli.index.archive.lease.read()
        assert lease["holder"] == cli.index.archive.lease.holder
        with pytest.raises(ArchiveBusyError):
            other.index_articles([_article(dict(EXTRA, id="o-1"))])
    assert cli.index.archive.pushed == pushed + 1 and not cli.index.archive.lease.read()
    assert "salzburg-1" in [a.id for a in other.sources()]
    for bot_ in (cli, bot, other):
        bot_.close()


def test_repair_pushes_the_archive_again_without_dropping_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")
    expected = outcome(replica)
    milvus = writer.index.milvus
    assert milvus is not None

    def dropped(kind: str) -> None:
        raise AssertionError(f"the shared {kind} collection was dropped")

    monkeypatch.setattr(milvus, "drop", dropped)
    question = replica.index.embedder.embed(["Who proposed the military talks?"])[0]
    hits = len(replica.index.vectors["chunk"].search(np.asarray(question), 10))
    seen: list[tuple[int, dict]] = []
    push = milvus_records.push

    def watched(store, records, since, target, renew=lambda: None):
        def renewing() -> None:  # between requests: the replica still finds every chunk
            seen.append((len(replica.index.vectors["chunk"].search(np.asarray(question), 10)), {}))
            renew()

        done = push(store, records, since, target, renew=renewing)
        seen.append((hits, writer.index.archive.lease.read() if writer.index.archive else {}))
        return done

    monkeypatch.setattr(milvus_records, "push", watched)
    assert writer.repair()[-1].startswith("rebuilt the sentence vector index")
    assert seen and all(n == hits for n, _ in seen)
    assert all(lease.get("holder") == writer.index.archive.lease.holder for _, lease in seen if lease)
    assert outcome(replica) == expected
    for bot in (writer, replica):
        bot.close()


def test_a_lease_taken_over_is_not_overwritten(tmp_path: Path) -> None:
    store = MilvusStore(MilvusTarget(str(tmp_path / "l.db")), embedder="e", dim=8, store_id="s")
    now = [1000.0]
    first = Lease(store, "first", ttl=60, clock=lambda: now[0])
    second = Lease(store, "second", ttl=60, clock=lambda: now[0])
    first.take()
    now[0] += 61  # the first writer stalls past its lease; another one takes it
    second.take()
    with pytest.raises(ArchiveBusyError, match="took the writer lease over"):
        first.renew(pushing=3)
    assert second.read()["holder"] == second.holder
    first.release()  # gives up nothing of the second's
    assert second.read()["holder"] == second.holder
    second.release()
    store.close()


def test_a_writer_killed_before_its_push_keeps_the_archive_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.store.replica import ArchiveSync

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    other = shared(tmp_path, "other")
    other.sources()
    with pytest.raises(RuntimeError), writer.index.writing():  # nothing committed: no push owed
        raise RuntimeError("the embedder failed")
    assert not writer.index.archive.lease.read()

    def killed(self, since: int, target: int) -> None:
        raise KeyboardInterrupt  # after the local commit, before the push marked the lease

    monkeypatch.setattr(ArchiveSync, "push", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.index_articles([_article(EXTRA)])
    monkeypatch.undo()
    lease = writer.index.archive.lease.read()
    assert float(lease["expires"]) <= time.time() and int(lease["pushing"]) == 2
    with pytest.raises(ArchiveBusyError, match="unfinished push to commit 2"):
        other.index_articles([_article(dict(EXTRA, id="o-1"))])
    writer.remove([])  # this data dir finishes its push
    assert "salzburg-1" in [a.id for a in other.sources()]
    other.index_articles([_article(dict(EXTRA, id="o-1", text="Ein Bericht aus Linz. Die Donau steigt."))])
    assert "o-1" in [a.id for a in writer.sources()]
    for bot in (writer, other):
        bot.close()


def test_a_long_write_keeps_other_writers_out_after_its_lease_expires(tmp_path: Path) -> None:
    first = shared(tmp_path, "a")
    first.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES[:1])], progress=False)
    second = shared(tmp_path, "b")
    second.sources()
    assert first.index.archive is not None
    first.index.archive.lease.ttl = 0.5  # stands for a long embedding run
    with first._write_lock(), first.index.writing():
        time.sleep(0.7)
        with pytest.raises(ArchiveBusyError, match="unfinished push"):
            second.index_articles([_article(dict(EXTRA, id="b-1"))])
        first._add(first.index, [_article(EXTRA)], False)
    assert "salzburg-1" in [a.id for a in second.sources()]
    assert ids_of(first) == ids_of(second)
    for bot in (first, second):
        bot.close()


def test_rows_pushed_again_keep_their_commit_for_replicas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from tests.retrieval.store.test_sources import COPIES, WIRE

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "wire.jsonl", WIRE)], progress=False)
    replica = shared(tmp_path, "replica")
    question = "Wann soll die Linie U5 eröffnet werden?"
    before = replica.answer(question)
    vector = np.asarray(replica.index.embedder.embed([question])[0])
    found = sorted(i for i, _ in replica.index.vectors["chunk"].search(vector, 50))
    assert found and before.citations

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the push dies after the vectors (merged sources: new display fields)

    monkeypatch.setattr(milvus_records, "record_rows", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.index_paths([write_corpus(tmp_path / "copies.jsonl", COPIES)], progress=False)
    monkeypatch.undo()
    milvus = writer.index.milvus
    assert milvus is not None
    rows = milvus.client.query("newsbot_chunk", filter="id >= 0", output_fields=["id", "commit"])
    assert {int(r["commit"]) for r in rows if int(r["id"]) in found} == {1}  # pushed again, commit kept
    assert sorted(i for i, _ in replica.index.vectors["chunk"].search(vector, 50)) == found
    after = replica.answer(question)
    assert [c.article_id for c in after.citations] == [c.article_id for c in before.citations]
    for bot in (writer, replica):
        bot.close()


def test_a_rebuild_keeps_the_archive_up_while_it_embeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")
    expected = outcome(replica)
    add = writer._add
    seen = []

    def building(index, articles, progress):  # type: ignore[no-untyped-def]
        assert index.milvus is None  # the fresh store is built without Milvus ...
        report = add(index, articles, progress)
        seen.append(outcome(replica))  # ... while the replicas answer from the archive as it was
        return report

    monkeypatch.setattr(writer, "_add", building)
    writer.index_paths([write_corpus(tmp_path / "new.jsonl", [EXTRA])], rebuild=True, progress=False)
    assert seen == [expected]
    assert [a.id for a in writer.sources()] == ["salzburg-1"]
    with pytest.raises(ArchiveMismatchError, match="empty data dir"):
        replica.sources()
    fresh = shared(tmp_path, "fresh")
    assert [a.id for a in fresh.sources()] == ["salzburg-1"]
    assert ids_of(fresh) == ids_of(writer)
    for bot in (writer, replica, fresh):
        bot.close()


def test_migrate_drop_replaces_the_archive_under_its_lease(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    other = make_bot(tmp_path, "local", name="other")
    other.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES[1:])], progress=False)
    other.close()
    other = shared(tmp_path, "other")
    with writer.index.writing(), pytest.raises(ArchiveBusyError):  # a writer is at work: not dropped
        other.migrate("milvus", drop=True)
    assert [a.id for a in writer.sources()] == [ARTICLES[0]["id"]]
    milvus = writer.index.milvus
    assert milvus is not None
    milvus.put_meta({"schema": "0"})  # an archive this newsbot cannot read is replaced all the same
    writer.close()
    lines = other.migrate("milvus", drop=True)
    assert lines[0].startswith("dropped the Milvus collections") and lines[-1].endswith(": 1")
    replica = shared(tmp_path, "replica")
    assert [a.id for a in replica.sources()] == ["graz-1"]
    for bot in (other, replica):
        bot.close()


def test_archive_exists_connects_like_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.store import replica

    target = MilvusTarget(str(tmp_path / "archive.db"))
    assert not replica.archive_exists(target)  # no file yet
    writer = shared(tmp_path, "writer")
    writer.index_articles([_article(EXTRA)])
    writer.close()
    used = []
    real = replica.connect

    def counted(pymilvus, uri, token, policy):  # type: ignore[no-untyped-def]
        used.append(policy)
        return real(pymilvus, uri, token, policy)

    monkeypatch.setattr(replica, "connect", counted)  # the retrying client of milvus_conn
    assert replica.archive_exists(target)
    assert used == [target.retry]
    assert not replica.archive_exists(MilvusTarget(str(tmp_path / "archive.db"), prefix="other"))


def test_an_open_replica_refuses_questions_while_the_archive_is_rebuilt_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")  # stays open (a telegram bot) across the rebuild
    question = "Salzburger Festspiele Besucher"
    replica.answer(question)
    seen: list[str] = []
    push = milvus_records.push

    def pushing(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:  # the new archive's ids collide with the old ones: no citation of the wrong article
            seen.append(f"answered {replica.answer(question).citations}")
        except ArchiveBusyError as exc:
            seen.append(str(exc))
        return push(*args, **kwargs)

    monkeypatch.setattr(milvus_records, "push", pushing)
    new = [EXTRA, dict(EXTRA, id="x2", text="Ein zweiter Bericht aus Linz. Die Donau steigt.")]
    writer.index_paths([write_corpus(tmp_path / "new.jsonl", new)], rebuild=True, progress=False)
    monkeypatch.setattr(milvus_records, "push", push)
    assert len(seen) == 1 and "is being rebuilt by process" in seen[0] and "try again shortly" in seen[0]
    with writer.index.writing():  # while the writer holds the new archive's lease
        with pytest.raises(ArchiveBusyError, match="is being rebuilt by process"):
            replica.answer(question)
        with pytest.raises(ArchiveBusyError, match="is being rebuilt by process"):
            replica.search(question)
        archive = replica.index.archive
        assert archive is not None and not archive.current and archive.meta.get("store_id")
    with pytest.raises(ArchiveMismatchError, match="empty data dir"):
        replica.answer(question)
    assert writer.index.archive is not None and writer.index.archive.current
    for bot in (writer, replica):
        bot.close()


def _lost_push(milvus: MilvusStore) -> None:
    """A data dir died after its local commit, before its push (the lease marked, then expired), and
    its disk is lost."""
    lease = {"holder": "lost:h:1:x", "store": "lost", "host": "h", "pid": 1}
    lease.update(expires=time.time() - 1, pushing=published(milvus.get_meta()) + 1)
    milvus.put_meta({"lease": json.dumps(lease)})


def test_a_push_left_unfinished_by_a_lost_data_dir_does_not_block_a_rebuild(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES[:1])], progress=False)
    assert writer.index.milvus is not None
    _lost_push(writer.index.milvus)
    writer.close()
    other = make_bot(tmp_path, "local", name="other")
    other.index_paths([write_corpus(tmp_path / "b.jsonl", ARTICLES)], progress=False)
    other.close()
    replica = shared(tmp_path, "replica")
    with pytest.raises(ArchiveBusyError, match="unfinished push"):  # a plain write waits for it
        replica.index_articles([_article(EXTRA)])
    replica.close()
    other = shared(tmp_path, "other")
    lines = other.migrate("milvus", drop=True)  # what that error advises
    assert lines[0].startswith("dropped the Milvus collections")
    assert f"article records in the milvus store: {len(ARTICLES)}" in lines
    assert other.index.milvus is not None
    _lost_push(other.index.milvus)
    other.index_paths([write_corpus(tmp_path / "c.jsonl", [EXTRA])], rebuild=True, progress=False)
    fresh = shared(tmp_path, "fresh")
    assert [a.id for a in fresh.sources()] == ["salzburg-1"]
    for bot in (other, fresh):
        bot.close()


def test_migrate_to_local_drops_the_archive_only_under_its_lease(tmp_path: Path) -> None:
    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "a.jsonl", ARTICLES)], progress=False)
    replica = shared(tmp_path, "replica")
    replica.sources()
    milvus = writer.index.milvus
    assert milvus is not None
    with writer._write_lock(), writer.index.writing():
        with pytest.raises(ArchiveBusyError, match="is being written by"):
            replica.migrate("local", drop=True)
        assert milvus.client.has_collection("newsbot_meta")  # kept for the writer
        assert milvus.get_meta()["store_id"] == writer.index.records.store_id
    lines = replica.migrate("local", drop=True)
    assert lines[-1].startswith("dropped the Milvus collections")
    assert not milvus.client.has_collection("newsbot_meta")
    for bot in (writer, replica):
        bot.close()


def test_lease_errors_are_newsbot_errors_and_do_not_hide_the_blocks_own(tmp_path: Path) -> None:
    from retrieval.errors import NewsbotError
    from retrieval.store.replica import ArchiveSync

    writer = shared(tmp_path, "writer")
    writer.index_articles([_article(EXTRA)])
    archive, milvus = writer.index.archive, writer.index.milvus
    assert isinstance(archive, ArchiveSync) and milvus is not None
    with pytest.raises(ValueError, match="the block's own"), archive.holding():
        milvus.client.drop_collection("newsbot_meta")  # the lease row cannot be released
        raise ValueError("the block's own")
    with pytest.raises(NewsbotError, match="writer lease"):
        archive.lease.take()
    with pytest.raises(NewsbotError, match="writer lease"):
        Lease(milvus, "other").take(replace=True)
    writer.close()


def test_a_rebuild_refused_or_failing_keeps_the_old_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.store.milvus_conn import MilvusUnavailableError
    from retrieval.store.replica import ArchiveSync

    writer = shared(tmp_path, "writer")
    writer.index_paths([write_corpus(tmp_path / "c.jsonl", ARTICLES)], progress=False)
    before = ids_of(writer)
    other = shared(tmp_path, "other")
    other.sources()
    new = write_corpus(tmp_path / "new.jsonl", [EXTRA])
    busy = pytest.raises(ArchiveBusyError, match="is being written by")
    with other._write_lock(), other.index.writing(), busy:  # another data dir is writing (an update)
        writer.index_paths([new], rebuild=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "writer").iterdir()) == ["index", "index.lock"]
    assert ids_of(writer) == before  # the old store, still following the archive

    def down(self) -> None:
        raise MilvusUnavailableError("Milvus failed while dropping the collections: down")

    monkeypatch.setattr(ArchiveSync, "replace", down)
    with pytest.raises(MilvusUnavailableError, match="down"):
        writer.index_paths([new], rebuild=True, progress=False)
    monkeypatch.undo()
    assert not (tmp_path / "writer" / "index.old").exists()
    assert ids_of(writer) == before and ids_of(other) == before
    writer.index_paths([new], rebuild=True, progress=False)
    assert [a.id for a in writer.sources()] == ["salzburg-1"]
    assert not list((tmp_path / "writer" / "index").rglob("*.faiss"))  # Milvus holds the vectors
    assert not (tmp_path / "writer" / "index.old").exists()
    for bot in (writer, other):
        bot.close()
