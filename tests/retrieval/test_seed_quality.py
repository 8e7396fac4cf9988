"""The bundled seed question set through answer(), with the real default embedder (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.pipeline import Newsbot
from tests.conftest import REPO_ROOT


def fold(text: str) -> str:
    """Lower-cased, whitespace-folded text."""
    return " ".join(text.lower().split())


@pytest.mark.slow
def test_seed_set_every_answerable_hit_every_unanswerable_abstains(tmp_path: Path) -> None:
    bot = Newsbot(Settings(home=tmp_path), index_dir=tmp_path / "index")
    bot.index_paths([REPO_ROOT / "seeds"], progress=False)
    questions = [
        json.loads(line) for line in (REPO_ROOT / "seeds" / "questions.jsonl").read_text("utf-8").splitlines()
    ]
    failures = []
    for q in questions:
        answer = bot.answer(q["question"])
        if not q["answers"]:
            if not answer.abstained:
                failures.append(f"{q['id']}: should abstain, said {answer.text!r}")
            continue
        if answer.abstained or not any(fold(g) in fold(answer.text) for g in q["answers"]):
            failures.append(f"{q['id']}: {q['answers']} not in {answer.text!r}")
        for citation in answer.citations:
            article = bot.index.article(citation.article_id)
            assert article.text[citation.start : citation.end] == citation.quote
            assert citation.article_id in q["article_ids"]
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_seed_answer_languages(tmp_path: Path) -> None:
    bot = Newsbot(Settings(home=tmp_path), index_dir=tmp_path / "index")
    bot.index_paths([REPO_ROOT / "seeds"], progress=False)
    german = bot.answer("Wer gewann die Fußball-Weltmeisterschaft 2014?")
    assert german.abstained and german.text.startswith("Die Artikel sagen dazu nichts")
    english = bot.answer("Who proposed the military talks?")
    assert not english.abstained and ("Russland" in english.text or "Lawrow" in english.text)
    assert english.citations[0].title.startswith("Washington will direkte")
