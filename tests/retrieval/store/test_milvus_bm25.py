"""Milvus' own BM25 (`MilvusTerms`, milvus-lite in temporary files) ranks and scores chunks like the
local lexical index, and evaluations on the milvus store give the local store's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.evaluate import load_questions
from retrieval.evaluate.metrics import gold_rank
from retrieval.evaluate.run import default_corpus, run_eval
from retrieval.language import query_terms
from retrieval.pipeline import Newsbot
from retrieval.store.milvus_terms import MilvusTerms, ranked, terms_text, tie_cut
from tests.conftest import SHARED

XQUAD = SHARED / "eval" / "xquad-dev"

# German and English news with hyphenated words, numbers, umlauts, ß and apostrophes; one file
# per batch (tiny index batches), so the terms arrive in several commits.
MIXED = [
    {
        "id": "de-ubahn",
        "lang": "de",
        "title": "U-Bahn-Ausbau in Wien",
        "text": "Die neue U-Bahn-Linie U5 soll 2026 eröffnen. Die Kosten liegen bei 2,1 Milliarden Euro. "
        "Der Bürgermeister sprach von einem Großprojekt für die Öffi-Nutzer. Die Übergänge zur "
        "U2 werden bis 2028 umgebaut. Anrainer in der Straße beschwerten sich über Lärm.",
    },
    {
        "id": "de-graz",
        "lang": "de",
        "title": "Großbrand in Graz",
        "text": "In Graz standen 120 Feuerwehrleute im Einsatz. Das Feuer brach in einer Lagerhalle aus. "
        "Die Löscharbeiten dauerten bis 3.30 Uhr früh. Ein 54-jähriger Mitarbeiter wurde leicht "
        "verletzt. Die Schadenshöhe wird auf 1.000.000 Euro geschätzt.",
    },
    {
        "id": "en-moon",
        "lang": "en",
        "title": "Moon landing anniversary",
        "text": "Armstrong's first step on the Moon came on July 20, 1969. NASA's Apollo-11 crew "
        "returned safely. The mission cost about 25.4 billion dollars. Critics didn't believe "
        "the e-mail hoax that claimed the landing was staged in a studio.",
    },
    {
        "id": "en-tram",
        "lang": "en",
        "title": "Vienna's new tram line",
        "text": "Vienna's city council approved a new tram line for 2027. The U-Bahn extension costs "
        "more than expected. Commuters in Graz and Vienna use 24-hour tickets. The mayor's "
        "office said the line would carry 40,000 passengers a day.",
    },
    {
        "id": "de-mond",
        "lang": "de",
        "title": "Mondlandung vor 50 Jahren",
        "text": "Vor 50 Jahren betrat Armstrong den Mond. Die Apollo-11-Mission kostete rund 25 "
        "Milliarden Dollar. Millionen Menschen sahen die Übertragung im Fernsehen. Die "
        "Feuerwehr in Graz übertrug die Landung auf einer Leinwand.",
    },
]
# five chunks that BM25 scores alike for "Einsatzleiter": a query whose top 2 cuts through a tie
TIED = [
    {
        "id": f"tie-{n}",
        "lang": "de",
        "title": f"Meldung {who}",
        "text": f"Der Einsatzleiter lobte die {who}. Die {team} kam {how}.",
    }
    for n, (who, team, how) in enumerate(
        [
            ("Helfer", "Wasserwacht", "rasch"),
            ("Polizei", "Feuerwache", "pünktlich"),
            ("Sanitäter", "Rettung", "schnell"),
            ("Bergrettung", "Bundesheer", "zeitig"),
            ("Nachbarn", "Gemeinde", "prompt"),
        ]
    )
]
QUERIES = [
    "Wann eröffnet die U-Bahn-Linie U5?",
    "Was kostet der U-Bahn-Ausbau in Wien?",
    "How many firefighters were in Graz?",
    "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
    "When did Armstrong walk on the Moon in 1969?",
    "Wie teuer war die Apollo-11-Mission?",
    "Who didn't believe the e-mail hoax?",
    "Wie hoch ist der Schaden von 1.000.000 Euro?",
    "How many passengers will Vienna's tram carry?",
    "Wer beschwerte sich über den Lärm in der Straße?",
    "Was sagte der Einsatzleiter?",
]


def write_corpus(path: Path, articles: list[dict]) -> Path:
    """A JSONL corpus file."""
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", "utf-8")
    return path


def mixed_bot(tmp_path: Path, store: str, **settings: object) -> Newsbot:
    """A bot on the given store that indexed MIXED, one article per commit."""
    home = tmp_path / store
    bot = Newsbot(
        Settings(home=home, store=store, index_batch_chars=1, **settings),  # type: ignore[arg-type]
        embedder=HashEmbedder(),
        index_dir=home / "index",
    )
    bot.index_paths([write_corpus(tmp_path / "mixed.jsonl", MIXED)], progress=False)
    return bot


def both(bot: Newsbot, k: int) -> list[tuple[list[tuple[int, float]], list[tuple[int, float]]]]:
    """For each query: the local lexical index's top k and Milvus' (same store, same chunks)."""
    terms = bot.index.milvus_terms
    assert isinstance(terms, MilvusTerms)
    bot.index.refresh()
    assert terms.usable()  # the writer pushed them: questions search Milvus
    return [(bot.index.lexical.search(query_terms(q), k), terms.search(query_terms(q), k)) for q in QUERIES]


def assert_same(pairs: list[tuple[list[tuple[int, float]], list[tuple[int, float]]]]) -> None:
    """The same ids in the same order, scores equal up to float32 rounding."""
    for local, milvus in pairs:
        assert [i for i, _ in milvus] == [i for i, _ in local]
        assert all(abs(m - s) <= 1e-6 * s for (_, m), (_, s) in zip(milvus, local, strict=True))


def test_milvus_bm25_ranks_a_mixed_language_corpus_like_the_local_index(tmp_path: Path) -> None:
    bot = mixed_bot(tmp_path, "milvus")  # Milvus' BM25 is the default on the milvus store
    for k in (2, 5, 50):
        assert_same(both(bot, k))
    # articles added after the collection was searched: the statistics are the whole collection's
    bot.index_paths([write_corpus(tmp_path / "tied.jsonl", TIED)], progress=False)
    for k in (2, 5, 50):
        assert_same(both(bot, k))
    pairs = both(bot, 50)
    assert all(local for local, _ in pairs)
    tied = pairs[QUERIES.index("Was sagte der Einsatzleiter?")][0]
    assert len({s for _, s in tied[:5]}) == 1  # five tied chunks: the top 2 is decided by id

    bot.remove(["de-graz", "tie-1"])  # and removals
    assert_same(both(bot, 50))
    assert bot.index.milvus_terms is not None and len(bot.index.milvus_terms) == bot.index.counts()[1]
    bot.close()


def test_readers_never_write_the_terms_and_lagging_terms_fall_back_to_local(tmp_path: Path) -> None:
    bot = mixed_bot(tmp_path, "milvus")
    terms = bot.index.milvus_terms
    assert isinstance(terms, MilvusTerms) and terms.usable()
    store = bot.index.milvus
    assert store is not None
    store.put_meta({"terms_commit": "1"})  # as if the writer had not pushed its last commits yet
    terms.refresh()
    assert not terms.usable()
    asked = query_terms(QUERIES[0])
    assert bot.index.search_terms(asked, 5) == bot.index.lexical.search(asked, 5)
    for question in QUERIES:  # questions read; they never write the collection
        bot.answer(question)
    assert store.get_meta()["terms_commit"] == "1"
    bot.index_paths([write_corpus(tmp_path / "tied.jsonl", TIED)], progress=False)  # a write pushes
    assert store.get_meta()["terms_commit"] == str(bot.index.records.commit()) and terms.usable()
    assert_same(both(bot, 50))
    bot.close()


def test_the_local_lexical_index_stays_a_setting(tmp_path: Path) -> None:
    bot = mixed_bot(tmp_path, "milvus", milvus_bm25=False)
    assert bot.index.milvus_terms is None
    assert bot.index.search_terms(query_terms(QUERIES[0]), 5) == bot.index.lexical.search(
        query_terms(QUERIES[0]), 5
    )
    bot.close()


def test_hits_are_ranked_by_score_then_id_and_scaled_like_the_local_scores() -> None:
    hits = [(9, 5.0), (3, 2.5), (1, 2.5), (7, 0.0), (4, 2.5)]
    assert ranked(hits, 3) == [(9, 2.0), (1, 1.0), (3, 1.0)]  # Milvus' scores carry a factor k1 + 1
    assert not tie_cut([5.0, 2.5, 2.5, 2.5], 2, 4)  # the 2nd is tied with the last fetched: fetch more
    assert tie_cut([5.0, 2.5, 2.5, 1.0], 2, 4)
    assert tie_cut([5.0, 2.5, 2.5], 2, 4)  # fewer than asked: everything is in


def test_terms_text_keeps_whole_terms_within_the_field() -> None:
    assert terms_text(["größ", "u5", "2026"]) == "größ u5 2026"
    long = terms_text(["ä" * 1000] * 40)  # 2,000 bytes a term
    assert len(long.encode("utf-8")) <= 65_535 and set(long.split()) == {"ä" * 1000}


def rows(settings: Settings, questions: Path, corpus: list[Path]) -> list[dict]:
    """An evaluation's per-question rows without latency, and of the retrieved articles the gold's
    rank and the top 5: with the hash embedder the vector side has near-ties that FAISS and
    milvus-lite order differently among the deep candidates (so with NEWSBOT_MILVUS_BM25=false too)."""
    qset = load_questions(questions)
    result = run_eval(
        qset, default_corpus(qset, corpus, settings), settings, embedder=HashEmbedder(), progress=False
    )
    out = []
    for row in result.per_question:
        rank = gold_rank(row["retrieved"], row["gold"]["article_ids"])
        kept = {k: v for k, v in row.items() if k not in ("latency_ms", "retrieved")}
        out.append({**kept, "top5": row["retrieved"][:5], "gold_rank": rank})
    return out


@pytest.mark.parametrize("which", ["seed", "xquad"])
def test_evaluation_rows_on_milvus_bm25_equal_the_local_store(tmp_path: Path, which: str) -> None:
    if which == "seed":
        questions, corpus = Settings().seeds / "questions.jsonl", []
    else:
        if not XQUAD.exists():
            pytest.skip("shared/eval is not available")
        lines = (XQUAD / "questions.de.jsonl").read_text(encoding="utf-8").splitlines()
        questions = tmp_path / "slice.jsonl"
        questions.write_text("\n".join(lines[::16]) + "\n", encoding="utf-8")  # 40 questions
        corpus = [XQUAD / "corpus.jsonl"]
    found = {
        store: rows(
            Settings(home=tmp_path / store, store=store, index_batch_chars=20_000),  # several commits
            questions,
            corpus,
        )
        for store in ("local", "milvus")
    }
    assert len(found["local"]) >= 10 and found["milvus"] == found["local"]


def test_scores_equal_after_conversion_are_tied_and_ordered_by_id() -> None:
    assert ranked([(5, 2.5000001), (3, 2.5)], 2) == [(3, 1.0), (5, 1.0)]


def test_a_reader_never_creates_a_missing_terms_collection(tmp_path: Path) -> None:
    bot = mixed_bot(tmp_path, "milvus")
    store, terms = bot.index.milvus, bot.index.milvus_terms
    assert store is not None and isinstance(terms, MilvusTerms)
    store.client.drop_collection(terms.name)  # as if a writer died between dropping and writing it
    fresh = MilvusTerms(store, bot.index.records)
    assert not fresh.usable()  # not created by a question
    assert not store.client.has_collection(terms.name)
    bot.index.milvus_terms = fresh  # a newsbot opened now
    asked = query_terms(QUERIES[0])
    assert bot.index.search_terms(asked, 5) == bot.index.lexical.search(asked, 5)
    bot.close()


def test_repair_writes_the_terms_again_and_check_compares_them(tmp_path: Path) -> None:
    bot = mixed_bot(tmp_path, "milvus")
    terms, store = bot.index.milvus_terms, bot.index.milvus
    assert isinstance(terms, MilvusTerms) and store is not None
    assert bot.check() == []
    store.client.delete(terms.name, ids=[1])  # a lost row
    assert any(terms.name in line for line in bot.check())
    bot.repair()
    assert bot.check() == [] and len(terms) == bot.index.counts()[1] and terms.usable()
    assert_same(both(bot, 50))
    bot.close()
