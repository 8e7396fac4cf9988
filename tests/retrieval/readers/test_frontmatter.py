"""YAML front matter of text articles: fields read with a real YAML parser, bad blocks reported by
line and their file skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.documents import load_articles
from retrieval.readers.frontmatter import FrontMatterError, split_front_matter

GOOD = """---
title: "Neue U-Bahn: Wien baut die U5"
date: 18.09.2015
url: https://www.derstandard.at/story/2000022001/u5?ref=rss
lang: de
author: Maria Huber
tags: [Wien, Verkehr]
---
Wien baut die U5

Die Stadt Wien baut eine neue U-Bahn-Linie. Die Linie U5 soll 2026 eröffnet werden.
"""


def test_front_matter_gives_title_date_source_and_lang(tmp_path: Path) -> None:
    (tmp_path / "wien").mkdir()
    (tmp_path / "wien" / "u5.md").write_text(GOOD, encoding="utf-8")
    result = load_articles([tmp_path])
    assert result.problems == []
    [article] = result.articles
    assert article.id == "wien/u5"
    assert article.title == "Neue U-Bahn: Wien baut die U5"
    assert article.date == "2015-09-18"
    assert article.source == "derstandard.at"  # no `source`: the url's domain
    assert article.lang == "de"
    assert article.text.startswith("Wien baut die U5\n\nDie Stadt Wien") and "---" not in article.text
    assert article.meta == {"url": "https://www.derstandard.at/story/2000022001/u5?ref=rss",
                            "author": "Maria Huber", "tags": ["Wien", "Verkehr"]}


def test_source_wins_over_the_url_and_yaml_dates_and_numbers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("---\ntitle: 1984\ndate: 2015-09-18\nsource: Der Standard\nurl: https://x.at/a\n---\n"
                    "Ein Text über ein Buch.\n", encoding="utf-8")
    [article] = load_articles([path]).articles
    assert (article.title, article.date, article.source) == ("1984", "2015-09-18", "Der Standard")
    assert article.text == "Ein Text über ein Buch.\n"


def test_without_front_matter_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("# Titel\n\nText.\n\n---\n\nMehr Text.\n", encoding="utf-8")
    [article] = load_articles([path]).articles
    assert article.title == "Titel" and article.text.startswith("# Titel") and article.date == ""
    ruled = tmp_path / "ruled.txt"
    ruled.write_text("---\nEin Satz zwischen zwei Linien.\n---\nText.\n", encoding="utf-8")
    result = load_articles([ruled])
    assert result.problems == [] and result.articles[0].text.startswith("---\nEin Satz")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ntitle: Wien\ndate: [unclosed\n---\nText.\n", 3, "not valid YAML"),
        ("---\ntitle: Wien\n  bad: indent: here\n---\nText.\n", 3, "not valid YAML"),
        ("---\ntitle: Wien\n\nText without an end.\n", 1, "never closed"),
        ("---\ndate: 2015-09-18\ntitle: [a, b]\n---\nText.\n", 3, "field 'title' must be text"),
    ],
)
def test_bad_front_matter_skips_the_file_with_its_line(tmp_path: Path, text: str, line: int,
                                                        message: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    result = load_articles([tmp_path])
    assert [a.id for a in result.articles] == ["good"]
    [problem] = result.problems
    assert problem.path == path and problem.line == line and not problem.kept
    assert message in problem.message and "skipped" in str(problem)
    assert str(problem).startswith(f"{path}:{line}: front matter")


def test_an_unreadable_date_is_left_empty_and_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: Wien\ndate: nächsten Dienstag\n---\nText.\n", encoding="utf-8")
    result = load_articles([path])
    [article] = result.articles
    assert article.title == "Wien" and article.date == ""
    [problem] = result.problems
    assert problem.kept and problem.line == 3 and "'nächsten Dienstag' is not a date" in problem.message


def test_front_matter_with_no_body_is_an_empty_article(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: Wien\n---\n\n", encoding="utf-8")
    result = load_articles([path])
    assert result.articles == [] and "no text after the front matter" in str(result.problems[0])


def test_split_keeps_unknown_fields_and_takes_dots_as_the_end() -> None:
    matter = split_front_matter("---\nfoo: 1\n...\nBody\n")
    assert matter is not None and matter.fields == {"foo": 1} and matter.body == "Body\n"
    assert split_front_matter("Body only\n") is None
    with pytest.raises(FrontMatterError) as caught:
        split_front_matter("---\n: :\n  - x\n---\n")
    assert caught.value.line >= 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(block=st.text(max_size=200), body=st.text(max_size=100))
def test_any_front_matter_gives_an_article_or_a_reason_with_a_line(tmp_path: Path, block: str,
                                                                  body: str) -> None:
    path = tmp_path / "fuzz.md"
    path.write_bytes(f"---\n{block}\n---\n{body}".encode("utf-8", "surrogatepass"))
    result = load_articles([path])
    skipped = [p for p in result.problems if not p.kept]
    assert len(result.articles) + len(skipped) == 1
    for problem in result.problems:
        assert problem.path == path and problem.message
    for article in result.articles:
        article.title.encode("utf-8")
        assert article.content_hash and (article.date == "" or len(article.date) == 10)


def test_yaml_aliases_and_huge_blocks_are_refused() -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n---\nText\n"
    with pytest.raises(FrontMatterError, match="YAML alias") as caught:
        split_front_matter(bomb)
    assert caught.value.line == 3
    with pytest.raises(FrontMatterError, match="limit is"):
        split_front_matter("---\n" + "k: v\n" * 20_000 + "---\nText\n")


def test_a_declared_language_is_taken_normalised_without_detection(tmp_path, monkeypatch) -> None:
    import retrieval.langdetect as langdetect
    from retrieval.documents import load_articles

    def no_detection(text: str, default: str = "de") -> str:
        raise AssertionError("detected although declared")

    monkeypatch.setattr(langdetect, "detect_language", no_detection)
    (tmp_path / "a.md").write_text("---\nlang: fr-FR\n---\nLe texte est en français.\n", encoding="utf-8")
    assert [a.lang for a in load_articles([tmp_path / "a.md"]).articles] == ["fr"]
