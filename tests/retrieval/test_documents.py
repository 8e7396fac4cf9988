"""Reading articles: formats, ids, titles, and bad input reported by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.documents import article_from_record, load_articles
from retrieval.errors import InputError


def test_folder_of_txt_md_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "one.txt").write_text("\nErste Zeile\nText hier.", encoding="utf-8")
    (tmp_path / "two.md").write_text("# Titel\n\nMehr Text.", encoding="utf-8")
    (tmp_path / "more.jsonl").write_text(
        json.dumps({"id": "x1", "text": "Hallo Welt.", "title": "T", "extra": 5}) + "\n",
        encoding="utf-8")
    result = load_articles([tmp_path])
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {"sub/one", "two", "x1"}
    assert by_id["sub/one"].title == "Erste Zeile"
    assert by_id["two"].title == "Titel"
    assert by_id["x1"].meta == {"extra": 5}
    assert result.problems == []


def test_file_given_directly_uses_its_name(tmp_path: Path) -> None:
    path = tmp_path / "artikel.txt"
    path.write_text("Überschrift\nDer Text.", encoding="utf-8")
    assert load_articles([path]).articles[0].id == "artikel"


def test_bad_jsonl_lines_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": "ok1", "text": "Gut."}\n'
        "{not json\n"
        '{"id": "no-text"}\n'
        "\n"
        '{"id": "ok2", "text": "Auch gut."}\n'
        '{"text": "ohne id"}\n',
        encoding="utf-8")
    result = load_articles([path])
    assert [a.id for a in result.articles] == ["ok1", "ok2"]
    problems = [str(p) for p in result.problems]
    assert problems[0].startswith(f"{path}:2: invalid JSON")
    assert problems[1] == f"{path}:3: missing required field 'text'"
    assert problems[2] == f"{path}:6: missing required field 'id'"


def test_non_utf8_file_is_skipped_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("Größe".encode("latin-1"))
    (tmp_path / "fine.txt").write_text("Gut\nText.", encoding="utf-8")
    result = load_articles([tmp_path])
    assert [a.id for a in result.articles] == ["fine"]
    assert "latin1.txt" in str(result.problems[0]) and "not UTF-8" in str(result.problems[0])


def test_empty_folder_and_missing_path_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no .txt, .md or .jsonl articles"):
        load_articles([tmp_path])
    with pytest.raises(InputError, match="no such file"):
        load_articles([tmp_path / "nope"])


def test_question_sets_are_not_read_as_articles(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps({"id": "q", "question": "Wer?", "answers": []}) + "\n",
                    encoding="utf-8")
    result = load_articles([path])
    assert result.articles == [] and "question set" in str(result.problems[0])


def test_content_hash_changes_with_text_only() -> None:
    a = article_from_record({"id": "1", "text": "Eins."})
    assert a.content_hash == article_from_record({"id": "1", "text": "Eins."}).content_hash
    assert a.content_hash != article_from_record({"id": "1", "text": "Zwei."}).content_hash


@pytest.mark.parametrize("record, message", [
    ({"id": "1", "text": ""}, "'text' must be a non-empty string"),
    ({"id": "1", "text": "x", "title": 5}, "'title' must be a string"),
    (["not", "an", "object"], "expected a JSON object"),
])
def test_invalid_records_name_the_field(record: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        article_from_record(record)
