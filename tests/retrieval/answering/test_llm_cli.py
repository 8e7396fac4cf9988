"""`--llm` on the command line: ask answers with the model (or the offline answer and its note),
and eval scores the model's answers with every citation valid."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ARTICLES
from tests.fakes.model_server import ModelServer

QUESTION = "Wie viele Feuerwehrleute waren in Graz im Einsatz?"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_server: ModelServer) -> Path:
    """Seeds of the two conftest articles, the fake embedder, and the scripted model server."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for article in ARTICLES:
        (folder / f"{article['id']}.txt").write_text(article["title"] + "\n\n" + article["text"], "utf-8")
    monkeypatch.setenv("NEWSBOT_SEEDS", str(folder))
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    monkeypatch.setenv("NEWSBOT_LLM_BASE_URL", model_server.openai_url)
    return folder


def test_ask_with_llm_answers_with_the_model(cli_env: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "--llm", "openai:grounded", "--json", QUESTION]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["answerer"] == "llm:openai:grounded" and doc["note"] is None
    assert [c["quote"] for c in doc["citations"]] == ["Mehr als 300 Feuerwehrleute waren im Einsatz."]


def test_an_empty_llm_flag_beats_the_environment(
    cli_env: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOT_LLM", "openai:grounded")
    assert main(["ask", "--llm", "", "--json", QUESTION]) == 0
    assert json.loads(capsys.readouterr().out)["answerer"] == "extractive"


def test_ask_gives_the_offline_answer_and_a_note_when_the_model_failed(
    cli_env: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["ask", "--llm", "openai:broken", "--json", QUESTION]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["answerer"] == "extractive" and "300 Feuerwehrleute" in doc["text"]
    assert doc["note"].startswith("Das Sprachmodell unter http://127.0.0.1:") and "(HTTP 500)" in doc["note"]


def test_a_bad_llm_setting_is_one_line_before_anything_runs(
    cli_env: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert main(["ask", "--llm", "gpt-4", QUESTION]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: NEWSBOT_LLM is 'gpt-4'; expected one of ollama:MODEL, openai:MODEL")
    assert "indexing" not in err and len(err.splitlines()) == 1
    monkeypatch.setitem(sys.modules, "langchain_ollama", None)  # as if the extra were not installed
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q", "question": QUESTION, "answers": ["300"]}) + "\n", "utf-8")
    assert main(["eval", "--llm", "ollama:m", str(questions), "--corpus", str(cli_env)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'newsbot[llm]'" in err and "Corpus" not in err


def test_eval_with_llm_scores_the_model_and_every_citation_is_valid(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = [
        {"id": "g1", "question": QUESTION, "answers": ["300"], "article_ids": ["graz-1"]},
        {
            "id": "w1",
            "question": "Wann soll die U5 eröffnet werden?",
            "answers": ["2026"],
            "article_ids": ["wien-1"],
        },
        {"id": "x1", "question": "Who won the football world cup?", "answers": [], "article_ids": []},
    ]
    questions, out = tmp_path / "q.jsonl", tmp_path / "out.json"
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    argv = ["eval", "--llm", "openai:grounded", str(questions), "--corpus", str(cli_env), "--json", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text("utf-8"))
    assert doc["config"]["answerer"] == "llm:openai:grounded"
    assert doc["metrics"]["citation_validity"] == 1.0
    assert doc["metrics"]["abstained_unanswerable"] == 1.0
    answered = [row for row in doc["per_question"] if row["citations"]]
    assert len(answered) == 2 and all(all(row["citations_valid"]) for row in answered)
