"""Search by a question's time frame: narrowed to the articles dated in its range, and the newest
relevant articles first when it asks for the latest.

- A range keeps only chunks of articles dated in it (undated articles are left out). Candidates
  are gathered wider than usual (WIDEN times each side) and, when the range holds at most
  IN_RANGE_EXACT chunks, also by exact similarity over all of them, so an article of the range is
  found even where the whole archive would bury it.
- When the range holds no candidate, the search is the ordinary one (`Dated.in_range` False): the
  answer then says that no article is dated in the range, or that the articles have no dates.
- "latest" re-orders the hits: the relevant articles (best chunk's relevance within LATEST_MARGIN
  of the best one, or above RELEVANT_LOGIT) are put first, newest first (undated after dated, each group in
  its ranking order); the rest follow as ranked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from retrieval.index import NewsIndex, SourceQuery
from retrieval.language import query_terms
from retrieval.search import (
    DENSE_CANDIDATES,
    SENTENCE_CANDIDATES,
    SPARSE_CANDIDATES,
    Candidates,
    Hit,
    Searcher,
    union,
)
from retrieval.timeframe import TimeFrame

WIDEN = 4
IN_RANGE_EXACT = 20_000
# For "latest", an article counts as relevant when its best chunk's relevance logit (chunk
# relevance model) is within LATEST_MARGIN of the best one's, or at least RELEVANT_LOGIT. The best
# chunk's logit is lifted by its rank features: on the dated benchmark (benchmarks/time) the same
# story's other reports lie 2.7-4.2 logits below it, other topics 15 and more.
LATEST_MARGIN = 5.0
RELEVANT_LOGIT = 0.0


@dataclass(frozen=True)
class Dated:
    """The hits for a time-bound question, the dates of their articles, and whether they were
    narrowed to the frame's range."""

    hits: list[Hit]
    evidence: list[Hit]
    dates: dict[str, str]
    in_range: bool


def reference_day(index: NewsIndex, as_of: str = "") -> dt.date:
    """The day relative times are resolved against: `as_of`, else the newest article's date,
    else today."""
    if as_of:
        return dt.date.fromisoformat(as_of[:10])
    newest = index.records.articles(SourceQuery(sort="date", reverse=True, limit=1))
    if newest and newest[0].date:
        try:
            return dt.date.fromisoformat(newest[0].date[:10])
        except ValueError:
            pass
    return dt.date.today()


def article_dates(index: NewsIndex, hits: list[Hit]) -> dict[str, str]:
    """The ISO date of each hit's article ('' when undated)."""
    ids = list(dict.fromkeys(h.chunk.article_id for h in hits))
    found = index.records.dates(ids)
    return {a: found.get(a, "") for a in ids}


def articles_in_range(index: NewsIndex, frame: TimeFrame) -> set[str]:
    """The ids of the articles dated in the frame's range."""
    query = SourceQuery(
        since=frame.start.isoformat() if frame.start else "",
        until=frame.end.isoformat() if frame.end else "",
    )
    return set(index.records.ids_in(query))


class RangeSearcher(Searcher):
    """A Searcher whose candidates all come from the given articles."""

    def __init__(self, index: NewsIndex, allowed: set[str]) -> None:
        super().__init__(index)
        self.allowed = allowed

    def candidates(self, question: str, vector: np.ndarray) -> Candidates:
        """Candidates from every side, gathered wider, of the allowed articles only."""
        sentence_hits = self.index.search_sentences(vector, SENTENCE_CANDIDATES * WIDEN)
        owners = self.index.sentence_owners([sid for sid, _ in sentence_hits])
        sparse = self.index.search_terms(query_terms(question), SPARSE_CANDIDATES * WIDEN)
        ids = union(
            self._exact(vector),
            [cid for cid, _ in self.index.search_chunks(vector, DENSE_CANDIDATES * WIDEN)],
            [cid for sid, _ in sentence_hits for cid in owners.get(sid, ())],
            [cid for cid, _ in sparse],
        )
        records = self.index.chunks(ids)
        chunks = [records[c] for c in ids if c in records and records[c].article_id in self.allowed]
        return self.featurize(question, vector, chunks, dict(sparse))

    def _exact(self, vector: np.ndarray) -> list[int]:
        """The allowed chunks most similar to the question, scored exactly (when few enough)."""
        by_article = self.index.chunk_ids_of(sorted(self.allowed))
        ids = [c for chunks in by_article.values() for c in chunks]
        if not ids or len(ids) > IN_RANGE_EXACT:
            return []
        scores = self.index.chunk_vectors_of(ids) @ vector
        return [ids[i] for i in np.argsort(-scores, kind="stable")[:DENSE_CANDIDATES]]


def dated_search(
    index: NewsIndex, question: str, vector: np.ndarray, k: int, evidence: int, frame: TimeFrame
) -> Dated:
    """The top-k chunks for a time-bound question (the first `evidence` of them for the answerer):
    narrowed to its range when any candidate lies in it (else the ordinary search), the newest
    relevant first when it asks for the latest."""
    hits: list[Hit] = []
    if frame.has_range:
        allowed = articles_in_range(index, frame)
        if allowed:
            hits = RangeSearcher(index, allowed).search(question, k, vector=vector)
    in_range = bool(hits)
    if not hits:
        hits = Searcher(index).search(question, k, vector=vector)
    dates = article_dates(index, hits)
    if frame.latest:
        hits = newest_first(hits, dates)
    return Dated(hits, hits[:evidence], dates, in_range)


def newest_first(hits: list[Hit], dates: dict[str, str]) -> list[Hit]:
    """The hits of the relevant dated articles (see LATEST_MARGIN) first, newest first (an
    article's chunks in their ranking order); every other hit after them as ranked (so hits
    without dated relevant articles keep their order)."""
    if not hits:
        return hits
    floor = min(max(h.relevance for h in hits) - LATEST_MARGIN, RELEVANT_LOGIT)
    front = {h.chunk.article_id for h in hits if h.relevance >= floor and dates.get(h.chunk.article_id)}
    first = sorted(
        (h for h in hits if h.chunk.article_id in front),
        key=lambda h: dates[h.chunk.article_id][:10],
        reverse=True,
    )
    return first + [h for h in hits if h.chunk.article_id not in front]


def newest_relevant(hits: list[Hit], dates: dict[str, str]) -> str | None:
    """The article a "latest" answer should rest on: the first of `newest_first`'s order, when
    it is dated."""
    return hits[0].chunk.article_id if hits and dates.get(hits[0].chunk.article_id) else None


def narrowed(hits: list[Hit], dates: dict[str, str], frame: TimeFrame) -> list[Hit]:
    """The hits of articles dated in the frame's range (all of them when it has none)."""
    if not frame.has_range:
        return hits
    return [h for h in hits if frame.holds(dates.get(h.chunk.article_id, ""))]


def follow_up_in_time(
    hits: list[Hit], evidence: list[Hit], dates: dict[str, str], frame: TimeFrame, top_k: int
) -> Dated:
    """A follow-up's retrieval held to its frame: its hits narrowed to the range when any lies
    in it (evidence from those), newest first for "latest"; else as retrieved."""
    in_range = frame.has_range and bool(narrowed(hits, dates, frame))
    if in_range:
        kept = narrowed(evidence, dates, frame) or narrowed(hits, dates, frame)[:top_k]
        hits, evidence = narrowed(hits, dates, frame), kept
    if frame.latest and newest_relevant(newest_first(hits, dates), dates):
        hits = newest_first(hits, dates)
        evidence = hits[:top_k]
    return Dated(hits, evidence, dates, in_range)
