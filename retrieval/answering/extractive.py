"""The extractive answerer: quotes the sentence that answers, verbatim, or abstains."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.answering.abstain import AbstainPolicy, default_policy
from retrieval.answering.features import (
    SENTENCE_FEATURES,
    Evidence,
    SentenceCandidate,
    abstain_features,
    sentence_candidates,
    sentence_features,
    unit_scorer,
)
from retrieval.answering.questions import AnswerType, question_core, question_words
from retrieval.answering.short import ShortPolicy, best_span, default_short_policy
from retrieval.answering.types import (
    Answer,
    ArticleRef,
    Citation,
    DraftCallback,
    Turn,
    abstention,
    question_language,
    quoted,
    ranked_articles,
)
from retrieval.answering.units import WordVectors
from retrieval.index import NewsIndex
from retrieval.ranker import LinearRanker, trained_or
from retrieval.search import Hit

# Two quoted sentences are given when together they stay within this many characters.
QUOTE_BUDGET = 300
# Two neighbouring sentences farther apart than this (a run of symbols without words lies between
# them) are quoted apart, so that a quote is never longer than two sentences and a short gap.
PASSAGE_GAP_CHARS = 40
# A place or person named this many times in its article is the article's topic, not an answer.
TOPIC_NAME = 3
# How much less a sentence an earlier answer of the conversation quoted scores for a follow-up.
QUOTED_PENALTY = 1.0
# A quoted span: an article id and the character range of its text.
Span = tuple[str, int, int]
# Used until trained rankers are in retrieval/models/.
_FALLBACK = LinearRanker.uniform(
    SENTENCE_FEATURES, [4, 0, 0.6, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0, 0, 1, 0, 0, 0, 0.5, -0.5, 1]
)


class ExtractiveAnswerer:
    """Quotes the best evidence sentence from the top chunks, or abstains."""

    name = "extractive"

    def __init__(
        self,
        index: NewsIndex,
        ranker: LinearRanker | None = None,
        policy: AbstainPolicy | None = None,
        quote_budget: int = QUOTE_BUDGET,
        short_policy: ShortPolicy | None = None,
        words: WordVectors | None = None,
    ) -> None:
        self.index = index
        self.ranker = ranker or trained_or("sentence_ranker", _FALLBACK)
        self.policy = policy or default_policy()
        self.quote_budget = quote_budget
        self.short_policy = short_policy or default_short_policy()
        self._words = words

    @property
    def words(self) -> WordVectors:
        """Word vectors for unit evidence, from the index's embedder (cached per answerer)."""
        if self._words is None:
            self._words = WordVectors(self.index.embedder)
        return self._words

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        vector: np.ndarray,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        """The best sentence(s) quoted and cited, the short answer first when the quote holds it;
        an abstention naming the closest article when the evidence does not answer."""
        retrieved = ranked_articles(hits)
        # A follow-up is typed by its question word, past an opening "And …" or "Back to …:".
        core = question_core(question) if history else question
        evidence = self.evidence(core, hits, quoted=quoted_spans(history))
        if evidence is None:
            return abstention(question, retrieved, self._closest(hits[0].chunk.article_id) if hits else None)
        named = self.policy.named(abstain_features(evidence))
        if named["confidence"] < 0:
            return abstention(question, retrieved, self._closest(evidence.ranked[0].hit.chunk.article_id))
        chosen = self.pick(core, list(evidence.ranked))
        citations = tuple(self._cite(n, group) for n, group in enumerate(chosen, start=1))
        short = best_span(
            core,
            chosen[0][0].text,
            self.short_policy,
            named,
            unit_scorer(core, AnswerType.of(core), self.words),
        )
        quotes = " ".join(f"{quoted(c.quote)} [{c.n}]" for c in citations)
        text = f"**{short}** — {quotes}" if short else quotes
        return Answer(
            question,
            text,
            citations,
            language=question_language(question),
            retrieved=retrieved,
            short_answer=short,
        )

    def evidence(
        self,
        question: str,
        hits: Sequence[Hit],
        drop: frozenset[int] = frozenset(),
        quoted: frozenset[Span] = frozenset(),
    ) -> Evidence | None:
        """The sentences of the hits ranked best first with their features and scores; `drop`
        leaves sentences out (training makes near-miss twins so); the sentences within the spans
        earlier answers of the conversation `quoted` (see `quoted_spans`) score QUOTED_PENALTY
        less: a follow-up asks for something new, yet its answer may be in a sentence the reader
        has seen."""
        candidates = [c for c in sentence_candidates(self.index, hits) if c.sentence_id not in drop]
        if not candidates:
            return None
        features = sentence_features(question, candidates, self.words)
        scores = self.ranker.scores(features)
        quoted_before = quoted_ids(candidates, quoted)
        scores = scores - QUOTED_PENALTY * np.array([c.sentence_id in quoted_before for c in candidates])
        order = np.argsort(-scores, kind="stable")
        best = candidates[order[0]]
        article = self.index.article(best.hit.chunk.article_id)
        return Evidence(
            question,
            hits,
            [candidates[i] for i in order],
            features[order],
            scores[order],
            f"{article.title}\n{article.text}",
        )

    def _closest(self, article_id: str) -> ArticleRef:
        """The article an abstention names: the one the best evidence came from."""
        article = self.index.article(article_id)
        return ArticleRef(article.display_title, article.date)

    def pick(self, question: str, ranked: list[SentenceCandidate]) -> list[list[SentenceCandidate]]:
        """The quotes to give, from all candidates best first: the best one, plus the runner-up
        when both fit the budget. When the best lacks what the question asks for (a number, a
        date, a place or person other than the question's and the passage's recurring ones) and
        one of the next two has it, that one is quoted with it or instead."""
        if len(ranked) < 2:
            return [ranked[:1]]
        kind = AnswerType.of(question)
        words = question_words(question) | self._topic_names(kind, ranked[:3])
        best, second = ranked[0], ranked[1]
        if kind.missing(best.text, words):
            typed = [c for c in ranked[1:3] if not kind.missing(c.text, words)]
            if typed:
                second = typed[0]
                if len(best.text) + len(second.text) > self.quote_budget:
                    return [[second]]
        if len(best.text) + len(second.text) > self.quote_budget:
            return [[best]]
        if self._one_passage(best, second):
            return [sorted([best, second], key=lambda c: c.start)]
        return [[best], [second]]

    def _one_passage(self, a: SentenceCandidate, b: SentenceCandidate) -> bool:
        """Whether two sentences read as one passage: neighbours in one paragraph of one article
        with at most PASSAGE_GAP_CHARS between them, the headline (an article's first sentence)
        never glued to the text after it."""
        first, second = sorted((a, b), key=lambda c: c.start)
        if first.hit.chunk.article_id != second.hit.chunk.article_id or second.ord != first.ord + 1:
            return False
        if second.start - first.end > PASSAGE_GAP_CHARS:
            return False
        gap = self.index.article_text(first.hit.chunk.article_id)[first.end : second.start]
        return first.ord > 0 and "\n" not in gap

    def _topic_names(self, kind: AnswerType, ranked: list[SentenceCandidate]) -> set[str]:
        """Names (of the asked-for kind) that recur in their article: its topic, not an answer."""
        topic: set[str] = set()
        for cand in ranked:
            text = self.index.article_text(cand.hit.chunk.article_id)
            topic.update(n.lower() for n in kind.names(cand.text, set()) if text.count(n) >= TOPIC_NAME)
        return topic

    def _cite(self, n: int, group: list[SentenceCandidate]) -> Citation:
        """A citation quoting one sentence, or adjacent sentences as one passage."""
        head = group[0]
        article = self.index.article(head.hit.chunk.article_id)
        start, end = group[0].start, group[-1].end
        return Citation(
            n=n,
            article_id=article.id,
            title=article.display_title,
            date=article.date,
            source=article.source,
            chunk_id=head.hit.chunk.id,
            quote=article.text[start:end],
            start=start,
            end=end,
        )


def quoted_spans(history: Sequence[Turn]) -> frozenset[Span]:
    """The spans earlier answers of the conversation quoted."""
    return frozenset((c.article_id, c.start, c.end) for turn in history for c in turn.answer.citations)


def quoted_ids(candidates: Sequence[SentenceCandidate], spans: frozenset[Span]) -> frozenset[int]:
    """The candidate sentences that lie within a quoted span."""
    if not spans:
        return frozenset()
    return frozenset(
        c.sentence_id
        for c in candidates
        if any(a == c.hit.chunk.article_id and s <= c.start and c.end <= e for a, s, e in spans)
    )
