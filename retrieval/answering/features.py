"""Evidence features by name: of candidate sentences (for the sentence ranker) and of an answer
(for abstention)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.answering.questions import _INNER_CAPITAL, AnswerType, counted_words, question_words
from retrieval.answering.short import Span, span_features, spans
from retrieval.answering.types import question_language
from retrieval.answering.units import UnitScorer, WordVectors
from retrieval.index import NewsIndex
from retrieval.language import cognate_keys, key_terms, query_terms, share_in, terms
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
    "span_ok",
    "span_dist",
    "unit_sim",
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
    ord: int = 0


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
                        hit,
                        sid,
                        rec.start,
                        rec.end,
                        text[rec.start : rec.end],
                        lex.terms,
                        lex.cognates,
                        rec.ord,
                    )
                )
    return out


def sentence_features(
    question: str, candidates: Sequence[SentenceCandidate], words: WordVectors | None = None
) -> np.ndarray:
    """The feature matrix (SENTENCE_FEATURES order) for candidate sentences; with word vectors,
    also how well the numbers' units match what a how-many question counts."""
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
        f[row, 13:16] = (cos.get(sid - 1, 0.0), overlap.get(sid - 1, 0.0), cos.get(sid + 1, 0.0))
    f[:, 1] = f[:, 0] - f[:, 0].max()
    found = [(c.text, spans(c.text, kind)) for c in candidates]
    units = unit_scorer(question, kind, words)
    if units is not None:
        units.prefetch(found)
    f[:, 16:] = [_span_evidence(question, kind, text, phrases, units) for text, phrases in found]
    return f


def unit_scorer(question: str, kind: AnswerType, words: WordVectors | None) -> UnitScorer | None:
    """Scores a sentence's number phrases by how like what the question counts their units are
    (None when the question asks for no number or there are no word vectors)."""
    if words is None or not kind.number:
        return None
    return UnitScorer(words, counted_words(question))


def _span_evidence(
    question: str, kind: AnswerType, text: str, found: list[Span], units: UnitScorer | None
) -> tuple[float, float, float]:
    """Whether the sentence holds a phrase of the asked-for kind that the question does not name,
    how near (0 near .. 1 far) the nearest such phrase is to the question's words in it, and the
    best unit similarity of its numbers."""
    if not (kind.number or kind.time or kind.place or kind.person or kind.entity):
        return 0.0, 1.0, 0.0
    rows = span_features(question, text, found, units(text, found) if units else None)
    usable = [f for f in rows if f["kind_match"] and not f["in_question"]]
    return (
        float(bool(usable)),
        min((f["distance"] for f in usable), default=1.0),
        max((f["unit"] for f in usable), default=0.0),
    )


# Evidence that reads the question's own words: reliable when question and articles share a
# language (German here), weak across languages; the model weighs it per question language.
_LEXICAL = (
    "relevance",
    "hit_keys",
    "quote_keys",
    "quote_overlap",
    "article_keys",
    "article_terms",
    "article_cognates",
)
ABSTAIN_FEATURES = (
    "relevance",
    "cos_chunk",
    "cos_sentence",
    "hit_keys",
    "hit_cognates",
    "bm25_shared",
    "quote_cos",
    "quote_overlap",
    "quote_keys",
    "quote_cognates",
    "quote_score",
    "quote_margin",
    "quote_softmax",
    "type_missing",
    "count_missing",
    "article_terms",
    "article_cognates",
    "article_keys",
    "hit_gap",
    "hit_articles",
    "typed",
    "span_ok",
    "quote_novel",
    "prev_cos",
    "next_cos",
    "typed_cos",
    "question_length",
    "unit_sim",
    "unit_sim_top",
    "asks_number",
    "asked_in_german",
    *(f"german_{name}" for name in _LEXICAL),
)


@dataclass(frozen=True)
class Evidence:
    """What an answer would rest on: the question, the hits, the ranked sentences with their
    features and ranker scores (best first), and the text of the best sentence's article."""

    question: str
    hits: Sequence[Hit]
    ranked: Sequence[SentenceCandidate]
    features: np.ndarray
    scores: np.ndarray
    article_text: str


def abstain_features(e: Evidence) -> np.ndarray:
    """The evidence as a vector in ABSTAIN_FEATURES order, built by name."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    x, hit = e.features[0], e.hits[0]
    kind = AnswerType.of(e.question)
    q_terms, keys, q_cognates = (
        set(query_terms(e.question)),
        set(key_terms(e.question)),
        cognate_keys(e.question),
    )
    a_terms, a_cognates = _article_terms(e.article_text)
    # What the answerer can quote: it picks a sentence of the asked kind from the best three.
    missing = kind.missing(" ".join(c.text for c in e.ranked[:3]), question_words(e.question))
    typed = float(any((kind.number, kind.time, kind.place, kind.person)))
    p = np.exp(e.scores - e.scores.max())
    scores = [h.score for h in e.hits]
    named = {
        "relevance": hit.relevance,
        "cos_chunk": hit.features.get("cos_chunk", 0.0),
        "cos_sentence": hit.features.get("cos_sentence", 0.0),
        "hit_keys": hit.features.get("keys", 0.0),
        "hit_cognates": hit.features.get("cognates", 0.0),
        "bm25_shared": hit.features.get("bm25_shared", 0.0),
        "quote_cos": x[col["cos"]],
        "quote_overlap": x[col["overlap"]],
        "quote_keys": x[col["keys"]],
        "quote_cognates": x[col["cognates"]],
        "quote_score": float(e.scores[0]),
        "quote_margin": float(e.scores[0] - e.scores[1]) if len(e.scores) > 1 else 3.0,
        "quote_softmax": float(p[0] / p.sum()),
        "type_missing": float(missing),
        "count_missing": float(missing and (kind.number or kind.time)),
        "article_terms": share_in(q_terms, a_terms),
        "article_cognates": share_in(q_cognates, a_cognates),
        "article_keys": share_in(keys, a_terms),
        "hit_gap": scores[0] - scores[1] if len(scores) > 1 else 3.0,
        "hit_articles": float(len({h.chunk.article_id for h in e.hits})),
        "typed": typed,
        "span_ok": x[col["span_ok"]],
        "quote_novel": x[col["novel"]],
        "prev_cos": x[col["prev_cos"]],
        "next_cos": x[col["next_cos"]],
        "typed_cos": x[col["cos"]] * typed,
        "question_length": len(e.question) / 100,
        "unit_sim": x[col["unit_sim"]],
        "unit_sim_top": float(e.features[:3, col["unit_sim"]].max()),
        "asks_number": float(kind.number),
    }
    german = float(question_language(e.question) == "de")
    named["asked_in_german"] = german
    named.update({f"german_{name}": german * named[name] for name in _LEXICAL})
    return np.array([named[name] for name in ABSTAIN_FEATURES], dtype=np.float64)


@lru_cache(maxsize=256)
def _article_terms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """An article's stemmed terms (German and English stemming) and cognate keys."""
    return frozenset(terms(text, "de")) | frozenset(terms(text, "en")), frozenset(cognate_keys(text))
