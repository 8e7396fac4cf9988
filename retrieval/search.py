"""Hybrid search: dense chunk and sentence vectors plus BM25, combined by a small ranker."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from retrieval.index import ChunkRecord, NewsIndex
from retrieval.language import stopwords, terms
from retrieval.ranker import LinearRanker, load_ranker

# Each side fetches more than is answered; their union is re-ranked (about 75 chunks).
DENSE_CANDIDATES = 30
SENTENCE_CANDIDATES = 40
SPARSE_CANDIDATES = 15
QUERY_LANGUAGES = ("de", "en")

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

_CAPITALIZED_OR_NUMBER = re.compile(r"\b(?:\w*\d\w*|[A-ZÄÖÜ][\w'’-]*)")


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


def query_terms(question: str, languages: Sequence[str] = QUERY_LANGUAGES) -> list[str]:
    """Stemmed query terms in each language, without repeats."""
    stop = (
        _all_stopwords()
        if tuple(languages) == QUERY_LANGUAGES
        else frozenset().union(*(stopwords(lang) for lang in languages))
    )
    seen: dict[str, None] = {}
    for lang in languages:
        for term in terms(question, lang, stop):
            seen.setdefault(term, None)
    return list(seen)


def key_terms(question: str) -> list[str]:
    """Stemmed names and numbers of a question: capitalized words past the first, and numbers."""
    found = _CAPITALIZED_OR_NUMBER.findall(question)
    first = re.match(r"\W*(\w+)", question)
    if first and found and found[0] == first.group(1) and not any(c.isdigit() for c in found[0]):
        found = found[1:]
    return query_terms(" ".join(found))


def fuse(
    dense: Sequence[tuple[int, float]], sparse: Sequence[tuple[int, float]], sparse_weight: float
) -> list[tuple[int, float]]:
    """Dense scores plus `sparse_weight` times max-normalized sparse scores, best first."""
    top = max((score for _, score in sparse), default=0.0)
    floor = min((score for _, score in dense), default=0.0)
    fused = {cid: score for cid, score in dense}
    for cid, score in sparse:
        base = fused.get(cid, floor)
        fused[cid] = base + sparse_weight * (score / top if top > 0 else 0.0)
    return sorted(fused.items(), key=lambda item: -item[1])


def dense_chunk_scores(
    chunks: Sequence[tuple[int, float]],
    sentences: Sequence[tuple[int, float]],
    sentence_to_chunks: dict[int, list[int]],
) -> list[tuple[int, float]]:
    """Mean of a chunk's own similarity and its best sentence's, best first."""
    best_sentence: dict[int, float] = {}
    for sid, score in sentences:
        for cid in sentence_to_chunks.get(sid, ()):
            best_sentence[cid] = max(best_sentence.get(cid, -1.0), score)
    floor_chunk = min((s for _, s in chunks), default=0.0)
    floor_sentence = min((s for _, s in sentences), default=0.0)
    chunk_score = dict(chunks)
    ids = set(chunk_score) | set(best_sentence)
    scored = {
        cid: 0.5 * chunk_score.get(cid, floor_chunk) + 0.5 * best_sentence.get(cid, floor_sentence)
        for cid in ids
    }
    return sorted(scored.items(), key=lambda item: -item[1])


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
        self.ranker = ranker or _trained("chunk_ranker")
        self.relevance = relevance or _trained("chunk_relevance")

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
        shortlist = [cid for cid, _ in self.index.search_chunks(vector, DENSE_CANDIDATES)]
        shortlist += [cid for sid, _ in sentence_hits for cid in owners.get(sid, ())]
        sparse = self.index.search_terms(q_terms, SPARSE_CANDIDATES)
        shortlist += [cid for cid, _ in sparse]
        ids = list(dict.fromkeys(shortlist))
        records = self.index.chunks(ids)
        chunks = [records[cid] for cid in ids if cid in records]
        return self._featurize(question, vector, chunks, dict(sparse), self.index.vocabulary_share(q_terms))

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
        keys = set(key_terms(question))
        f[:, col["keys"]] = [_share_found(keys, self._text(c)) for c in chunks]
        q_prefixes = cognate_keys(question)
        f[:, col["cognates"]] = [_share_in(q_prefixes, cognate_keys(self._text(c))) for c in chunks]
        f[:, col["sentence_keys"]] = [self._best_sentence_keys(keys, c) for c in chunks]
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
        out = {}
        for article_id, chunk_ids in self.index.chunk_ids_of(article_ids).items():
            mean = self.index.chunk_vectors_of(chunk_ids).mean(axis=0)
            out[article_id] = float(mean @ vector / max(float(np.linalg.norm(mean)), 1e-9))
        return out

    def _best_sentence_keys(self, keys: set[str], chunk: ChunkRecord) -> float:
        """The highest share of key terms found in any one sentence of the chunk."""
        if not keys:
            return 0.0
        text = self.index.article_text(chunk.article_id)
        return max(_share_found(keys, text[s.start : s.end]) for s in self.index.chunk_sentences_of(chunk))

    def _text(self, chunk: ChunkRecord) -> str:
        """A chunk's text."""
        return self.index.article_text(chunk.article_id)[chunk.start : chunk.end]


_SPELLING = (
    ("ph", "f"),
    ("th", "t"),
    ("c", "k"),
    ("y", "i"),
    ("ä", "a"),
    ("ö", "o"),
    ("ü", "u"),
    ("ß", "ss"),
)
COGNATE_PREFIX = 5


def cognate_keys(text: str) -> set[str]:
    """Spelling-normalized 5-letter prefixes of the longer non-stop words: they match across
    languages for names and shared roots (Universität ~ university, Defensive ~ defense)."""
    stop = _all_stopwords()
    out = set()
    for word in re.findall(r"[^\W\d_]{4,}", text.lower()):
        if word in stop:
            continue
        for old, new in _SPELLING:
            word = word.replace(old, new)
        out.add(word[:COGNATE_PREFIX])
    return out


@lru_cache(maxsize=1)
def _all_stopwords() -> frozenset[str]:
    """Stop words of every query language."""
    return frozenset().union(*(stopwords(lang) for lang in QUERY_LANGUAGES))


def _share_in(needles: set[str], haystack: set[str]) -> float:
    """Share of `needles` found in `haystack`."""
    return len(needles & haystack) / len(needles) if needles else 0.0


def _share_found(keys: set[str], text: str) -> float:
    """Share of the key terms that occur in the text."""
    if not keys:
        return 0.0
    return len(keys & set(query_terms(text))) / len(keys)


def _trained(name: str) -> LinearRanker:
    """A trained model from retrieval/models, or the hand-set fallback before training."""
    try:
        return load_ranker(name)
    except FileNotFoundError:
        return _FALLBACK
