"""Answers: the types every front end shows, and the extractive answerer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from prompts import render
from retrieval.index import NewsIndex
from retrieval.language import guess_language
from retrieval.search import Hit, query_terms


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
    """What the bot says: text with [n] markers, the citations, and whether it abstained."""

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    language: str = "en"
    retrieved: tuple[str, ...] = field(default=(), compare=False)


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
    return Answer(question=question, text=render(f"abstain_{lang}"), abstained=True,
                  language=lang, retrieved=tuple(retrieved))


def ranked_articles(hits: Sequence[Hit]) -> tuple[str, ...]:
    """Article ids in the order of their best chunk."""
    return tuple(dict.fromkeys(hit.chunk.article_id for hit in hits))


# ---------- extractive answering ----------
_NUMBER_Q = re.compile(r"\b(how (many|much|long|old|far|high|big|large)|wie (viele?|lange|alt|"
                       r"weit|hoch|groß|gross)|wieviele?|what (percentage|number))\b", re.I)
_TIME_Q = re.compile(r"\b(when|what year|which year|wann|in welchem jahr|seit wann)\b", re.I)
_PERSON_Q = re.compile(r"^\W*(who|whom|whose|wer|wen|wem|wessen)\b", re.I)
_PLACE_Q = re.compile(r"^\W*(where|wo|wohin|woher)\b", re.I)
_NUMBER = re.compile(r"\d")
_YEAR_OR_DATE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}\.\s*[A-ZÄÖÜ][a-zäöü]+|"
                           r"\b(januar|jänner|februar|märz|april|mai|juni|juli|august|september|"
                           r"oktober|november|dezember|montag|dienstag|mittwoch|donnerstag|"
                           r"freitag|samstag|sonntag)\b", re.I)
_CAPITALIZED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÄÖÜ][\wäöüß-]+")


@dataclass(frozen=True)
class _Candidate:
    """A sentence that might answer, with its scores."""

    hit_rank: int
    hit: Hit
    sentence_id: int
    start: int
    end: int
    score: float


class ExtractiveAnswerer:
    """Quotes the best evidence sentence from the top chunks, or abstains."""

    name = "extractive"

    def __init__(self, index: NewsIndex, min_score: float = 0.42) -> None:
        self.index = index
        self.min_score = min_score

    def answer(self, question: str, hits: Sequence[Hit], vector: np.ndarray) -> Answer:
        """The best sentence quoted and cited; an abstention when the evidence is weak."""
        retrieved = ranked_articles(hits)
        candidates = self._candidates(question, hits, vector)
        if not candidates or candidates[0].score < self.min_score:
            return abstention(question, retrieved)
        best = candidates[0]
        citation = self._cite(1, best)
        return Answer(question=question, text=f"„{citation.quote}“ [1]", citations=(citation,),
                      language=question_language(question), retrieved=retrieved)

    def _candidates(self, question: str, hits: Sequence[Hit], vector: np.ndarray) -> list[_Candidate]:
        """Every sentence of the hits, scored, best first."""
        q_terms = set(query_terms(question))
        seen: set[int] = set()
        rows: list[tuple[int, Hit, int, int, int]] = []
        for rank, hit in enumerate(hits):
            for sentence in self.index.chunk_sentences_of(hit.chunk):
                if sentence.id not in seen:
                    seen.add(sentence.id)
                    rows.append((rank, hit, sentence.id, sentence.start, sentence.end))
        if not rows:
            return []
        sims = self.index.sentence_vectors_of([r[2] for r in rows]) @ vector
        top_hit = max(hit.score for hit in hits)
        scored = []
        for (rank, hit, sid, start, end), sim in zip(rows, sims, strict=True):
            text = self.index.article_text(hit.chunk.article_id)[start:end]
            score = (float(sim) + 0.25 * _overlap(q_terms, text) + 0.08 * _type_match(question, text)
                     + 0.15 * (hit.score - top_hit))
            scored.append(_Candidate(rank, hit, sid, start, end, score))
        return sorted(scored, key=lambda c: -c.score)

    def _cite(self, n: int, candidate: _Candidate) -> Citation:
        """A citation for a candidate sentence."""
        article = self.index.article(candidate.hit.chunk.article_id)
        return Citation(n=n, article_id=article.id, title=article.display_title, date=article.date,
                        source=article.source, chunk_id=candidate.hit.chunk.id,
                        quote=article.text[candidate.start : candidate.end],
                        start=candidate.start, end=candidate.end)


def _overlap(q_terms: set[str], sentence: str) -> float:
    """Share of the question's terms found in the sentence."""
    if not q_terms:
        return 0.0
    return len(q_terms & set(query_terms(sentence))) / len(q_terms)


def _type_match(question: str, sentence: str) -> float:
    """1 when the sentence holds the kind of thing the question asks for."""
    if _NUMBER_Q.search(question):
        return float(bool(_NUMBER.search(sentence)))
    if _TIME_Q.search(question):
        return float(bool(_YEAR_OR_DATE.search(sentence)))
    if _PERSON_Q.search(question) or _PLACE_Q.search(question):
        return float(bool(_CAPITALIZED.search(sentence)))
    return 0.0
