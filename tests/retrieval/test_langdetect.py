"""Language detection (lingua, the encoder's languages) and terms by language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.documents import article_from_record, article_from_text
from retrieval.langdetect import ENCODER_LANGUAGES, detect_language
from retrieval.language import index_terms, terms

SAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "data" / "languages.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["id"] for s in SAMPLES])
def test_detects_each_encoder_language(sample: dict) -> None:
    assert detect_language(sample["text"]) == sample["lang"]


def test_the_sample_covers_every_encoder_language() -> None:
    assert {s["lang"] for s in SAMPLES} == set(ENCODER_LANGUAGES)


@pytest.mark.parametrize("text", ["", "ok", "12 345 678", "!!! ???"])
def test_too_little_text_gives_the_default(text: str) -> None:
    assert detect_language(text, default="xx") == "xx"


def test_readers_detect_the_language_when_none_is_given() -> None:
    french = "Le gouvernement a présenté mercredi un projet de loi sur les retraites."
    assert article_from_text("a", french).lang == "fr"
    assert article_from_record({"id": "b", "text": french}).lang == "fr"
    assert article_from_record({"id": "c", "text": french, "lang": "de"}).lang == "de"


def test_terms_are_stemmed_by_the_articles_language() -> None:
    assert terms("Les présidents ont annoncé des réformes", "fr") == ["président", "annonc", "réform"]
    assert terms("Los gobiernos aprobaron los presupuestos", "es") == ["gobi", "aprob", "presupuest"]
    assert terms("Правительство утвердило бюджет", "ru") == ["правительств", "утверд", "бюджет"]


def test_unspaced_scripts_become_character_pairs() -> None:
    assert terms("经济政策", "zh") == ["经济", "济政", "政策"]
    assert terms("東京で地震", "ja") == ["東京", "京で", "で地", "地震"]
    assert terms("Tokyo 2024", "ja") == ["tokyo", "2024"]


def test_index_terms_add_the_query_languages_stems_for_other_languages() -> None:
    found = index_terms("Les présidents annoncent des réformes", "fr")
    assert {"président", "annonc", "réform"} <= set(found)
    assert set(terms("présidents annoncent réformes", "en", frozenset())) <= set(found)
    assert index_terms("Die Präsidenten", "de") == terms("Die Präsidenten", "de")
    assert index_terms("Der Präsident", "") == terms("Der Präsident", "de")


def test_bm25_finds_a_french_article_by_a_questions_words(tmp_path: Path) -> None:
    from retrieval.config import Settings
    from retrieval.embeddings import HashEmbedder
    from retrieval.language import query_terms
    from retrieval.pipeline import Newsbot

    corpus = tmp_path / "fr.jsonl"
    rows = [
        {
            "id": "lyon",
            "text": "La métropole de Lyon construira trois nouvelles lignes de tramway d'ici à 2030.",
        },
        {
            "id": "graz",
            "text": "In Graz trat die Mur über die Ufer. Mehr als 300 Feuerwehrleute waren im Einsatz.",
        },
    ]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bot = Newsbot(Settings(home=tmp_path / "home"), embedder=HashEmbedder(), index_dir=tmp_path / "index")
    bot.index_paths([corpus], progress=False)
    assert bot.article("lyon").lang == "fr"
    hits = bot.index.search_terms(query_terms("Combien de tramways construit la métropole ?"), 5)
    chunks = bot.index.chunks([c for c, _ in hits])
    assert hits and chunks[hits[0][0]].article_id == "lyon"
