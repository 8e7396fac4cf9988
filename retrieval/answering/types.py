"""The types every front end shows: Answer and Citation, and the Answerer protocol."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from prompts import render
from retrieval.language import guess_language
from retrieval.readers.dates import display_date
from retrieval.search import Hit

# Quote marks that open or close a quotation in German or English text.
OPENING_MARKS = ("„", "“", "‚", '"', "»", "«")
CLOSING_MARKS = ("“", "”", "‘", '"', "«", "»")
# Longer titles are shortened in an abstention.
ABSTAIN_TITLE_CHARS = 100
# `**bold**` in an answer text, markdown-style: the short answer at its start, or (from a model)
# anywhere; the markers touch the bold words and the span stays on one line.
_BOLD = re.compile(r"\*\*(?!\s)([^\n]+?)(?<!\s)\*\*")


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
class ArticleRef:
    """The article an abstention names as the closest it looked at."""

    title: str
    date: str = ""


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


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: what was asked and what the bot answered."""

    question: str
    answer: Answer


# Called with the answer text drafted so far (the whole draft, not a delta) while an answerer
# streams; front ends print or edit it in place. The final Answer is still returned whole.
DraftCallback = Callable[[str], None]


class Answerer(Protocol):
    """Turns a question and retrieved chunks into an Answer."""

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        vector: np.ndarray,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        """Answer from the hits (with the conversation so far), or abstain."""
        ...


def question_language(question: str) -> str:
    """'de' or 'en': the language answers and abstentions are given in."""
    return guess_language(question, default="en")


def abstention(question: str, retrieved: Sequence[str] = (), closest: ArticleRef | None = None) -> Answer:
    """The answer that says the articles do not answer the question, naming the closest article
    it looked at when there is one. It cites nothing."""
    lang = question_language(question)
    return Answer(
        question=question,
        text=abstention_text(lang, closest),
        abstained=True,
        language=lang,
        retrieved=tuple(retrieved),
    )


def abstention_text(lang: str, closest: ArticleRef | None = None) -> str:
    """The abstention in `lang` ('en' or 'de'), with the closest article's title (and date)."""
    title = _short_title(closest.title) if closest else ""
    if closest is None or not title:
        return render(f"abstain_{lang}")
    if closest.date.strip():
        return render(f"abstain_closest_dated_{lang}", title=title, date=display_date(closest.date.strip()))
    return render(f"abstain_closest_{lang}", title=title)


def _short_title(title: str) -> str:
    """A title on one line, cut at a word with '…' past ABSTAIN_TITLE_CHARS."""
    title = " ".join(title.split())
    if len(title) <= ABSTAIN_TITLE_CHARS:
        return title
    return title[: ABSTAIN_TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def quoted(text: str) -> str:
    """The text in German quotation marks „…“, unless it already begins with an opening mark or
    ends with a closing one (a sentence that is itself a quote), which is returned as it is."""
    stripped = text.strip()
    if stripped.startswith(OPENING_MARKS) or stripped.endswith(CLOSING_MARKS):
        return stripped
    return f"„{stripped}“"


def bold_segments(text: str) -> list[tuple[str, bool]]:
    """The answer text as (piece, bold) pairs, the `**` markers removed: what a front end shows,
    the short answer (and any other `**…**` span) in bold."""
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            segments.append((text[position : match.start()], False))
        segments.append((match.group(1), True))
        position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return segments


def plain_text(text: str) -> str:
    """The answer text as a reader sees it: the `**` markers of bold spans removed."""
    return "".join(piece for piece, _ in bold_segments(text))


def ranked_articles(hits: Sequence[Hit]) -> tuple[str, ...]:
    """Article ids in the order of their best chunk."""
    return tuple(dict.fromkeys(hit.chunk.article_id for hit in hits))
