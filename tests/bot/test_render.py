"""Terminal rendering: the short answer first and bold, each quote once, sources as bylines."""

from __future__ import annotations

import click
import pytest

from bot.render import format_answer
from bot.repl import run_repl
from retrieval.answering.types import Answer, Citation, quoted
from retrieval.pipeline import Newsbot

BOLD = "\x1b[1m"
QUOTE = "Russlands Außenminister Sergej Lawrow hatte die Idee zu militärischen Diskussionen am Dienstag " \
        "in einem Telefonat mit Kerry zur Sprache gebracht."
SPOKEN = "„Wir sind bereit“, sagte Lawrow."
CITATIONS = (
    Citation(1, "talks", "Gespräche über Syrien", "2015-09-18", "APA", 3, QUOTE, 100, 100 + len(QUOTE)),
    Citation(2, "talks", "Gespräche über Syrien", "", "", 3, SPOKEN, 300, 300 + len(SPOKEN)),
)


def short_answer(question: str = "Wer schlug die Gespräche vor?", short: str = "Sergej Lawrow") -> Answer:
    """An answer with a short answer, built as the extractive answerer builds its text."""
    text = f"**{short}** — {quoted(QUOTE)} [1] {quoted(SPOKEN)} [2]"
    return Answer(question, text, CITATIONS, language="de", short_answer=short)


def test_the_short_answer_comes_first_in_bold_on_a_terminal() -> None:
    shown = format_answer(short_answer(), bold=True)
    assert shown.startswith(click.style("Sergej Lawrow", bold=True) + " — „Russlands")
    assert shown.count(BOLD) == 1 and "**" not in shown
    assert click.unstyle(shown) == format_answer(short_answer(), bold=False)


def test_plain_output_has_neither_markup_nor_ansi() -> None:
    shown = format_answer(short_answer())
    assert shown.startswith("Sergej Lawrow — „Russlands Außenminister")
    assert "**" not in shown and "\x1b" not in shown


def test_bold_inside_the_text_is_styled_and_never_shown_as_markers() -> None:
    answer = Answer("Wer?", "**Lawrow** — „Er hatte **die Idee zu** Gesprächen.“ [1]", CITATIONS[:1])
    shown = format_answer(answer, bold=True)
    assert shown.startswith(click.style("Lawrow", bold=True) + " — „Er hatte "
                            + click.style("die Idee zu", bold=True) + " Gesprächen.“ [1]")
    assert format_answer(answer).startswith("Lawrow — „Er hatte die Idee zu Gesprächen.“ [1]")


def test_a_short_answer_wrapped_over_lines_is_bold_on_each() -> None:
    short = "Außenminister Sergej Lawrow aus Russland"
    shown = format_answer(short_answer(short=short), width=16, bold=True)
    lines = shown.splitlines()
    assert [line.startswith(BOLD) for line in lines[:4]] == [True, True, True, False]
    bold_parts = [line[len(BOLD):line.index("\x1b[0m")] for line in lines[:3]]
    assert " ".join(bold_parts) == short
    assert click.unstyle(shown) == format_answer(short_answer(short=short), width=16)


def test_each_quote_is_shown_once_and_sources_are_bylines() -> None:
    shown = format_answer(short_answer(), width=400)
    assert shown.count("Lawrow hatte die Idee") == 1 and shown.count("Wir sind bereit") == 1
    assert "„„" not in shown and "““" not in shown and "“ [2]" not in shown
    assert "„Wir sind bereit“, sagte Lawrow. [2]" in shown
    sources = shown.split("\n\nQuellen:\n")[1]
    assert sources.splitlines() == ["[1] Gespräche über Syrien — 18 Sep 2015 — APA",
                                    "[2] Gespräche über Syrien"]


def test_an_answer_without_short_answer_or_citations_is_its_text() -> None:
    plain = Answer("Who?", "„Lawrow hatte die Idee.“ [1]", CITATIONS[:1], language="en")
    assert format_answer(plain, bold=True).splitlines()[:3] == [
        "„Lawrow hatte die Idee.“ [1]", "", "Sources:"]
    refusal = Answer("Who?", "The articles don't say.", abstained=True)
    assert format_answer(refusal, bold=True) == "The articles don't say."


@pytest.mark.parametrize("bold", [False, True])
def test_repl_shows_the_short_answer_bold_only_when_asked(fake_bot: Newsbot, bold: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Newsbot, "answer", lambda self, question, **_: short_answer(question))
    said: list[str] = []
    lines = iter(["Wer schlug die Gespräche vor?", ":quit"])
    run_repl(fake_bot, read=lambda _prompt: next(lines), write=said.append, bold=bold)
    assert said[1].startswith(click.style("Sergej Lawrow", bold=True) if bold else "Sergej Lawrow —")
    assert "**" not in said[1]


def test_a_note_is_shown_under_the_sources() -> None:
    noted = Answer("Wer?", "„Lawrow hatte die Idee.“ [1]", CITATIONS[:1], language="de",
                   note="The model could not be reached; this is the offline answer.")
    assert format_answer(noted).endswith(
        "[1] Gespräche über Syrien — 18 Sep 2015 — APA\n\n"
        "(The model could not be reached; this is the offline answer.)")
    assert "(" not in format_answer(short_answer()).split("Quellen:")[1]
