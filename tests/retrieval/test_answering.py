"""The extractive answerer's decisions: short answers (given and withheld), abstention naming the
closest article, and models whose feature names must match the code's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.answering.abstain import AbstainPolicy
from retrieval.answering.extractive import PASSAGE_GAP_CHARS, ExtractiveAnswerer
from retrieval.answering.features import ABSTAIN_FEATURES, sentence_candidates
from retrieval.answering.questions import AnswerType, focus_words, without_dateline
from retrieval.answering.short import SHORT_FEATURES, ShortPolicy, choose_span, spans
from retrieval.chunking import MAX_SENTENCE_CHARS
from retrieval.errors import ModelError
from retrieval.pipeline import Newsbot
from retrieval.ranker import LinearRanker, checked, load_ranker


def _policy(floor: float) -> ShortPolicy:
    """A short-answer policy on the abstention margin alone."""
    weights = [1.0 if name == "confidence" else 0.0 for name in SHORT_FEATURES]
    return ShortPolicy(LinearRanker.uniform(SHORT_FEATURES, weights), floor)


def _answerer(bot: Newsbot, short_floor: float) -> ExtractiveAnswerer:
    """An answerer that never abstains, with a short-answer floor on the abstention margin."""
    never = AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, [0.0] * len(ABSTAIN_FEATURES)), -1.0),))
    return ExtractiveAnswerer(bot.index, policy=never, short_policy=_policy(short_floor))


def test_short_answer_is_verbatim_and_first(fake_bot: Newsbot) -> None:
    fake_bot._answerer = _answerer(fake_bot, short_floor=0.5)
    answer = fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    assert answer.short_answer == "300"
    assert answer.text.startswith("**300** — „")
    assert answer.short_answer in answer.citations[0].quote


def test_short_answer_withheld_when_the_evidence_does_not_support_it(fake_bot: Newsbot) -> None:
    fake_bot._answerer = _answerer(fake_bot, short_floor=5.0)
    answer = fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    assert answer.short_answer is None and answer.text.startswith("„")
    assert not answer.abstained


def test_short_answer_only_for_questions_that_ask_for_a_phrase(fake_bot: Newsbot) -> None:
    fake_bot._answerer = _answerer(fake_bot, short_floor=0.5)
    assert fake_bot.answer("Warum trat die Mur über die Ufer?").short_answer is None


@pytest.mark.parametrize(
    "question, sentence, expected",
    [
        ("Wie viel kostet die U-Bahn?", "Die Kosten betragen rund 950 Millionen Euro.", "950 Millionen Euro"),
        ("When will the U5 open?", "Die Linie U5 soll 2026 eröffnet werden.", "2026"),
        ("Wann sprach Häupl?", "Häupl sprach am 18. September 2015 davon.", "18. September 2015"),
        (
            "Wer sprach von einem Jahrhundertprojekt?",
            "Davon sprach gestern Michael Häupl.",
            "Michael Häupl",
        ),
        (
            "How many points did they score in the last three minutes?",
            "In drei Minuten fielen 11 Punkte.",
            "11",
        ),
    ],
)
def test_choose_span_takes_the_asked_kind_not_named_in_the_question(
    question: str, sentence: str, expected: str
) -> None:
    chosen = choose_span(question, sentence)
    assert chosen is not None
    span, _ = chosen
    assert span.text == expected and sentence[span.start : span.end] == expected


def test_no_span_when_the_sentence_lacks_the_kind() -> None:
    assert choose_span("Wie viele Zuschauer kamen?", "Das Spiel endete unentschieden.") is None
    assert spans("Kein Datum hier.", AnswerType.of("Wann war das?")) == []


def test_focus_words_leave_out_question_words_and_names() -> None:
    assert focus_words("How many spectators watched Stoke City's draw?") == ["spectators", "watched", "draw"]
    assert focus_words("Wo ist Alex Rocco geboren?") == ["geboren"]


def test_abstention_names_the_closest_article_and_cites_nothing(fake_bot: Newsbot) -> None:
    always = AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, [0.0] * len(ABSTAIN_FEATURES)), 1.0),))
    fake_bot._answerer = ExtractiveAnswerer(fake_bot.index, policy=always)
    english = fake_bot.answer("How many spectators watched the flood in Graz?")
    assert english.abstained and english.citations == () and english.short_answer is None
    assert "Hochwasser in Graz" in english.text and "2 Jun 2015" in english.text
    german = fake_bot.answer("Wie viele Zuschauer sahen das Hochwasser in Graz?")
    assert german.abstained and german.language == "de" and "Hochwasser in Graz" in german.text


def test_abstain_margin_is_the_distance_to_the_floor() -> None:
    weights = [1.0 if name == "relevance" else 0.0 for name in ABSTAIN_FEATURES]
    policy = AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, weights), 0.5),))
    evidence = np.zeros(len(ABSTAIN_FEATURES))
    evidence[ABSTAIN_FEATURES.index("relevance")] = 2.0
    assert policy.margin(evidence) == pytest.approx(1.5) and not policy.abstains(evidence)
    evidence[ABSTAIN_FEATURES.index("relevance")] = 0.0
    assert policy.abstains(evidence)


def test_a_model_with_other_feature_names_is_an_error(tmp_path: Path) -> None:
    model = LinearRanker.uniform(("cos", "overlap"), [1.0, 1.0])
    assert checked(model, ("cos", "overlap"), "m.json") is model
    with pytest.raises(ModelError, match=r"missing \['keys'\], unknown \['overlap'\]"):
        checked(model, ("cos", "keys"), "m.json")
    with pytest.raises(ModelError, match="another order"):
        checked(model, ("overlap", "cos"), "m.json")


@pytest.mark.parametrize("name, features", [("abstain", ABSTAIN_FEATURES), ("short_answer", SHORT_FEATURES)])
def test_shipped_models_match_the_code(name: str, features: tuple[str, ...]) -> None:
    path = Path(__file__).resolve().parents[2] / "retrieval" / "models" / f"{name}.json"
    data = json.loads(path.read_text("utf-8"))
    models = [rule["model"] for rule in data["rules"]] if "rules" in data else [data["model"]]
    for model in models:
        checked(LinearRanker.from_json(model), features, path)


def test_shipped_rankers_load() -> None:
    from retrieval.answering.features import SENTENCE_FEATURES
    from retrieval.search import CHUNK_FEATURES

    assert load_ranker("sentence_ranker", SENTENCE_FEATURES).features == SENTENCE_FEATURES
    assert load_ranker("chunk_ranker", CHUNK_FEATURES).features == CHUNK_FEATURES


@pytest.mark.parametrize(
    "sentence, kept",
    [
        ("Washington - Die Minister der USA sprachen.", "Die Minister der USA sprachen."),
        ("Saalfelden / Zell am See – Ein Autofahrer raste.", "Ein Autofahrer raste."),
        (
            "Das Land hat Panzer – und Soldaten – geschickt.",
            "Das Land hat Panzer – und Soldaten – geschickt.",
        ),
    ],
)
def test_a_dateline_is_not_where_the_story_happened(sentence: str, kept: str) -> None:
    stripped = without_dateline(sentence)
    assert stripped.strip() == kept and len(stripped) == len(sentence)
    where = AnswerType.of("Where did it happen?")
    assert not where.matches("Washington - Die Minister sprachen.", set())["place"]


def test_sentences_apart_by_a_run_of_symbols_are_quoted_apart(fake_bot: Newsbot, tmp_path: Path) -> None:
    path = tmp_path / "linz.jsonl"
    text = "Die Stadt Linz baut. Die Bahn kostet fünf Euro. " + "~ " * 30 + ". Die Linie fährt nach Linz."
    path.write_text(json.dumps({"id": "linz", "text": text}) + "\n", encoding="utf-8")
    fake_bot.index_paths([path], progress=False)
    hits = fake_bot.search("Was kostet die Bahn nach Linz?", k=10)
    hits = [h for h in hits if h.chunk.article_id == "linz"]
    by_text = {c.text: c for c in sentence_candidates(fake_bot.index, hits)}
    first, price, line = (by_text[s] for s in ("Die Stadt Linz baut.", "Die Bahn kostet fünf Euro.",
                                               "Die Linie fährt nach Linz."))
    answerer = ExtractiveAnswerer(fake_bot.index)
    assert line.start - price.end > PASSAGE_GAP_CHARS and line.ord == price.ord + 1
    assert not answerer._one_passage(price, line)
    assert answerer._one_passage(price, first) == (first.ord > 0)  # the gap rule alone decides here
    quotes = answerer.pick("Was kostet die Bahn?", [price, line, first])
    assert all(len(" ".join(c.text for c in group)) <= 2 * MAX_SENTENCE_CHARS for group in quotes)
