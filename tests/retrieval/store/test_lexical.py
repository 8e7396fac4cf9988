"""The SQLite lexical store scores like bm25s, grows in O(new) and commits with its caller."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import IndexCorruptError
from retrieval.language import query_terms, terms
from retrieval.store.lexical import FANOUT, SCHEMA, LexicalStore, unpack

Docs = dict[int, list[str]]

SENTENCES = [
    ("de", "Die Stadt Wien baut eine neue U-Bahn-Linie, die Linie U5 soll 2026 eröffnet werden."),
    ("de", "Bürgermeister Michael Häupl sprach am 18. September von einem Jahrhundertprojekt."),
    ("de", "Die Kosten der neuen Linie betragen rund 950 Millionen Euro, sagte die Stadt."),
    ("de", "In Graz trat die Mur über die Ufer; mehr als 300 Feuerwehrleute waren im Einsatz."),
    ("de", "Verletzt wurde niemand, sagte ein Sprecher der Polizei in Graz."),
    ("de", "Die Regierung in Wien beschloss ein Budget für Schulen und Spitäler."),
    ("en", "The city of Vienna is building a new underground line that opens in 2026."),
    ("en", "Floods hit Graz as the river Mur burst its banks; 300 firefighters were deployed."),
    ("en", "The mayor called the underground line a project of the century."),
    ("en", "Police said nobody was hurt when the river flooded the old town."),
    ("en", "The government in Vienna approved a budget for schools and hospitals."),
    ("en", "Firefighters and police worked through the night in the flooded streets."),
    ("de", ""),
]
QUESTIONS = [
    "Wann eröffnet die U5 in Wien?",
    "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
    "How much does the new underground line cost?",
    "Who called it a project of the century?",
    "Quantenchromodynamik",
]


def open_db(path: Path | str = ":memory:") -> sqlite3.Connection:
    """A connection with the lexical tables, in WAL mode when on disk."""
    db = sqlite3.connect(path)
    if str(path) != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


def bm25s_scores(live: Docs, query: Sequence[str]) -> dict[int, float]:
    """Positive scores of today's index: bm25s BM25() over the live docs, unknown terms dropped."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    ids = sorted(live)
    index = bm25s.BM25()
    index.index([live[i] for i in ids], show_progress=False)
    known = [t for t in query if t in index.vocab_dict]
    if not known:
        return {}
    scores = index.get_scores(known)
    return {ids[j]: float(scores[j]) for j in np.flatnonzero(scores > 0)}


def assert_scores_like_bm25s(store: LexicalStore, live: Docs, query: Sequence[str]) -> None:
    """Every positive score equals bm25s' within float32 rounding, best first; top-k agrees."""
    expected = bm25s_scores(live, query)
    got = store.search(list(query), len(live) + 10)
    assert {i for i, _ in got} == set(expected), query
    for i, score in got:
        assert score == pytest.approx(expected[i], rel=1e-6, abs=1e-7), (query, i)
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    top = store.search(list(query), 3)
    assert [s for _, s in top] == pytest.approx(sorted(expected.values(), reverse=True)[:3], rel=1e-6)


def synthetic_docs(rng: random.Random, ids: Sequence[int], vocabulary: int = 300) -> Docs:
    """Docs of 0..40 terms drawn from a Zipf-like vocabulary (some docs empty, tf often > 1)."""
    names = [f"w{r}" for r in range(vocabulary)]
    weights = [1 / (r + 1) for r in range(vocabulary)]
    return {i: rng.choices(names, weights, k=rng.choice([0, *range(1, 41)])) for i in ids}


def synthetic_queries(rng: random.Random, vocabulary: int = 300) -> list[list[str]]:
    """Queries with common, rare, repeated and unknown terms."""
    queries = [["w0"], ["w1", "w1"], ["w2", "w250", "w2", "unknown"], ["nothing", "here"]]
    for _ in range(6):
        queries.append([f"w{rng.randrange(vocabulary)}" for _ in range(rng.randint(1, 5))])
    return queries


def posting_rows(db: sqlite3.Connection) -> list[tuple[str, int, int, np.ndarray]]:
    """(term, seg, level, ids) of every stored row."""
    rows = db.execute("SELECT term, seg, level, n, ids, tfs, lens FROM postings").fetchall()
    decoded = [(t, s, lv, unpack(n, a, b, c)) for t, s, lv, n, a, b, c in rows]
    return [(t, s, lv, p.ids.astype(np.int64)) for t, s, lv, p in decoded if p is not None]


def test_scores_equal_bm25s_on_german_and_english_sentences() -> None:
    db = open_db()
    store = LexicalStore(db)
    docs = {10 + 3 * n: terms(text, lang) for n, (lang, text) in enumerate(SENTENCES)}
    items = list(docs.items())
    for part in (items[:4], items[4:9], items[9:]):
        with db:
            store.add(part)
    queries = [query_terms(q) for q in QUESTIONS]
    queries += [[*queries[0], queries[0][0]], [queries[1][0]] * 3]
    for query in queries:
        assert_scores_like_bm25s(store, docs, query)
    assert store.count() == len(docs)
    assert store.check() == []


def test_scores_equal_bm25s_after_batches_of_adds_and_removals() -> None:
    rng = random.Random(7)
    db = open_db()
    store = LexicalStore(db)
    docs = synthetic_docs(rng, range(1, 701))
    live: Docs = {}
    items = list(docs.items())
    start = 0
    while start < len(items):
        size = rng.choice([1, 2, 5, 30, 80])
        batch = items[start : start + size]
        start += size
        with db:
            store.add(batch)
        live.update(batch)
        if rng.random() < 0.3:
            gone = rng.sample(sorted(live), k=min(len(live), rng.randint(1, 12)))
            with db:
                assert store.remove([*gone, 99_999]) == len(gone)
            for i in gone:
                del live[i]
    assert db.execute("SELECT MAX(level) FROM postings").fetchone()[0] >= 1, "merges happened"
    assert db.execute("SELECT COUNT(*) FROM lexical_dead").fetchone()[0] > 0
    for query in synthetic_queries(rng):
        assert_scores_like_bm25s(store, live, query)
    assert store.count() == len(live)
    assert store.check() == []


def test_a_removed_id_added_again_and_a_replaced_id_score_their_new_terms() -> None:
    rng = random.Random(3)
    db = open_db()
    store = LexicalStore(db)
    live = synthetic_docs(rng, range(1, 101))
    with db:
        store.add(live.items())
    with db:
        store.remove([5, 6])
    live[5] = ["w1", "fresh", "fresh"]
    del live[6]
    live[7] = ["w2", "replaced"]
    with db:
        store.add([(5, live[5]), (7, live[7])])
    for query in (["fresh"], ["replaced", "w2"], ["w1", "w0"], ["w3"]):
        assert_scores_like_bm25s(store, live, query)
    with db:
        store.compact()
    for query in (["fresh"], ["replaced", "w2"], ["w1", "w0"]):
        assert_scores_like_bm25s(store, live, query)
    assert store.count() == len(live)
    assert store.check() == []


def test_adding_k_docs_to_a_store_of_1000_writes_work_proportional_to_k() -> None:
    rng = random.Random(11)
    new_batches = [
        list(synthetic_docs(rng, range(10_000 + 5 * b, 10_005 + 5 * b)).items()) for b in range(20)
    ]
    added = sum(len(set(t)) for batch in new_batches for _, t in batch)
    work = {}
    for size in (1_000, 4_000):
        db = open_db()
        store = LexicalStore(db)
        with db:
            store.rebuild(synthetic_docs(random.Random(size), range(1, size + 1)).items())
        big = {(t, s) for t, s, level, _ in posting_rows(db) if level >= 2}
        assert big, "the base has big rows"
        rows_before, postings_before = store.rows_written, store.postings_written
        changes_before = db.total_changes
        for batch in new_batches:
            with db:
                store.add(batch)
        work[size] = (store.postings_written - postings_before, store.rows_written - rows_before)
        still = {(t, s) for t, s, _, _ in posting_rows(db)}
        assert big <= still, "the big rows of the base were not rewritten"
        # rows written, the rows merges replaced, 5 chunks and a few stats per add: nothing per stored row
        changes = db.total_changes - changes_before
        assert changes <= 3 * work[size][1] + len(new_batches) * (5 + 10)
    for postings, rows in work.values():
        assert postings <= 3 * added
        assert rows <= 3 * added
    assert work[4_000][0] <= 1.5 * work[1_000][0] + 200


def test_merges_keep_results_identical_to_one_big_segment() -> None:
    rng = random.Random(5)
    docs = synthetic_docs(rng, range(1, 3 * FANOUT * FANOUT))
    one_by_one_db = open_db()
    one_by_one = LexicalStore(one_by_one_db)
    for item in docs.items():
        with one_by_one_db:
            one_by_one.add([item])
    bulk_db = open_db()
    bulk = LexicalStore(bulk_db)
    with bulk_db:
        bulk.rebuild(docs.items())
    levels = {lv for _, _, lv, _ in posting_rows(one_by_one_db)}
    assert max(levels) >= 2
    assert one_by_one_db.execute("SELECT COUNT(*) FROM postings WHERE term = 'w0'").fetchone()[0] < FANOUT * 2
    for query in synthetic_queries(rng):
        assert one_by_one.search(query, 50) == bulk.search(query, 50)
    with one_by_one_db:
        one_by_one.compact()
    for query in synthetic_queries(rng):
        assert one_by_one.search(query, 50) == bulk.search(query, 50)


def test_compact_drops_dead_ids_and_tombstones() -> None:
    rng = random.Random(9)
    db = open_db()
    store = LexicalStore(db)
    live = synthetic_docs(rng, range(1, 301))
    items = list(live.items())
    for start in range(0, len(items), 20):
        with db:
            store.add(items[start : start + 20])
    gone = rng.sample(sorted(live), 60)
    with db:
        store.remove(gone)
    for i in gone:
        del live[i]
    stored = np.concatenate([ids for *_, ids in posting_rows(db)])
    assert np.isin(gone, stored).any()
    with db:
        store.compact()
    rows = posting_rows(db)
    assert not np.isin(gone, np.concatenate([ids for *_, ids in rows])).any()
    assert db.execute("SELECT COUNT(*) FROM lexical_dead").fetchone()[0] == 0
    assert len({t for t, *_ in rows}) == len(rows), "one row per term"
    for query in synthetic_queries(rng):
        assert_scores_like_bm25s(store, live, query)
    assert store.check() == []


def test_a_second_connection_sees_a_committed_add_and_removal(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    writer_db = open_db(path)
    writer = LexicalStore(writer_db)
    with writer_db:
        writer.add([(1, ["wien", "bahn"]), (2, ["graz", "mur"])])
    reader = LexicalStore(open_db(path))
    assert [i for i, _ in reader.search(["wien"], 5)] == [1]
    with writer_db:
        writer.add([(3, ["wien", "linie", "wien"])])
        writer.remove([1])
        assert [i for i, _ in reader.search(["wien"], 5)] == [1], "uncommitted work is not seen"
    assert [i for i, _ in reader.search(["wien"], 5)] == [3]
    assert reader.count() == 2
    assert reader.vocabulary_share(["bahn", "linie"]) == 0.5
    assert reader.check() == []


def test_rollback_of_the_callers_transaction_leaves_the_store_as_before() -> None:
    rng = random.Random(13)
    db = open_db()
    store = LexicalStore(db)
    live = synthetic_docs(rng, range(1, 201))
    with db:
        store.add(live.items())
    queries = synthetic_queries(rng)
    before = [store.search(q, 20) for q in queries]
    tables = {
        t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
        for t in ("postings", "lexical_docs", "lexical_dead")
    }
    with pytest.raises(RuntimeError), db:
        for i in range(300, 300 + 3 * FANOUT):
            store.add([(i, ["w0", "w1", f"new{i}"])])
        store.remove(range(1, 50))
        store.compact()
        raise RuntimeError("caller fails")
    assert [store.search(q, 20) for q in queries] == before
    assert store.count() == len(live)
    for table, rows in tables.items():
        assert db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() == rows
    with db:
        store.remove([1, 2])
        store.add([(500, ["w0", "later"])])
    del live[1], live[2]
    live[500] = ["w0", "later"]
    for query in (["w0", "later"], ["w1"], ["new301"]):
        assert_scores_like_bm25s(store, live, query)
    assert store.check() == []


def test_vocabulary_share_counts_terms_with_a_live_posting() -> None:
    db = open_db()
    store = LexicalStore(db)
    assert store.vocabulary_share(["a"]) == 0.0
    assert store.search(["a"], 5) == []
    with db:
        store.add([(1, ["a", "b"]), (2, ["b", "c"]), (3, [])])
        store.remove([2])
    assert store.vocabulary_share(["a", "b", "c", "d"]) == 0.5
    assert store.vocabulary_share(["a", "a", "c"]) == pytest.approx(2 / 3)
    assert store.vocabulary_share([]) == 0.0
    assert store.count() == 2


def test_check_reports_damage_and_search_refuses_a_damaged_row() -> None:
    db = open_db()
    store = LexicalStore(db)
    with db:
        store.add([(1, ["a", "b", "b"]), (2, ["b", "c"])])
    assert store.check() == []
    with db:
        db.execute("UPDATE postings SET ids = x'0102' WHERE term = 'b'")
        db.execute("DELETE FROM lexical_docs WHERE chunk_id = 2")
    problems = store.check()
    assert any("'b'" in p and "damaged" in p for p in problems)
    assert any("lexical_docs holds 1" in p for p in problems)
    assert any("unknown chunk 2" in p for p in problems)
    assert any("chunk 1 has 3 terms but its postings hold 1" in p for p in problems)
    with pytest.raises(IndexCorruptError, match="term 'b'"):
        store.search(["b"], 5)
    assert store.search(["a"], 5)[0][0] == 1
    with db:
        db.execute(
            "INSERT INTO postings(term, seg, level, n, ids, tfs, lens) "
            "SELECT term, 99, level, n, ids, tfs, lens FROM postings WHERE term = 'a'"
        )
    assert any("'a' has two live postings" in p for p in store.check())


def test_adding_one_id_twice_in_one_call_is_refused() -> None:
    db = open_db()
    store = LexicalStore(db)
    with pytest.raises(ValueError, match="twice"), db:
        store.add([(1, ["a"]), (1, ["b"])])
    assert store.count() == 0


def test_top_k_with_pruned_common_terms_equals_the_full_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.store import lexical

    pruned = []

    def spy(*args: object, **kwargs: object) -> object:
        found = candidates(*args, **kwargs)
        pruned.append(found is not None)
        return found

    candidates = lexical.candidates
    monkeypatch.setattr(lexical, "candidates", spy)
    rng = random.Random(17)
    db = open_db()
    store = LexicalStore(db)
    live = synthetic_docs(rng, range(1, 1201), vocabulary=2000)
    items = list(live.items())
    for start in range(0, len(items), 150):
        with db:
            store.add(items[start : start + 150])
    gone = rng.sample(sorted(live), 100)
    with db:
        store.remove(gone)
        store.add([(5000 + i, ["w0", "w1", "w2", f"w{1000 + i}"]) for i in range(40)])
    with db:  # back without their common terms: their old postings of w0.. are dead, not absent
        store.add([(i, ["back", f"back{i % 3}", "w5"]) for i in gone[:30]])
    queries = [["back", "w0", "w1", "w0"], ["back1", "w0", "w2", "w5"], ["w0", "back2", "w1"]]
    for _ in range(60):
        queries.append(
            [f"w{rng.choice([0, 1, 2, 3, 5, 8, rng.randrange(2000)])}" for _ in range(rng.randint(2, 6))]
        )
    for query in queries:
        everything = store.search(query, 100_000)
        for k in (1, 3, 15):
            assert store.search(query, k) == everything[:k], (query, k)
    assert any(pruned) and not all(pruned)


def test_scoring_through_tables_equals_bm25s(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.store import lexical

    monkeypatch.setattr(lexical, "use_table", lambda postings, cells: True)
    rng = random.Random(19)
    db = open_db()
    store = LexicalStore(db)
    live = synthetic_docs(rng, range(1, 301))
    with db:
        store.add(live.items())
        store.remove([1, 2, 3])
    for i in (1, 2, 3):
        del live[i]
    for query in synthetic_queries(rng):
        assert_scores_like_bm25s(store, live, query)


def test_cached_rows_stay_right_while_another_connection_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.store import lexical

    monkeypatch.setattr(lexical, "CACHE_MIN", 1)
    path = tmp_path / "index.sqlite"
    writer_db = open_db(path)
    writer = LexicalStore(writer_db)
    reader = LexicalStore(open_db(path))
    rng = random.Random(23)
    docs = synthetic_docs(rng, range(1, 1001))
    queries = synthetic_queries(rng)
    live: Docs = {}
    steps = [("add", list(docs.items())[s : s + 25]) for s in range(0, 400, 25)]
    steps += [("remove", rng.sample(range(1, 401), 40)), ("compact", None)]
    steps += [("add", list(docs.items())[s : s + 50]) for s in range(400, 700, 50)]
    steps += [("rebuild", list(docs.items())[700:])]
    for action, arg in steps:
        with writer_db:
            if action == "add":
                writer.add(arg)
                live.update(arg)
            elif action == "remove":
                writer.remove(arg)
                for i in arg:
                    live.pop(i, None)
            elif action == "compact":
                writer.compact()
            else:
                writer.rebuild(arg)
                live = dict(arg)
        for query in queries[:4]:
            assert_scores_like_bm25s(reader, live, query)
    assert reader._cache.rows, "the reader kept rows"


def test_a_search_inside_a_rolled_back_transaction_leaves_no_stale_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retrieval.store import lexical

    monkeypatch.setattr(lexical, "CACHE_MIN", 1)
    db = open_db()
    store = LexicalStore(db)
    with db:
        store.add([(1, ["a", "b"]), (2, ["a"])])
    assert [i for i, _ in store.search(["a"], 5)] == [2, 1]
    with pytest.raises(RuntimeError), db:
        store.add([(3, ["a", "c"])])
        assert [i for i, _ in store.search(["c"], 5)] == [3]
        raise RuntimeError("caller fails")
    with db:
        store.add([(4, ["c", "d"])])
    live = {1: ["a", "b"], 2: ["a"], 4: ["c", "d"]}
    for query in (["a"], ["c"], ["a", "c"]):
        assert_scores_like_bm25s(store, live, query)


def test_rebuild_replaces_everything_with_one_row_per_term(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.store import lexical

    monkeypatch.setattr(lexical, "SEGMENT_TERMS", 500)
    rng = random.Random(29)
    db = open_db()
    store = LexicalStore(db)
    with db:
        store.add(synthetic_docs(rng, range(1, 200)).items())
        store.remove(range(1, 50))
    live = synthetic_docs(rng, rng.sample(range(1, 5000), 400))  # not in id order, several segments
    with db:
        store.rebuild(live.items())
    rows = posting_rows(db)
    assert len({t for t, *_ in rows}) == len(rows)
    assert db.execute("SELECT COUNT(*) FROM lexical_dead").fetchone()[0] == 0
    for query in synthetic_queries(rng):
        assert_scores_like_bm25s(store, live, query)
    assert store.check() == []
    with pytest.raises(ValueError, match="twice"), db:
        store.rebuild([*live.items(), next(iter(live.items()))])
    assert store.count() == len(live)
