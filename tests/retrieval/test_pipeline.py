"""answer(): quotes that match the article, abstention, and question checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from retrieval.answering.abstain import AbstainPolicy
from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.features import ABSTAIN_FEATURES
from retrieval.answering.types import question_language
from retrieval.config import Settings
from retrieval.errors import InputError
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
