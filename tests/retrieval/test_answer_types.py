"""The answer types' helpers: quote marks, the bold short answer, and abstentions."""

from __future__ import annotations

import string

import pytest

from prompts import template
from retrieval.answering.types import (
    ArticleRef,
    abstention,
    bold_segments,
    plain_text,
    quoted,
)


@pytest.mark.parametrize("sentence, shown", [
    ("Die Linie U5 soll 2026 eröffnet werden.", "„Die Linie U5 soll 2026 eröffnet werden.“"),
    ("„Das ist ein Jahrhundertprojekt“, sagte Häupl.", "„Das ist ein Jahrhundertprojekt“, sagte Häupl."),
    ("Häupl sagte: „Das ist gut.“", "Häupl sagte: „Das ist gut.“"),
    ("„Wir bauen.“", "„Wir bauen.“"),
    ("“We will build it,” he said.", "“We will build it,” he said."),
    ("He called it “historic”", "He called it “historic”"),
    ('  Er sprach von "Glück".  ', '„Er sprach von "Glück".“'),
])
def test_quoted_never_wraps_a_quote_in_a_second_pair(sentence: str, shown: str) -> None:
    assert quoted(sentence) == shown
    assert shown.count("„") <= 1


def test_plain_text_drops_the_bold_markers() -> None:
    assert plain_text("**Sergej Lawrow** — „Lawrow hatte die Idee.“ [1]") == \
        "Sergej Lawrow — „Lawrow hatte die Idee.“ [1]"
    assert plain_text("„Lawrow hatte die **Idee**.“ [1]") == "„Lawrow hatte die Idee.“ [1]"
    assert plain_text("„2 ** 3 ist 8.“ [1]") == "„2 ** 3 ist 8.“ [1]"


def test_bold_spans_are_markdown_style() -> None:
    assert bold_segments("**300** — „Mehr als **300** Leute.“ [1]") == [
        ("300", True), (" — „Mehr als ", False), ("300", True), (" Leute.“ [1]", False)]
    assert bold_segments("„2 ** 3 ist 8.“ [1]") == [("„2 ** 3 ist 8.“ [1]", False)]
    assert bold_segments("**a\nb** c") == [("**a\nb** c", False)]
    assert bold_segments("") == []


@pytest.mark.parametrize("question, closest, text", [
    ("Who won the 2014 World Cup?", ArticleRef("Neue U-Bahn in Wien", "2015-09-18"),
     "The articles don't say. Even the closest one, ‹Neue U-Bahn in Wien› (18 Sep 2015), "
     "doesn't answer the question."),
    ("Who won the 2014 World Cup?", ArticleRef("Neue U-Bahn in Wien"),
     "The articles don't say. Even the closest one, ‹Neue U-Bahn in Wien›, doesn't answer the question."),
    ("Wer gewann die Fußball-Weltmeisterschaft 2014?", ArticleRef("Hochwasser in Graz", "2015-06-02"),
     "Die Artikel sagen dazu nichts. Auch der am ehesten passende Artikel, ‹Hochwasser in Graz› "
     "(2 Jun 2015), beantwortet die Frage nicht."),
    ("Wer gewann die Fußball-Weltmeisterschaft 2014?", ArticleRef("Hochwasser in Graz", " "),
     "Die Artikel sagen dazu nichts. Auch der am ehesten passende Artikel, ‹Hochwasser in Graz›, "
     "beantwortet die Frage nicht."),
    ("Who won the 2014 World Cup?", None,
     "The articles don't say anything about this, so I can't answer it from them."),
    ("Wer gewann die Fußball-Weltmeisterschaft 2014?", ArticleRef(""),
     "Die Artikel sagen dazu nichts, daher kann ich das aus ihnen nicht beantworten."),
])
def test_abstention_names_the_closest_article_in_the_question_language(
        question: str, closest: ArticleRef | None, text: str) -> None:
    answer = abstention(question, ["a1", "a2"], closest=closest)
    assert answer.text == text
    assert answer.abstained and answer.citations == () and answer.short_answer is None
    assert answer.retrieved == ("a1", "a2")


def test_a_long_title_is_shortened_in_an_abstention() -> None:
    title = "Washington will direkte militärische Gespräche mit Moskau über die russische " \
            "Aufrüstung zur Unterstützung des syrischen Regimes"
    text = abstention("Who won?", closest=ArticleRef(title, "2015-09-18")).text
    assert "‹Washington will direkte militärische Gespräche mit Moskau über die russische Aufrüstung zur…› " \
           "(18 Sep 2015)" in text


@pytest.mark.parametrize("name, placeholders", [
    ("abstain_en", set()), ("abstain_de", set()),
    ("abstain_closest_en", {"title"}), ("abstain_closest_de", {"title"}),
    ("abstain_closest_dated_en", {"title", "date"}), ("abstain_closest_dated_de", {"title", "date"}),
])
def test_abstention_prompts_use_each_placeholder(name: str, placeholders: set[str]) -> None:
    fields = [f for _, f, _, _ in string.Formatter().parse(template(name)) if f is not None]
    assert sorted(fields) == sorted(placeholders)
