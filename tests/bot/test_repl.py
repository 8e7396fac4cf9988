"""The REPL's conversation and streaming, driven without a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.repl import HELP, NEW, REVISED, ReplSession, run_repl
from retrieval.answering.types import Answer, Citation, DraftCallback, Turn
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.index import SourceQuery
from retrieval.pipeline import Newsbot
from tests.bot.telegram_harness import RecordingAnswerer

QUOTE = "Mehr als 300 Feuerwehrleute waren im Einsatz."
CITATION = Citation(1, "graz-1", "Hochwasser in Graz", "2015-06-02", "APA", 1, QUOTE, 35, 35 + len(QUOTE))


class StreamingAnswerer:
    """Drafts its answer in pieces through on_draft, then returns `final` (the last draft by
    default), like a model streaming tokens."""

    def __init__(self, drafts: list[str], final: str | None = None) -> None:
        self.drafts, self.final = drafts, final

    def answer(
        self,
        question: str,
        hits: Any,
        vector: Any,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        for draft in self.drafts:
            on_draft(draft)
        text = self.drafts[-1] if self.final is None else self.final
        return Answer(question, text, (CITATION,) if "[1]" in text else (), language="de")


def newsbot(tmp_path: Path, corpus_file: Path, answerer: object) -> Newsbot:
    """A Newsbot over the two small articles with the given answerer."""
    bot = Newsbot(
        Settings(home=tmp_path / "home"),
        embedder=HashEmbedder(),
        index_dir=tmp_path / "index",
        answerer=answerer,
    )
    bot.index_paths([corpus_file], progress=False)
    return bot


def converse(bot: Newsbot, lines: list[str]) -> tuple[list[str], list[str]]:
    """Run the REPL over the lines; what it wrote and what it streamed."""
    said: list[str] = []
    streamed: list[str] = []
    feed = iter([*lines, ":quit"])
    run_repl(bot, read=lambda _prompt: next(feed), write=said.append, bold=False, stream=streamed.append)
    return said, streamed


def test_follow_ups_get_the_conversation_and_new_starts_over(tmp_path: Path, corpus_file: Path) -> None:
    answerer = RecordingAnswerer()
    said, streamed = converse(
        newsbot(tmp_path, corpus_file, answerer),
        [
            "Wo trat die Mur über die Ufer?",
            "Und wie viele halfen?",
            "Wer sprach?",
            ":new",
            "Was baut Wien?",
            ":help",
        ],
    )
    assert answerer.questions() == [
        [],
        ["Wo trat die Mur über die Ufer?"],
        ["Wo trat die Mur über die Ufer?", "Und wie viele halfen?"],
        [],
    ]
    assert answerer.histories[2][1].answer.text == "Answer 2."  # the bot's own answer is history
    assert NEW + "\n" in said and HELP + "\n" in said and ":new" in HELP
    assert said[1:4] == ["Answer 1.\n", "Answer 2.\n", "Answer 3.\n"] and not streamed


def test_the_conversation_is_bounded(tmp_path: Path, corpus_file: Path) -> None:
    answerer = RecordingAnswerer()
    session = ReplSession(newsbot(tmp_path, corpus_file, answerer), turns=2)
    for n in range(5):
        session.handle(f"Frage Nummer {n}?")
    assert answerer.questions()[-1] == ["Frage Nummer 2?", "Frage Nummer 3?"]
    assert len(session.history) == 2


def test_ask_stays_single_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    seen: list[tuple[Any, ...]] = []

    def recording(self: Newsbot, question: str, history: Sequence[Turn] = (), on_draft: Any = None) -> Answer:
        seen.append(tuple(history))
        return Answer(question, "Einmal.", language="de")

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("Titel\n\nEin Satz über Graz.", encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_SEEDS", str(seeds))
    monkeypatch.setenv("NEWSBOT_EMBEDDER", "demo-hash")
    monkeypatch.setattr(Newsbot, "answer", recording)
    assert main(["ask", "Was war in Graz?"]) == 0 and main(["ask", "Und dann?"]) == 0
    assert seen == [(), ()] and "Einmal." in capsys.readouterr().out


def test_a_streamed_answer_is_printed_as_it_arrives_then_only_its_sources(
    tmp_path: Path, corpus_file: Path
) -> None:
    drafts = ["**Mehr als 300", "**Mehr als 300** — „Mehr als 300 Feuer", f"**Mehr als 300** — „{QUOTE}“ [1]"]
    said, streamed = converse(
        newsbot(tmp_path, corpus_file, StreamingAnswerer(drafts)), ["Wie viele Feuerwehrleute?"]
    )
    assert streamed == ["Mehr als 300", " — „Mehr als 300 Feuer", "wehrleute waren im Einsatz.“ [1]", "\n"]
    assert said[1] == "\nQuellen:\n[1] Hochwasser in Graz — 2 Jun 2015 — APA\n"
    assert ("".join(streamed) + "".join(said)).count("waren im Einsatz") == 1


def test_a_streamed_answer_without_sources_ends_with_a_blank_line(tmp_path: Path, corpus_file: Path) -> None:
    said, streamed = converse(
        newsbot(tmp_path, corpus_file, StreamingAnswerer(["Die Artikel", "Die Artikel sagen nichts."])),
        ["Wie hoch ist die Zugspitze?"],
    )
    assert "".join(streamed) == "Die Artikel sagen nichts.\n\n" and said == [said[0]]


def test_a_final_answer_that_differs_from_the_draft_is_shown_whole(tmp_path: Path, corpus_file: Path) -> None:
    drafts = ["Laut [7] waren", "Laut [7] waren es 500."]  # the model cited a sentence it never got
    final = "Die Artikel sagen dazu nichts."
    said, streamed = converse(
        newsbot(tmp_path, corpus_file, StreamingAnswerer(drafts, final)), ["Wie viele Feuerwehrleute?"]
    )
    assert "".join(streamed) == "Laut [7] waren es 500.\n"
    assert said[1] == f"\n{REVISED}\n{final}\n"


def test_sources_lists_the_first_page_and_the_total(
    fake_bot: Newsbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_bot, "sources", lambda: pytest.fail("read every article"))
    monkeypatch.setattr("bot.repl.SOURCES_PAGE", 1)
    listed = ReplSession(fake_bot).handle(":sources") or ""
    first = fake_bot.source_page(SourceQuery(limit=1))
    assert first.articles[0].id in listed and listed.endswith(
        f"{first.total} articles, {first.chunks} chunks; shown: 1–1")
