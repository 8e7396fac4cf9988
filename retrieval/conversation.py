"""Follow-up questions: what a question asked in a conversation refers to, for retrieval.

A follow-up ("Where is he going?", "Und wie alt ist er?") is answered with its history
(`FollowUpSearch`). Its text is resolved into a search text that carries what it refers to: by
an answerer that can condense a conversation into a stand-alone question (an LLM), else offline
by `ContextRewriter`, which appends the recent turns' words and the short answers the bot gave.
`follow_topic` decides whether the question stays with the conversation's articles (it names
nothing new, or something one of them mentions) or turns to another topic (it names something
none of them mentions and another article matches with confidence). While the topic holds,
`prefer_articles` ranks the conversation's article first and the answer is chosen from that
article's chunks, sentences scored by `blend_sentence_scores`. A question asked without history
never comes here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.answering.types import Turn
from retrieval.embeddings import Embedder
from retrieval.index import NewsIndex
from retrieval.language import cognate_keys, key_terms, query_stopwords, query_terms, terms
from retrieval.search import Hit, Searcher

log = logging.getLogger("newsbot")

# How much a sentence's similarity to the question as asked counts, against its similarity to
# the resolved follow-up, when an answer is chosen from the conversation's article.
ASKED_WEIGHT = 0.5
# Question words, which key_terms may keep when one opens a question ("Who's").
QUESTION_WORDS = frozenset(
    "who whom whose what when where which why how wer wen wem wessen was wann wo woher wohin "
    "welche welcher welches welchen welchem warum wie".split()
)
# A follow-up turns to a new topic only where the question as asked finds another article with
# at least this relevance (the chunk relevance model's logit): a common noun the conversation's
# article lacks ("Gespräch", "Geld") is no new topic.
NEW_TOPIC_RELEVANCE = -1.0
# How many earlier turns lend their words to a follow-up's search text (the most recent ones).
CONTEXT_TURNS = 3


@dataclass(frozen=True)
class Rewrite:
    """A follow-up's search text, and whether it stands alone (a model's condensed question,
    which a new topic may be searched with) or carries the earlier turns' words (offline)."""

    text: str
    standalone: bool


class FollowUpRewriter(Protocol):
    """Turns a follow-up and its history into the text retrieval searches with."""

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """The search text for the question asked after `history` (oldest first)."""
        ...


@runtime_checkable
class Condenser(Protocol):
    """What an answerer offers when it can condense a follow-up into a stand-alone question."""

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """The question rewritten to be understood without the history."""
        ...


@dataclass(frozen=True)
class ContextRewriter:
    """Offline rewriting: the question, then the names and key terms of the earlier questions
    and the short answers given (most recent first), each word once."""

    turns: int = CONTEXT_TURNS

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """The question followed by what the recent turns were about (not standing alone)."""
        context = [context_text(turn) for turn in reversed(history[-self.turns :])]
        return Rewrite(" ".join([question, *_new_words(question, context)]), standalone=False)


@dataclass(frozen=True)
class CondensingRewriter:
    """Rewriting by an answerer's `condense` (an LLM); the offline rewriter when it fails."""

    condenser: Condenser
    fallback: FollowUpRewriter = ContextRewriter()

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        """The condensed stand-alone question, or the fallback's rewrite when none comes back."""
        try:
            condensed = self.condenser.condense(question, history).strip()
        except Exception as exc:  # a failing model must not fail the answer
            log.warning("condensing the follow-up failed (%s); rewriting it offline", type(exc).__name__)
            condensed = ""
        return Rewrite(condensed, standalone=True) if condensed else self.fallback.rewrite(question, history)


def rewriter_for(answerer: object) -> FollowUpRewriter:
    """The answerer's condensing when it offers one, else the offline rewriter."""
    if isinstance(answerer, Condenser):
        return CondensingRewriter(answerer)
    return ContextRewriter()


def context_text(turn: Turn) -> str:
    """What one earlier turn was about: its question's names and key words, and the short
    answer the bot gave (an abstention adds nothing of the answer)."""
    parts = [turn.question]
    if not turn.answer.abstained and turn.answer.short_answer:
        parts.append(turn.answer.short_answer)
    return " ".join(parts)


def _new_words(question: str, texts: Sequence[str]) -> list[str]:
    """The content words of the texts that the question (and an earlier text) lacks, in order."""
    seen = {w.casefold() for w in question.split()}
    out: list[str] = []
    stop = query_stopwords()
    for text in texts:
        for word in text.replace("?", " ").replace(",", " ").split():
            folded = word.strip(".!;:„“\"'()").casefold()
            if folded and folded not in stop and folded not in seen:
                seen.add(folded)
                out.append(word.strip(".!;:„“\"'()"))
    return out


def conversation_articles(history: Sequence[Turn]) -> list[str]:
    """The articles of the conversation, most recent turn first, each once: of each turn the
    retriever's best article (the one an abstention names as the closest), then those cited."""
    seen: dict[str, None] = {}
    for turn in reversed(history):
        for article_id in [*turn.answer.retrieved[:1], *(c.article_id for c in turn.answer.citations)]:
            seen.setdefault(article_id, None)
    return list(seen)


def own_terms(question: str, history: Sequence[Turn]) -> set[str]:
    """The question's names and numbers (stemmed) that no earlier turn mentioned: what is new."""
    earlier = set(QUESTION_WORDS)
    for turn in history:
        earlier.update(key_terms(context_text(turn)), query_terms(context_text(turn)))
    return {t for t in key_terms(question) if len(t) > 1} - earlier


def follow_topic(
    question: str,
    history: Sequence[Turn],
    article_terms: Callable[[str], frozenset[str]],
    elsewhere: Callable[[], Sequence[str]] = list,
) -> list[str]:
    """The conversation's articles the question stays with, best first (those holding what it
    names first, then the most recent); empty when it turns to another topic: it names
    something new (names, numbers) that none of them mentions and that one of the articles
    `elsewhere()` holds all of (the articles the question as asked finds with confidence, see
    `confident_articles`; only asked for then). `article_terms` gives an article's stemmed terms
    and cognate keys."""
    articles = conversation_articles(history)
    new = own_terms(question, history)
    if not articles or not new:
        return articles
    cognates = cognate_keys(" ".join(new))
    found = {a: _found(new, cognates, article_terms(a)) for a in articles}
    if max(found.values()) == 0 and any(new <= article_terms(a) for a in elsewhere() if a not in found):
        return []
    return sorted(articles, key=lambda a: -found[a])  # stable: recency breaks ties


def confident_articles(hits: Sequence[Hit], floor: float = NEW_TOPIC_RELEVANCE, n: int = 3) -> list[str]:
    """The articles of the first `n` hits whose relevance clears the floor, best first."""
    return list(dict.fromkeys(h.chunk.article_id for h in hits[:n] if h.relevance >= floor))


@lru_cache(maxsize=64)
def article_vocabulary(text: str) -> frozenset[str]:
    """An article's stemmed terms (German and English stemming) and cognate keys."""
    return frozenset(terms(text, "de")) | frozenset(terms(text, "en")) | frozenset(cognate_keys(text))


def _found(terms: set[str], cognates: set[str], article: frozenset[str]) -> int:
    """How many of the terms (or their cognate keys) the article holds."""
    return len(terms & article) + len(cognates & article)


def prefer_articles(hits: Sequence[Hit], articles: Sequence[str]) -> list[Hit]:
    """The hits with those of the preferred articles first (in the articles' order, each
    article's chunks in retrieval order), the others after them as they were."""
    rank = {a: i for i, a in enumerate(articles)}
    preferred = sorted(
        (h for h in hits if h.chunk.article_id in rank), key=lambda h: rank[h.chunk.article_id]
    )
    return preferred + [h for h in hits if h.chunk.article_id not in rank]


def blend_sentence_scores(
    hits: Sequence[Hit], asked: Mapping[int, float], weight: float = ASKED_WEIGHT
) -> list[Hit]:
    """The hits with each sentence's score mixed with its similarity to the question as asked
    (`asked`, sentence id -> cosine): the resolved text finds the article, the question's own
    words pick what in it is new."""
    return [
        replace(
            hit,
            sentence_scores=tuple(
                (sid, weight * asked.get(sid, score) + (1 - weight) * score)
                for sid, score in hit.sentence_scores
            ),
        )
        for hit in hits
    ]


@dataclass(frozen=True)
class Found:
    """A follow-up's retrieval: the ranked chunks (for `Answer.retrieved`), the chunks handed to
    the answerer, and the vector they were searched with."""

    hits: list[Hit]
    evidence: list[Hit]
    vector: np.ndarray


@dataclass(frozen=True)
class FollowUpSearch:
    """Retrieval for a question asked with a history. While the topic holds, the follow-up is
    searched with its resolved text, the conversation's article ranked first, and answered from
    that article's chunks; a question that turns to a new topic is searched as asked (or as
    condensed by a model, which stands alone)."""

    index: NewsIndex
    searcher: Searcher
    embedder: Embedder
    rewriter: FollowUpRewriter

    def search(self, question: str, history: Sequence[Turn], k: int, top_k: int) -> Found:
        """The follow-up's hits (k ranked chunks) and evidence (top_k chunks)."""
        rewrite = self.rewriter.rewrite(question, history)
        resolved = rewrite.text
        vectors = self.embedder.embed([resolved, question])
        asked: list[Hit] = []  # the question searched as asked, where a topic change is in view

        def elsewhere() -> list[str]:
            asked[:] = asked or self.searcher.search(question, k, vector=vectors[1])
            return confident_articles(asked)

        topic = follow_topic(question, history, self._vocabulary, elsewhere)
        if not topic and conversation_articles(history):  # a new topic (so `asked` is filled)
            if not rewrite.standalone:
                return Found(asked, asked[:top_k], vectors[1])
            topic_free = self.searcher.search(resolved, k, vector=vectors[0])
            return Found(topic_free, topic_free[:top_k], vectors[0])
        hits = prefer_articles(self.searcher.search(resolved, k, vector=vectors[0]), topic)
        if not topic:
            return Found(hits, hits[:top_k], vectors[0])
        evidence = self._article_evidence(topic[0], resolved, vectors, top_k)
        return Found(evidence + [h for h in hits if h.chunk.article_id != topic[0]], evidence, vectors[0])

    def _vocabulary(self, article_id: str) -> frozenset[str]:
        """An article's stemmed terms and cognate keys."""
        return article_vocabulary(self.index.article_text(article_id))

    def _article_evidence(self, article_id: str, resolved: str, vectors: np.ndarray, top_k: int) -> list[Hit]:
        """The article's chunks that best match the resolved follow-up, their sentences scored
        against both the resolved text (vectors[0]) and the question as asked (vectors[1])."""
        chunks = self.index.chunks(self.index.chunk_ids_of([article_id]).get(article_id, []))
        hits = self.searcher.rank(
            self.searcher.featurize(resolved, vectors[0], list(chunks.values()), {}), top_k
        )
        ids = [sid for hit in hits for sid, _ in hit.sentence_scores]
        asked = dict(zip(ids, (self.index.sentence_vectors_of(ids) @ vectors[1]).tolist(), strict=True))
        return blend_sentence_scores(hits, asked)
