"""Hybrid search: dense chunk and sentence vectors fused with BM25, per question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.index import ChunkRecord, NewsIndex
from retrieval.language import stopwords, terms

DENSE_CANDIDATES = 60
SENTENCE_CANDIDATES = 120
SPARSE_CANDIDATES = 60
MAX_SPARSE_WEIGHT = 0.35
QUERY_LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the parts it came from."""

    chunk: ChunkRecord
    score: float
    dense: float
    lexical: float


def query_terms(question: str, languages: Sequence[str] = QUERY_LANGUAGES) -> list[str]:
    """Stemmed query terms in each language, without repeats."""
    stop = frozenset().union(*(stopwords(lang) for lang in languages))
    seen: dict[str, None] = {}
    for lang in languages:
        for term in terms(question, lang, stop):
            seen.setdefault(term, None)
    return list(seen)


def fuse(dense: Sequence[tuple[int, float]], sparse: Sequence[tuple[int, float]],
         sparse_weight: float) -> list[tuple[int, float]]:
    """Dense scores plus `sparse_weight` times max-normalized sparse scores, best first."""
    top = max((score for _, score in sparse), default=0.0)
    floor = min((score for _, score in dense), default=0.0)
    fused = {cid: score for cid, score in dense}
    for cid, score in sparse:
        base = fused.get(cid, floor)
        fused[cid] = base + sparse_weight * (score / top if top > 0 else 0.0)
    return sorted(fused.items(), key=lambda item: -item[1])


def dense_chunk_scores(chunks: Sequence[tuple[int, float]], sentences: Sequence[tuple[int, float]],
                       sentence_to_chunks: dict[int, list[int]]) -> list[tuple[int, float]]:
    """Mean of a chunk's own similarity and its best sentence's, best first."""
    best_sentence: dict[int, float] = {}
    for sid, score in sentences:
        for cid in sentence_to_chunks.get(sid, ()):
            best_sentence[cid] = max(best_sentence.get(cid, -1.0), score)
    floor_chunk = min((s for _, s in chunks), default=0.0)
    floor_sentence = min((s for _, s in sentences), default=0.0)
    chunk_score = dict(chunks)
    ids = set(chunk_score) | set(best_sentence)
    scored = {cid: 0.5 * chunk_score.get(cid, floor_chunk) + 0.5 * best_sentence.get(cid, floor_sentence)
              for cid in ids}
    return sorted(scored.items(), key=lambda item: -item[1])


class Searcher:
    """Finds the chunks most likely to answer a question."""

    def __init__(self, index: NewsIndex) -> None:
        self.index = index

    def search(self, question: str, k: int = 5, vector: np.ndarray | None = None) -> list[Hit]:
        """The top-k chunks for the question."""
        if vector is None:
            vector = self.index.embedder.embed([question])[0]
        chunk_hits = self.index.search_chunks(vector, DENSE_CANDIDATES)
        sentence_hits = self.index.search_sentences(vector, SENTENCE_CANDIDATES)
        q_terms = query_terms(question)
        sparse = self.index.search_terms(q_terms, SPARSE_CANDIDATES)
        owners = self.index.sentence_owners([sid for sid, _ in sentence_hits])
        dense = dense_chunk_scores(chunk_hits, sentence_hits, owners)
        weight = MAX_SPARSE_WEIGHT * self.index.vocabulary_share(q_terms)
        fused = fuse(dense, sparse, weight)[:k]
        records = self.index.chunks([cid for cid, _ in fused])
        dense_map, sparse_map = dict(dense), dict(sparse)
        return [Hit(records[cid], score, dense_map.get(cid, 0.0), sparse_map.get(cid, 0.0))
                for cid, score in fused if cid in records]
