"""The command line: ask, index, sources, repl, and one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.repl import handle_line, run_repl
from retrieval.answering.types import Answer
from retrieval.config import Settings
from retrieval.pipeline import Newsbot
from tests.conftest import ARTICLES


@pytest.fixture
def seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seeds folder of two articles and the fake embedder for every CLI run."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for article in ARTICLES:
        (folder / f"{article['id']}.txt").write_text(
            article["title"] + "\n\n" + article["text"], encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_SEEDS", str(folder))
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    return folder


def test_ask_indexes_seeds_first_and_answers(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "Wie viele Feuerwehrleute waren in Graz im Einsatz?"]) == 0
    out, err = capsys.readouterr()
    assert "indexing the seed articles" in err and "embedded" in err
    assert "300 Feuerwehrleute" in out and "[1]" in out
    assert "[1] Hochwasser in Graz" in out
    assert main(["ask", "Wie viele Feuerwehrleute?"]) == 0
    assert "indexing" not in capsys.readouterr().err


def test_ask_json_prints_the_answer_object(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "--json", "Wie viele Feuerwehrleute waren in Graz im Einsatz?"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert list(doc) == ["question", "language", "text", "short_answer", "abstained", "answerer",
                         "note", "citations", "retrieved"]
    assert doc["question"] == "Wie viele Feuerwehrleute waren in Graz im Einsatz?"
    assert doc["language"] == "de" and doc["abstained"] is False and doc["answerer"] == "extractive"
    assert doc["retrieved"][0] == "graz-1" and "[1]" in doc["text"]
    for citation in doc["citations"]:
        article = (seeds / f"{citation['article_id']}.txt").read_text(encoding="utf-8")
        assert citation["quote"] == article[citation["start"]:citation["end"]]
        assert f"[{citation['n']}]" in doc["text"]
    assert "„" in out and "\\u" not in out  # not ASCII-escaped
    assert out.startswith('{\n  "question": ')  # indented
    assert "Sources:" not in out and "Quellen:" not in out


def test_ask_shows_the_short_answer_first_without_markup(
    seeds: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short(self: Newsbot, question: str) -> Answer:
        return Answer(question, "**300** — „Mehr als 300 Feuerwehrleute waren im Einsatz.“ [1]",
                      language="de", short_answer="300")

    monkeypatch.setattr(Newsbot, "answer", short)
    assert main(["ask", "Wie viele Feuerwehrleute?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("300 — „Mehr als 300") and "**" not in out and "\x1b" not in out
    assert main(["ask", "--json", "Wie viele Feuerwehrleute?"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["short_answer"] == "300" and doc["text"].startswith("**300** — „")


def test_index_twice_embeds_nothing_the_second_time(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["index", str(seeds)]) == 0
    assert "embedded 0 chunks" not in capsys.readouterr().err
    assert main(["index", str(seeds)]) == 0
    assert "embedded 0 chunks and 0 sentences" in capsys.readouterr().err


def test_sources_lists_articles(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    main(["index", str(seeds)])
    capsys.readouterr()
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    assert "wien-1" in out and "Neue U-Bahn in Wien" in out and "2 articles" in out


@pytest.mark.parametrize("args, message", [
    (["ask", ""], "Error: the question is empty"),
    (["ask", "x" * 2001], "Error: the question is 2001 characters long"),
    (["index", "/no/such/path"], "Error: /no/such/path: no such file or folder"),
])
def test_errors_are_one_line_and_non_zero(seeds: Path, capsys: pytest.CaptureFixture,
                                          args: list[str], message: str) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err and "Traceback" not in err


def test_bad_lines_are_reported_and_the_rest_indexed(seeds: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(ARTICLES[0]) + "\n{broken\n", encoding="utf-8")
    assert main(["index", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {path}:2: invalid JSON" in err and "Indexed 1 new" in err


def test_corrupt_index_is_one_line(seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main(["index", str(seeds)])
    home = Path(Settings().home)
    (home / "index" / "newsbot.sqlite3").write_bytes(b"garbage" * 200)
    capsys.readouterr()
    assert main(["ask", "Wer?"]) == 1
    assert "the article store is damaged" in capsys.readouterr().err


def test_repl_commands_and_answers(fake_bot: Newsbot) -> None:
    lines = iter([":help", "Wie viele Feuerwehrleute waren im Einsatz?", ":sources", ":bogus", ":quit"])
    said: list[str] = []
    run_repl(fake_bot, read=lambda _prompt: next(lines), write=said.append)
    text = "\n".join(said)
    assert ":sources" in text and "300 Feuerwehrleute" in text and "graz-1" in text
    assert "Unknown command :bogus" in text
    assert handle_line(fake_bot, "") == ""
    assert handle_line(fake_bot, "x" * 3000).startswith("Error: the question is 3000")


def test_unexpected_errors_keep_the_traceback_in_the_log(
    seeds: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Newsbot, question: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Newsbot, "answer", broken)
    assert main(["ask", "Wer?"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("Error: unexpected RuntimeError: disk on fire (traceback in ")
    log = Path(Settings().home / "newsbot.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "disk on fire" in log


def test_check_remove_and_repair_from_the_command_line(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ask", "Wie viele Feuerwehrleute?"]) == 0
    capsys.readouterr()
    assert main(["check"]) == 0
    assert "sound" in capsys.readouterr().out
    assert main(["check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["remove", "graz-1", "nope"]) == 1
    err = capsys.readouterr().err
    assert "Removed 1 article." in err and "not in the index: nope" in err
    assert main(["sources"]) == 0
    assert "graz-1" not in capsys.readouterr().out
    assert main(["repair"]) == 0
    assert "rebuilt the lexical index" in capsys.readouterr().err
    assert main(["check"]) == 0


def test_undecodable_question_bytes_are_a_one_line_error(seeds: Path, capsys: pytest.CaptureFixture) -> None:
    question = b"\xff\xfe Wien?".decode("utf-8", "surrogateescape")  # what click hands over for argv
    assert main(["ask", question]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: the question holds bytes that are not UTF-8 text (at character 1)")
    assert "\n" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_index_refuses_a_fifo(seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    assert main(["index", str(fifo)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"Error: {fifo}: not a regular file (a FIFO); give an article file or a folder"
    )


def test_repaired_lines_are_reported_as_such(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a", "text": "Text \\ud800 hier."}\n{"id": "b", "text": "Gut."}\n[[[\n')
    assert main(["index", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"repaired {path}:1: 1 string(s) with lone surrogates" in err
    assert f"skipped {path}:3: invalid JSON" in err and "Indexed 2 new" in err


@pytest.mark.parametrize("name, value", [("NEWSBOT_TOP_K", "abc"), ("NEWSBOT_AS_OF", "someday")])
def test_an_invalid_setting_is_one_line_naming_the_variable(
    seeds: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["ask", "Who proposed the talks?"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Error: invalid setting {name}: ") and "\n" not in err and "Traceback" not in err
