"""Evidence features by name: of candidate sentences (for the sentence ranker) and of an answer
(for abstention)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answering.questions import _INNER_CAPITAL, AnswerType, question_words
from retrieval.index import NewsIndex
from retrieval.language import cognate_keys, key_terms, query_terms, share_in
from retrieval.search import Hit

SENTENCE_FEATURES = (
    "cos",
    "rel_cos",
    "chunk_rel",
    "overlap",
    "keys",
    "type_number",
    "type_time",
    "type_entity",
    "type_place",
    "type_person",
    "novel",
    "length",
    "cognates",
    "prev_cos",
    "prev_overlap",
    "next_cos",
)


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence that might answer: where it is and which hit it came from."""

    hit: Hit
    sentence_id: int
    start: int
    end: int
    text: str
    terms: frozenset[str] = frozenset()
    cognates: frozenset[str] = frozenset()


def sentence_candidates(index: NewsIndex, hits: Sequence[Hit]) -> list[SentenceCandidate]:
    """Every sentence of the hits once, in hit order."""
    seen: set[int] = set()
    out: list[SentenceCandidate] = []
    for hit in hits:
        ids = [sid for sid, _ in hit.sentence_scores]
        records, lexical = index.sentences(ids), index.sentence_terms(ids)
        text = index.article_text(hit.chunk.article_id)
        for sid in ids:
            if sid not in seen and sid in records:
                seen.add(sid)
                rec, lex = records[sid], lexical[sid]
                out.append(
                    SentenceCandidate(
                        hit, sid, rec.start, rec.end, text[rec.start : rec.end], lex.terms, lex.cognates
                    )
                )
    return out


def sentence_features(question: str, candidates: Sequence[SentenceCandidate]) -> np.ndarray:
    """The feature matrix (SENTENCE_FEATURES order) for candidate sentences."""
    f = np.zeros((len(candidates), len(SENTENCE_FEATURES)), dtype=np.float64)
    if not candidates:
        return f
    q_terms, keys, q_cognates = set(query_terms(question)), set(key_terms(question)), cognate_keys(question)
    q_words = question_words(question)
    kind = AnswerType.of(question)
    top_hit = max(c.hit.score for c in candidates)
    cos = {c.sentence_id: dict(c.hit.sentence_scores)[c.sentence_id] for c in candidates}
    overlap: dict[int, float] = {}
    names = [kind.names(c.text, q_words) for c in candidates]
    seen = Counter(name for found in names for name in found)
    for row, cand in enumerate(candidates):
        s_terms = cand.terms
        overlap[cand.sentence_id] = share_in(q_terms, s_terms)
        entities = [w for w in _INNER_CAPITAL.findall(cand.text) if w.lower() not in q_words]
        has = kind.matches(cand.text, q_words)
        rarest = max((1.0 / seen[name] for name in names[row]), default=0.0)
        f[row, :13] = (
            cos[cand.sentence_id],
            0.0,
            max(cand.hit.score - top_hit, -10.0),
            overlap[cand.sentence_id],
            share_in(keys, s_terms),
            float(has["number"]),
            float(has["time"]),
            min(len(entities), 3) / 3 if (kind.place or kind.person) else 0.0,
            rarest if kind.place else 0.0,
            rarest if kind.person else 0.0,
            len(s_terms - q_terms) / max(len(s_terms), 1),
            len(cand.text) / 200,
            share_in(q_cognates, cand.cognates),
        )
    for row, cand in enumerate(candidates):
        sid = cand.sentence_id
        f[row, 13:] = (cos.get(sid - 1, 0.0), overlap.get(sid - 1, 0.0), cos.get(sid + 1, 0.0))
    f[:, 1] = f[:, 0] - f[:, 0].max()
    return f


ABSTAIN_FEATURES = (
    "relevance",
    "cos_chunk",
    "cos_sentence",
    "keys",
    "cognates",
    "bm25_shared",
    "quote_overlap",
    "quote_cognates",
    "quote_keys",
    "type_missing",
    "count_missing",
)


def abstain_features(question: str, hit: Hit, quote: np.ndarray, quote_text: str) -> np.ndarray:
    """Evidence strength of an answer: its top hit's features and its best quote's."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    kind = AnswerType.of(question)
    missing = kind.missing(quote_text, question_words(question))
    return np.array(
        [
            hit.relevance,
            hit.features.get("cos_chunk", 0.0),
            hit.features.get("cos_sentence", 0.0),
            hit.features.get("keys", 0.0),
            hit.features.get("cognates", 0.0),
            hit.features.get("bm25_shared", 0.0),
            quote[col["overlap"]],
            quote[col["cognates"]],
            quote[col["keys"]],
            float(missing),
            float(missing and (kind.number or kind.time)),
        ]
    )


