"""Reading articles: formats, ids, titles, and bad input reported by file and line."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.documents import (
    MAX_JSON_DEPTH,
    MAX_TITLE_CHARS,
    LoadResult,
    article_from_record,
    load_articles,
    open_regular,
)
from retrieval.errors import InputError, NewsbotError


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
    with pytest.raises(InputError, match="no .txt, .md, .jsonl or .html articles"):
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


# ---------- bad input skips one item, never the run ----------


def _finishes(call: Callable[[], object], seconds: float = 60.0) -> object:
    """The call's result or exception, run in a daemon thread; fails the test if it blocks (the
    bound is a hang guard, far above the milliseconds the call takes)."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed back to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked"
    return box[0]


def test_lone_surrogate_in_a_jsonl_line_is_replaced_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": "s", "title": "T \\ud800", "text": "Vor \\udfff nach.", "tags": ["\\udc80"]}\n'
        '{"id": "ok", "text": "Gut."}\n',
        encoding="utf-8",
    )
    result = load_articles([path])
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {"s", "ok"}
    bad = by_id["s"]
    assert bad.text == "Vor \ufffd nach." and bad.title == "T \ufffd" and bad.meta == {"tags": ["\ufffd"]}
    assert bad.content_hash  # hashing (UTF-8) no longer fails
    [problem] = result.problems
    assert problem.kept and problem.line == 1 and str(problem).startswith(f"{path}:1: 3 string(s)")


def test_json_nested_too_deep_skips_its_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep_meta = json.dumps({"id": "m", "text": "x", "meta": json.loads("[" * 100 + "]" * 100)})
    path.write_text("[" * 200_000 + "]" * 200_000 + "\n" + deep_meta + '\n{"id": "ok", "text": "Gut."}\n')
    result = load_articles([path])
    assert [a.id for a in result.articles] == ["ok"]
    assert [(p.line, p.message) for p in result.problems] == [
        (1, "invalid JSON (nested too deeply)"),
        (2, f"nested more than {MAX_JSON_DEPTH} levels deep"),
    ]


def test_one_bad_byte_in_jsonl_skips_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    latin1 = '{"id": "a", "text": "Größe"}'.encode("latin-1")
    path.write_bytes(b'{"id": "b", "text": "Gut."}\n' + latin1 + b'\n{"id": "c", "text": "Auch."}\n')
    result = load_articles([path])
    assert [a.id for a in result.articles] == ["b", "c"]
    offset = latin1.index("ö".encode("latin-1"))
    assert [str(p) for p in result.problems] == [
        f"{path}:2: not UTF-8 text (invalid start byte at byte {offset} of the line)"
    ]


def test_jsonl_lines_split_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    record = {"id": "a", "text": "Zeile\u2028trenner\x85 und \r Wagenrücklauf."}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(record, ensure_ascii=False).encode() + b"\r\n")
    result = load_articles([path])
    assert [a.text for a in result.articles] == [record["text"]] and result.problems == []


def test_text_article_with_a_few_bad_bytes_is_read_with_replacements(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("Titel\n\nEin Text über die Stadt. ".encode() * 20 + b"Kaputt: \xff Ende.")
    result = load_articles([path])
    [article] = result.articles
    assert article.text.endswith("Kaputt: \ufffd Ende.")
    [problem] = result.problems
    assert problem.kept and problem.path == path and "1 invalid UTF-8 sequence(s)" in problem.message
    offset = path.read_bytes().index(b"\xff")
    assert f"at byte {offset})" in problem.message


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes(range(128, 256)) * 4, "not UTF-8 text"),
        ("Titel\nText".encode("utf-16"), "not UTF-8 text"),
        (b"Titel\nText mit NUL \x00.", "holds NUL bytes"),
    ],
)
def test_binary_text_files_are_skipped(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "bad.txt").write_bytes(data)
    (tmp_path / "fine.md").write_text("# Gut\nText.", encoding="utf-8")
    result = load_articles([tmp_path])
    assert [a.id for a in result.articles] == ["fine"]
    [problem] = result.problems
    assert not problem.kept and problem.path == tmp_path / "bad.txt" and message in problem.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_given_as_a_path_is_refused_without_opening_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    opened: list[object] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *args: opened.append(path) or real_open(path, *args))
    error = _finishes(lambda: load_articles([fifo]))
    assert isinstance(error, InputError)
    assert str(error) == f"{fifo}: not a regular file (a FIFO); give an article file or a folder"
    assert opened == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_folders_read_regular_files_only(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "link.md").symlink_to("/dev/zero")
    (tmp_path / "ok.txt").write_text("Titel\nText.", encoding="utf-8")
    result = _finishes(lambda: load_articles([tmp_path]))
    assert isinstance(result, LoadResult)
    assert [a.id for a in result.articles] == ["ok"] and result.problems == []
    error = _finishes(lambda: open_regular(tmp_path / "pipe.txt"))  # a FIFO swapped in after a check
    assert isinstance(error, OSError) and "not a regular file (a FIFO)" in str(error)


def test_articles_over_the_size_limit_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("Titel\n" + "Wort " * 400, encoding="utf-8")
    (tmp_path / "small.txt").write_text("Titel\nText.", encoding="utf-8")
    long_line = json.dumps({"id": "big", "text": "Wort " * 400})
    (tmp_path / "a.jsonl").write_text(long_line + '\n{"id": "ok", "text": "Gut."}\n', encoding="utf-8")
    result = load_articles([tmp_path], max_bytes=1000)
    assert sorted(a.id for a in result.articles) == ["ok", "small"]
    messages = {(p.path.name, p.line): p.message for p in result.problems}
    assert messages == {
        ("a.jsonl", 1): "line over 0.0 MB; skipped (setting NEWSBOT_MAX_ARTICLE_BYTES)",
        ("big.txt", None): "0.0 MB; articles over 0.0 MB are skipped (setting NEWSBOT_MAX_ARTICLE_BYTES)",
    }


def test_long_titles_are_shortened_and_long_ids_refused(tmp_path: Path) -> None:
    first_line = "Wort " * 1000
    path = tmp_path / "a.txt"
    path.write_text(first_line + "\nText.", encoding="utf-8")
    [article] = load_articles([path]).articles
    assert len(article.title) <= MAX_TITLE_CHARS and article.title.endswith("Wort…")
    assert article.text.startswith(first_line)
    record = article_from_record({"id": "x", "text": "y", "title": "T" * 5000})
    assert record.title == "T" * (MAX_TITLE_CHARS - 1) + "…"
    with pytest.raises(ValueError, match="field 'id' is 1001 characters long"):
        article_from_record({"id": "i" * 1001, "text": "y"})


def test_paths_that_cannot_be_stat_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_articles([tmp_path / ("x" * 5000)])
    with pytest.raises(InputError, match="cannot read"):
        load_articles(["a\x00b.txt"])


# ---------- property: any bytes give articles, skipped items with reasons, or a clean error ----------

# Characters that have broken readers: lone surrogates, NUL, line and paragraph separators, a BOM.
_ODD = ["\ud800", "\udfff", "\udcff", "\x00", "\u2028", "\x85", "\r", "\n", "\ufeff", ". ", "!!!", "„"]
_TEXTS = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(_ODD)), max_size=12).map("".join)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXTS, inner, max_size=4),
    max_leaves=12,
)
_RECORDS = st.fixed_dictionaries(
    {"id": st.one_of(_TEXTS, st.integers()), "text": _TEXTS},
    optional={"title": _JSON, "date": _TEXTS, "source": _TEXTS, "lang": _TEXTS, "extra": _JSON},
)
# A JSONL line: an article record, any JSON value, or raw bytes (invalid UTF-8, broken JSON, deep nesting).
_LINES = st.one_of(
    _RECORDS.map(lambda r: json.dumps(r).encode()),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    _TEXTS.map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
)
_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(path: Path) -> LoadResult | None:
    """load_articles on one file: a LoadResult whose articles can be stored (valid UTF-8, hashable,
    bounded titles) and whose problems name the file, or None for a NewsbotError."""
    try:
        result = load_articles([path])
    except NewsbotError:
        return None
    for article in result.articles:
        for value in (article.id, article.text, article.title, article.date, article.source, article.lang):
            value.encode("utf-8")  # no lone surrogates reach the index
        assert article.text.strip() and article.id and len(article.title) <= MAX_TITLE_CHARS
        assert article.content_hash
    assert all(p.path == path and p.message for p in result.problems)
    return result


@_FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".jsonl", ".json", ".txt", ".md", ".html"]))
def test_any_bytes_in_any_article_file(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _check(path)


@_FUZZ
@given(text=_TEXTS, suffix=st.sampled_from([".txt", ".md"]))
def test_any_text_in_a_text_article(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = _check(path)
    assert result is not None and len(result.articles) + len(result.problems) >= 1


@_FUZZ
@given(lines=st.lists(_LINES, min_size=1, max_size=8))
def test_every_jsonl_line_is_an_article_or_a_reason(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = _check(path)
    assert result is not None
    if any(p.line is None for p in result.problems):  # a question set: one problem for the file
        assert result.articles == [] and len(result.problems) == 1
        return
    skipped = {p.line for p in result.problems if not p.kept}
    assert all(p.line not in skipped for p in result.problems if p.kept)
    content_lines = [n for n, line in enumerate(lines, start=1) if not _blank(line, n == 1)]
    assert len(result.articles) + len(skipped) == len(content_lines)


def _blank(line: bytes, first: bool) -> bool:
    """Whether a JSONL line is blank (white space only, after a BOM on the first line)."""
    try:
        return not (line.removeprefix(b"\xef\xbb\xbf") if first else line).decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def test_file_names_that_are_not_utf8_give_storable_ids(tmp_path: Path) -> None:
    try:
        with open(os.fsencode(tmp_path) + b"/caf\xe9.txt", "w", encoding="utf-8") as f:
            f.write("Titel\nText.")
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    [article] = load_articles([tmp_path]).articles
    assert article.id == "caf\ufffd"


def test_jsonl_dates_are_stored_as_iso_dates_and_bad_ones_left_empty(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "Eins.", "date": "18.09.2015"},
        {"id": "b", "text": "Zwei.", "date": "2015-09-18T10:00:00+02:00"},
        {"id": "c", "text": "Drei.", "date": "Sep 18, 2015"},
        {"id": "d", "text": "Vier.", "date": "irgendwann"},
        {"id": "e", "text": "Fünf.", "date": "2999-01-01"},
        {"id": "f", "text": "Sechs."},
    ]
    path = tmp_path / "dated.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = load_articles([path])
    assert {a.id: a.date for a in result.articles} == {
        "a": "2015-09-18", "b": "2015-09-18", "c": "2015-09-18", "d": "", "e": "", "f": ""}
    assert [(p.line, p.kept) for p in result.problems] == [(4, True), (5, True)]
    assert "'irgendwann' is not a date; left empty" in str(result.problems[0])
    assert str(result.problems[1]) == f"{path}:5: date 2999-01-01 lies in the future; left empty"


def test_a_file_is_a_page_or_a_feed_by_what_it_holds_not_its_suffix(tmp_path: Path) -> None:
    body = " ".join(["Die Stadt Wien baut die neue U-Bahn-Linie U5 weiter aus."] * 8)
    xhtml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f"<title>Wien baut die U5</title></head><body><article><h1>Wien baut die U5</h1><p>{body}</p>"
        "</article></body></html>"
    )
    (tmp_path / "page.xml").write_text(xhtml, encoding="utf-8")
    result = load_articles([tmp_path / "page.xml"])
    assert [a.id for a in result.articles] == ["page"], result.problems
    assert "U5" in result.articles[0].text
