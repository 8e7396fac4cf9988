"""answer(): quotes that match the article, abstention, and question checks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from retrieval.answering.abstain import AbstainPolicy
from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.features import ABSTAIN_FEATURES
from retrieval.answering.questions import AnswerType, counted_words, focus_words
from retrieval.answering.types import question_language
from retrieval.chunking import MAX_SENTENCE_CHARS
from retrieval.config import Settings
from retrieval.errors import InputError
from retrieval.language import cognate_keys, key_terms, query_terms
from retrieval.pipeline import Newsbot
from retrieval.ranker import LinearRanker
from tests.conftest import SHARED

GNAD = SHARED / "eval" / "gnad-distractors.jsonl"


def test_answer_quotes_and_cites_verbatim(fake_bot: Newsbot) -> None:
    answer = fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?")
    assert not answer.abstained
    citation = answer.citations[0]
    assert citation.n == 1 and "[1]" in answer.text
    assert citation.article_id == "graz-1" and citation.title == "Hochwasser in Graz"
    assert citation.date == "2015-06-02" and citation.source == "APA"
    article_text = fake_bot.index.article_text("graz-1")
    assert article_text[citation.start : citation.end] == citation.quote
    assert "300" in citation.quote and citation.quote in answer.text
    assert answer.retrieved[0] == "graz-1"


def test_weak_evidence_abstains_in_the_questions_language(fake_bot: Newsbot) -> None:
    # A policy on the best chunk's similarity alone, so the fake embedder's scale is known.
    weights = [1.0 if name == "cos_chunk" else 0.0 for name in ABSTAIN_FEATURES]
    policy = AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, weights), 0.4),))
    fake_bot._answerer = ExtractiveAnswerer(fake_bot.index, policy=policy)
    german = fake_bot.answer("Wer gewann die Fußball-Weltmeisterschaft 2014?")
    assert german.abstained and german.citations == ()
    assert german.language == "de" and german.text.startswith("Die Artikel sagen dazu nichts")
    english = fake_bot.answer("Who won the football world cup in 2014?")
    assert english.abstained and english.text.startswith("The articles don't say")
    assert not fake_bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?").abstained


def test_abstain_policy_rules() -> None:
    model = LinearRanker.uniform(ABSTAIN_FEATURES, [1.0] + [0.0] * (len(ABSTAIN_FEATURES) - 1))
    evidence = np.zeros(len(ABSTAIN_FEATURES))
    evidence[0] = -1.0
    assert AbstainPolicy(((model, 0.0),)).abstains(evidence)
    evidence[0] = 1.0
    assert not AbstainPolicy(((model, 0.0),)).abstains(evidence)
    evidence[ABSTAIN_FEATURES.index("count_missing")] = 1.0
    assert AbstainPolicy(((model, 0.0),), strict_counts=True).abstains(evidence)


@pytest.mark.parametrize(
    "question, message",
    [
        ("", "the question is empty"),
        ("   \n", "the question is empty"),
        ("x" * 2001, "2001 characters long; the limit is 2000"),
    ],
)
def test_bad_questions_are_refused(fake_bot: Newsbot, question: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fake_bot.answer(question)


@pytest.mark.parametrize(
    "question, lang",
    [
        ("Who proposed the military talks?", "en"),
        ("Wer hat die Gespräche vorgeschlagen?", "de"),
        ("Wo liegt Latakia?", "de"),
        ("Where is Latakia?", "en"),
    ],
)
def test_question_language(question: str, lang: str) -> None:
    assert question_language(question) == lang


@pytest.mark.slow
@pytest.mark.skipif(not GNAD.exists(), reason="shared/eval is not available")
def test_questions_run_on_numpy_after_bulk_indexing(tmp_path: Path) -> None:
    from retrieval.ingest import BATCH_CHARS
    from retrieval.use_encoder import _TORCH_MIN_TOKENS

    lines = GNAD.read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "bulk.jsonl"
    corpus.write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")  # > 1 batch of BATCH_CHARS
    bot = Newsbot(Settings(home=tmp_path), index_dir=tmp_path / "index")
    bot.index_paths([corpus], progress=False)
    encoder = bot.embedder.encoder  # type: ignore[attr-defined]
    torch_installed = importlib.util.find_spec("torch") is not None
    assert BATCH_CHARS // 5 >= _TORCH_MIN_TOKENS  # a full batch is a bulk job
    assert (encoder.backend_calls["torch"] > 0) == torch_installed
    for question in ("Wer ist der Bürgermeister von Wien?", "Who won the election?"):
        bot.answer(question)
        assert encoder.last_backend == "numpy"


@pytest.mark.parametrize("question", ["\udcff\udcfe", "Wer ist B\udcfcrgermeister?", "Wo \ud800?"])
def test_questions_with_undecodable_bytes_are_input_errors(fake_bot: Newsbot, question: str) -> None:
    with pytest.raises(InputError, match=r"holds bytes that are not UTF-8 text \(at character \d+\)"):
        fake_bot.answer(question)


def test_bad_lines_are_skipped_or_repaired_and_the_rest_indexed(fake_bot: Newsbot, tmp_path: Path) -> None:
    path = tmp_path / "more.jsonl"
    path.write_bytes(
        b'{"id": "sur", "title": "Linz \\ud83d", "text": "In Linz er\\u00f6ffnet ein Museum \\udc00."}\n'
        + b"[" * 100_000 + b"\n"
        + b'{"id": "bad", "text": "\xff"}\n'
        + json.dumps({"id": "big", "text": "Wort " * 400}).encode() + b"\n"
    )
    fake_bot.settings = fake_bot.settings.model_copy(update={"max_article_bytes": 1000})
    outcome = fake_bot.index_paths([path], progress=False)
    assert outcome.report.added == 1
    assert [(p.line, p.kept) for p in outcome.problems] == [(1, True), (2, False), (3, False), (4, False)]
    stored = fake_bot.index.article("sur")
    assert stored.title == "Linz \ufffd" and stored.text.endswith("Museum \ufffd.")
    assert not fake_bot.answer("Was eröffnet in Linz?").abstained


_ODD = ["\ud800", "\udcff", "\x00", "\u2028", "\x85", "\ufeff", "?", "!!!", "**", "wie viele ", "Who ", "19"]
_QUESTIONS = st.lists(st.one_of(st.text(max_size=25), st.sampled_from(_ODD)), max_size=10).map("".join)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=_QUESTIONS)
def test_any_question_is_answered_or_refused(fake_bot: Newsbot, question: str) -> None:
    try:
        text = fake_bot.check_question(question)
    except InputError:
        event("refused")
        return
    event("answered")
    text.encode("utf-8")  # what passes the check is valid text
    for terms in (query_terms(text), key_terms(text), sorted(cognate_keys(text)), focus_words(text)):
        assert all(isinstance(term, str) for term in terms)
    AnswerType.of(text)
    counted_words(text)
    assert fake_bot.embedder.embed([text]).shape == (1, fake_bot.embedder.dim)
    answer = fake_bot.answer(text)
    assert answer.question == text and (answer.abstained or answer.citations)
    assert all(len(c.quote) <= 2 * MAX_SENTENCE_CHARS for c in answer.citations)
