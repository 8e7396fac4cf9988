"""Hybrid search: dense chunk and sentence vectors plus BM25, combined by a small ranker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.index import ChunkRecord, NewsIndex
from retrieval.language import cognate_keys, key_terms, query_terms, share_in
from retrieval.ranker import LinearRanker, trained_or

# Each side fetches more than is answered; their union is re-ranked (about 75 chunks).
DENSE_CANDIDATES = 30
SENTENCE_CANDIDATES = 40
SPARSE_CANDIDATES = 15

CHUNK_FEATURES = (
    "cos_chunk",
    "cos_sentence",
    "cos_sentence2",
    "rel_chunk",
    "rel_sentence",
    "bm25",
    "bm25_shared",
    "keys",
    "support",
    "bm25_raw",
    "bm25_raw_shared",
    "cos_article",
    "rel_article",
    "rank_dense",
    "rank_bm25",
    "rank_bm25_shared",
    "article_best_sentence",
    "cognates",
    "sentence_keys",
)
# Used until a trained ranker is in retrieval/models/chunk_ranker.json.
_FALLBACK = LinearRanker.uniform(CHUNK_FEATURES, [0.5, 0.5, 0, 0, 0, 0, 0.35, 0.1] + [0] * 11)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, its ranker score, and its sentences' similarity to the question."""

    chunk: ChunkRecord
    score: float
    dense: float
    lexical: float
    relevance: float = 0.0
    sentence_scores: tuple[tuple[int, float], ...] = field(default=(), compare=False)
    features: dict[str, float] = field(default_factory=dict, compare=False)


def union(*sides: Sequence[int]) -> list[int]:
    """Candidate ids from every side, each once, in the order first seen."""
    return list(dict.fromkeys(cid for side in sides for cid in side))


@dataclass
class Candidates:
    """Re-ranking candidates of one question: chunks, their features, their sentences' scores."""

    chunks: list[ChunkRecord]
    features: np.ndarray
    sentence_scores: list[tuple[tuple[int, float], ...]]
    bm25: list[float]


class Searcher:
    """Finds the chunks most likely to answer a question."""

    def __init__(
        self, index: NewsIndex, ranker: LinearRanker | None = None, relevance: LinearRanker | None = None
    ) -> None:
        self.index = index
        self.ranker = ranker or trained_or("chunk_ranker", _FALLBACK)
        self.relevance = relevance or trained_or("chunk_relevance", _FALLBACK)

    def search(self, question: str, k: int = 5, vector: np.ndarray | None = None) -> list[Hit]:
        """The top-k chunks for the question, best first."""
        if vector is None:
            vector = self.index.embedder.embed([question])[0]
        return self.rank(self.candidates(question, vector), k)

    def rank(self, found: Candidates, k: int) -> list[Hit]:
        """Order candidates by the ranker; each hit also gets its relevance logit."""
        scores = self.ranker.scores(found.features)
        relevance = self.relevance.scores(found.features)
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(
                found.chunks[i],
                float(scores[i]),
                float(found.features[i, 1]),
                found.bm25[i],
                float(relevance[i]),
                found.sentence_scores[i],
                dict(zip(CHUNK_FEATURES, found.features[i].tolist(), strict=True)),
            )
            for i in order
        ]

    def candidates(self, question: str, vector: np.ndarray) -> Candidates:
        """Gather candidates from every side and compute their ranking features."""
        q_terms = query_terms(question)
        sentence_hits = self.index.search_sentences(vector, SENTENCE_CANDIDATES)
        owners = self.index.sentence_owners([sid for sid, _ in sentence_hits])
        sparse = self.index.search_terms(q_terms, SPARSE_CANDIDATES)
        ids = union(
            [cid for cid, _ in self.index.search_chunks(vector, DENSE_CANDIDATES)],
            [cid for sid, _ in sentence_hits for cid in owners.get(sid, ())],
            [cid for cid, _ in sparse],
        )
        records = self.index.chunks(ids)
        chunks = [records[cid] for cid in ids if cid in records]
        return self.featurize(question, vector, chunks, dict(sparse))

    def featurize(
        self, question: str, vector: np.ndarray, chunks: list[ChunkRecord], sparse: dict[int, float]
    ) -> Candidates:
        """The feature matrix (CHUNK_FEATURES order) of the given candidate chunks, with their BM25
        scores (`sparse`, chunk id -> score; absent means 0)."""
        return self._featurize(
            question, vector, chunks, sparse, self.index.vocabulary_share(query_terms(question))
        )

    def _featurize(
        self,
        question: str,
        vector: np.ndarray,
        chunks: list[ChunkRecord],
        sparse: dict[int, float],
        share: float,
    ) -> Candidates:
        """The feature matrix (CHUNK_FEATURES order) for the candidate chunks."""
        n = len(chunks)
        f = np.zeros((n, len(CHUNK_FEATURES)), dtype=np.float64)
        if n == 0:
            return Candidates([], f, [], [])
        col = {name: i for i, name in enumerate(CHUNK_FEATURES)}
        f[:, col["cos_chunk"]] = self.index.chunk_vectors_of([c.id for c in chunks]) @ vector
        sentence_scores = self._sentence_scores(chunks, vector)
        best = [sorted((s for _, s in scores), reverse=True) for scores in sentence_scores]
        f[:, col["cos_sentence"]] = [b[0] for b in best]
        f[:, col["cos_sentence2"]] = [b[1] if len(b) > 1 else b[0] for b in best]
        raw = np.array([sparse.get(c.id, 0.0) for c in chunks])
        f[:, col["bm25_raw"]] = raw
        f[:, col["bm25_raw_shared"]] = raw * share
        f[:, col["bm25"]] = raw / (max(sparse.values(), default=0.0) or 1.0)
        f[:, col["bm25_shared"]] = f[:, col["bm25"]] * share
        self._lexical_features(f, question, sentence_scores)
        articles = [c.article_id for c in chunks]
        f[:, col["support"]] = [min(articles.count(a), 5) / 5 for a in articles]
        article_cos = self._article_similarity(sorted(set(articles)), vector)
        f[:, col["cos_article"]] = [article_cos[a] for a in articles]
        best_in_article: dict[str, float] = {}
        for a, b in zip(articles, best, strict=True):
            best_in_article[a] = max(best_in_article.get(a, -1.0), b[0])
        f[:, col["article_best_sentence"]] = [best_in_article[a] for a in articles]
        for name, source in (
            ("rel_chunk", "cos_chunk"),
            ("rel_sentence", "cos_sentence"),
            ("rel_article", "cos_article"),
        ):
            f[:, col[name]] = f[:, col[source]] - f[:, col[source]].max()
        dense_order = np.argsort(-(f[:, col["cos_chunk"]] + f[:, col["cos_sentence"]]), kind="stable")
        f[dense_order, col["rank_dense"]] = 1.0 / (1.0 + np.arange(n))
        bm25_order = np.argsort(-raw, kind="stable")
        f[bm25_order, col["rank_bm25"]] = np.where(raw[bm25_order] > 0, 1.0 / (1.0 + np.arange(n)), 0.0)
        f[:, col["rank_bm25_shared"]] = f[:, col["rank_bm25"]] * share
        return Candidates(chunks, f, sentence_scores, raw.tolist())

    def _lexical_features(
        self, f: np.ndarray, question: str, sentence_scores: list[tuple[tuple[int, float], ...]]
    ) -> None:
        """Fill the keys, cognates and sentence_keys columns: the question's key terms and cognate
        keys found in each chunk (the union of its sentences) and in its best sentence."""
        keys, q_cognates = set(key_terms(question)), cognate_keys(question)
        lexical = self.index.sentence_terms(list({sid for scores in sentence_scores for sid, _ in scores}))
        found = {sid: (keys & t.terms, q_cognates & t.cognates) for sid, t in lexical.items()}
        col = {name: i for i, name in enumerate(CHUNK_FEATURES)}
        for row, scores in enumerate(sentence_scores):
            parts = [found[sid] for sid, _ in scores if sid in found]
            f[row, col["keys"]] = share_in(keys, set().union(*(k for k, _ in parts)))
            f[row, col["cognates"]] = share_in(q_cognates, set().union(*(c for _, c in parts)))
            f[row, col["sentence_keys"]] = max((share_in(keys, k) for k, _ in parts), default=0.0)

    def _sentence_scores(
        self, chunks: list[ChunkRecord], vector: np.ndarray
    ) -> list[tuple[tuple[int, float], ...]]:
        """Each chunk's sentences with their similarity to the question."""
        sentence_ids = [list(range(c.first_sentence, c.last_sentence + 1)) for c in chunks]
        flat = [sid for ids in sentence_ids for sid in ids]
        cos = dict(zip(flat, (self.index.sentence_vectors_of(flat) @ vector).tolist(), strict=True))
        return [tuple((sid, cos[sid]) for sid in ids) for ids in sentence_ids]

    def _article_similarity(self, article_ids: list[str], vector: np.ndarray) -> dict[str, float]:
        """Similarity of the question to each article's mean chunk vector."""
        means = self.index.article_mean_vectors(article_ids)
        return {a: float(mean @ vector / max(norm, 1e-9)) for a, (mean, norm) in means.items()}
