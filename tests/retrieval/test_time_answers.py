"""Time-bound questions over a tiny dated corpus with the hash embedder: narrowed by date, newest
first for "latest", the dates of older quotes said, and notes when dates cannot be held to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.answering.types import Turn
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from retrieval.search import Hit, Searcher
from retrieval.store.records import ChunkRecord
from retrieval.timesearch import newest_first

STADIUM = (
    "Der Umbau des Stadions in Linz kostet nach neuen Schätzungen {} Millionen Euro. "
    "Der Gemeinderat berät im {} darüber."
)
DATED = [
    {
        "id": "stadion-jan",
        "title": "Stadion wird teurer",
        "date": "2015-01-20",
        "lang": "de",
        "text": STADIUM.format(40, "Februar"),
    },
    {
        "id": "stadion-may",
        "title": "Stadion-Umbau: Kosten steigen",
        "date": "2015-05-12",
        "lang": "de",
        "text": STADIUM.format(55, "Juni"),
    },
    {
        "id": "stadion-sep",
        "title": "Stadion-Umbau noch teurer",
        "date": "2015-09-15",
        "lang": "de",
        "text": STADIUM.format(70, "Oktober"),
    },
    {
        "id": "wahl-sep",
        "title": "Wahl in Oberösterreich",
        "date": "2015-09-27",
        "lang": "de",
        "text": "Bei der Landtagswahl in Oberösterreich gewann die FPÖ stark dazu. "
        "Die ÖVP blieb stärkste Partei.",
    },
    {
        "id": "zug-aug",
        "title": "Zugunglück bei Wels",
        "date": "2015-08-03",
        "lang": "de",
        "text": "Bei einem Zugunglück bei Wels wurden zwölf Menschen verletzt. "
        "Der Zug war aus Salzburg gekommen.",
    },
]


def _corpus(path: Path, articles: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")
    return path


def _bot(tmp_path: Path, articles: list[dict], **settings) -> Newsbot:
    bot = Newsbot(
        Settings(home=tmp_path / "home", **settings), embedder=HashEmbedder(), index_dir=tmp_path / "index"
    )
    bot.index_paths([_corpus(tmp_path / "corpus.jsonl", articles)], progress=False)
    return bot


@pytest.fixture
def dated_bot(tmp_path: Path) -> Newsbot:
    """Three articles on one topic (January, May, September 2015) and two others."""
    return _bot(tmp_path, DATED)


def _cited(answer) -> set[str]:
    return {c.article_id for c in answer.citations}


def test_latest_prefers_the_newest_of_three_articles_on_one_topic(dated_bot: Newsbot) -> None:
    plain = dated_bot.answer("Was kostet der Umbau des Stadions in Linz?")
    assert _cited(plain) != {"stadion-sep"}  # without "latest" the older ones are quoted too
    for question in (
        "Was kostet der Umbau des Stadions in Linz nach den neuesten Schätzungen?",
        "What is the latest on the cost of the Stadion in Linz?",
    ):
        answer = dated_bot.answer(question)
        assert answer.retrieved[0] == "stadion-sep"
        assert _cited(answer) == {"stadion-sep"}


def test_a_month_narrows_the_search_to_its_articles(dated_bot: Newsbot) -> None:
    answer = dated_bot.answer("Was kostete der Umbau des Stadions in Linz im Mai 2015?")
    assert answer.retrieved == ("stadion-may",)
    assert _cited(answer) == {"stadion-may"} and "55 Millionen" in answer.text
    assert answer.note is None
    assert "(vom" not in answer.text  # the question asked for that month: its date is no news
    answer = dated_bot.answer("What did the Stadion in Linz cost in January 2015?")
    assert answer.retrieved == ("stadion-jan",)


def test_relative_times_resolve_against_the_newest_article(dated_bot: Newsbot) -> None:
    # the newest article is of 27 Sep 2015: "letzten Monat" is August
    answer = dated_bot.answer("Wie viele Menschen wurden letzten Monat verletzt?")
    assert answer.retrieved == ("zug-aug",)
    # 27 Sep 2015 is a Sunday: "diese Woche" is 21-27 Sep, "letzte Woche" 14-20 Sep
    assert dated_bot.answer("Wer gewann diese Woche dazu?").retrieved == ("wahl-sep",)
    assert dated_bot.answer("Was wurde letzte Woche über das Stadion berichtet?").retrieved == (
        "stadion-sep",
    )


def test_as_of_moves_the_reference_day(tmp_path: Path) -> None:
    bot = _bot(tmp_path, DATED, as_of="2015-06-10")
    # as of 10 Jun 2015, "letzten Monat" is May
    assert bot.answer("Was kostete der Umbau des Stadions letzten Monat?").retrieved == ("stadion-may",)


def test_a_range_without_articles_says_so_and_answers_from_others(dated_bot: Newsbot) -> None:
    answer = dated_bot.answer("Was kostete der Umbau des Stadions im Jahr 2014?")
    assert not answer.abstained and _cited(answer) <= {"stadion-jan", "stadion-may", "stadion-sep"}
    assert answer.note == (
        "Kein Artikel stammt aus der erfragten Zeit („im Jahr 2014“: 1 Jan 2014 – 31 Dec 2014); "
        "die Antwort beruht auf Artikeln anderer Tage."
    )
    english = dated_bot.answer("What did the Stadion in Linz cost in 2014?")
    assert english.note == (
        "No article is dated in the time asked about (“in 2014”: 1 Jan 2014 – 31 Dec 2014); "
        "this answer rests on articles from other dates."
    )


def test_an_older_quote_says_its_date_once_per_article(dated_bot: Newsbot) -> None:
    answer = dated_bot.answer("Wie viele Menschen wurden bei dem Zugunglück bei Wels verletzt?")
    assert _cited(answer) == {"zug-aug"}
    # 3 Aug is more than 7 days before 27 Sep (the newest article): its date follows the last marker
    assert answer.text.count("(vom 3 Aug 2015)") == 1
    assert answer.text.endswith(f"[{len(answer.citations)}] (vom 3 Aug 2015)")
    recent = dated_bot.answer("Wer blieb bei der Landtagswahl in Oberösterreich stärkste Partei?")
    assert _cited(recent) == {"wahl-sep"} and "(vom" not in recent.text


def test_undated_articles_give_the_no_dates_note(tmp_path: Path) -> None:
    undated = [{k: v for k, v in a.items() if k != "date"} for a in DATED]
    bot = _bot(tmp_path, undated)
    question = "Wie viele Menschen wurden letzten Monat bei Wels verletzt?"
    answer = bot.answer(question)
    assert answer.note == (
        "Die Artikel, auf denen das beruht, haben kein Datum; ob sie aus der erfragten Zeit "
        "(„letzten Monat“) stammen, kann ich nicht sagen."
    )
    assert "(vom" not in answer.text
    english = bot.answer("What is the latest on the Stadion in Linz?")
    assert english.note.startswith("The articles this rests on have no dates")


def test_without_time_words_the_search_is_the_plain_one(tmp_path: Path) -> None:
    undated = [{k: v for k, v in a.items() if k != "date"} for a in DATED]
    bot = _bot(tmp_path, undated)
    for question in ("Was kostet der Umbau des Stadions in Linz?", "Wie viele Menschen wurden verletzt?"):
        answer = bot.answer(question)
        with bot.index.reading():
            plain = Searcher(bot.index).search(question, 30)
        assert answer.retrieved == tuple(dict.fromkeys(h.chunk.article_id for h in plain))
        assert answer.note is None


def test_as_of_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    corpus = _corpus(tmp_path / "dated.jsonl", DATED)
    assert main(["index", str(corpus)]) == 0
    question = "Was kostete der Umbau des Stadions letzten Monat?"
    assert main(["ask", "--json", "--as-of", "10.06.2015", question]) == 0
    assert json.loads(capsys.readouterr().out)["retrieved"] == ["stadion-may"]
    monkeypatch.setenv("NEWSBOT_AS_OF", "2015-02-15")
    assert main(["ask", "--json", question]) == 0
    assert json.loads(capsys.readouterr().out)["retrieved"] == ["stadion-jan"]
    assert main(["ask", "--as-of", "kein Datum", question]) != 0
    assert "kein Datum" in capsys.readouterr().err


def _hit(article_id: str, chunk_id: int, relevance: float) -> Hit:
    return Hit(ChunkRecord(chunk_id, article_id, 0, 0, 1, 0, 0), 1.0 - chunk_id / 10, 0.5, 0.0, relevance)


def test_newest_first_moves_only_relevant_dated_articles() -> None:
    hits = [_hit("a", 1, 6.0), _hit("b", 2, 3.0), _hit("a", 3, 2.0), _hit("c", 4, -12.0), _hit("d", 5, 2.5)]
    undated = {"a": "", "b": "", "c": "", "d": ""}
    assert newest_first(hits, undated) == hits  # nothing dated: the ranking stays as it was
    dates = {"a": "2015-01-01", "b": "2015-09-01", "c": "2015-12-01", "d": ""}
    ordered = newest_first(hits, dates)
    # b is newer than a; c is newest but not relevant; d is relevant but undated: both keep their places
    assert [(h.chunk.article_id, h.chunk.id) for h in ordered] == [
        ("b", 2),
        ("a", 1),
        ("a", 3),
        ("c", 4),
        ("d", 5),
    ]


def test_a_time_bound_follow_up_is_narrowed_to_its_range(dated_bot: Newsbot) -> None:
    first = dated_bot.answer("Was kostet der Umbau des Stadions in Linz?")
    follow_up = dated_bot.answer("Und wie viel war es im Mai 2015?", history=(Turn(first.question, first),))
    assert follow_up.retrieved == ("stadion-may",)
    assert _cited(follow_up) == {"stadion-may"}


def test_the_range_and_the_dates_are_read_without_whole_articles(dated_bot: Newsbot) -> None:
    from retrieval.store.records import SourceQuery

    records = dated_bot.index.records
    assert sorted(records.ids_in(SourceQuery(since="2015-09-01", until="2015-09-30"))) == [
        "stadion-sep",
        "wahl-sep",
    ]
    assert len(records.ids_in(SourceQuery())) == len(DATED)
    assert records.dates(["zug-aug", "stadion-sep", "missing"]) == {
        "zug-aug": "2015-08-03",
        "stadion-sep": "2015-09-15",
    }
