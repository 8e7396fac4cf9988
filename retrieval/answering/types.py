"""The types every front end shows: Answer and Citation, and the Answerer protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from prompts import render
from retrieval.language import guess_language
from retrieval.search import Hit


@dataclass(frozen=True)
class Citation:
    """One quoted passage an answer rests on."""

    n: int
    article_id: str
    title: str
    date: str
    source: str
    chunk_id: int
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What the bot says: text with [n] markers, the short answer, the citations, and whether it
    abstained. `note` is one line for the reader when something degraded."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    language: str = "en"
    retrieved: tuple[str, ...] = field(default=(), compare=False)
    short_answer: str | None = None
    answerer: str = "extractive"
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The answer as the JSON object of FORMATS.md (`newsbot ask --json`)."""
        return {
            "question": self.question,
            "language": self.language,
            "text": self.text,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "answerer": self.answerer,
            "note": self.note,
            "citations": [asdict(c) for c in self.citations],
            "retrieved": list(self.retrieved),
        }


class Answerer(Protocol):
    """Turns a question and retrieved chunks into an Answer."""

    def answer(self, question: str, hits: Sequence[Hit], vector: np.ndarray) -> Answer:
        """Answer from the hits, or abstain."""
        ...


def question_language(question: str) -> str:
    """'de' or 'en': the language answers and abstentions are given in."""
    return guess_language(question, default="en")


def abstention(question: str, retrieved: Sequence[str] = ()) -> Answer:
    """The answer that says the articles do not answer the question."""
    lang = question_language(question)
    return Answer(
        question=question,
        text=render(f"abstain_{lang}"),
        abstained=True,
        language=lang,
        retrieved=tuple(retrieved),
    )


def ranked_articles(hits: Sequence[Hit]) -> tuple[str, ...]:
    """Article ids in the order of their best chunk."""
    return tuple(dict.fromkeys(hit.chunk.article_id for hit in hits))


def quoted(text: str) -> str:
    """The text in German quotation marks „…“, unless it already opens with „ (then it is shown
    as it is, with the closing mark added only when missing)."""
    if text.startswith("„"):
        return text if text.rstrip().endswith(("“", '"')) else f"{text}“"
    return f"„{text}“"
