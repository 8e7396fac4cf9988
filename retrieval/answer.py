"""Answers: the types every front end shows, and the extractive answerer."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from prompts import render
from retrieval.gazetteer import people_in, places_in
from retrieval.index import NewsIndex
from retrieval.language import cognate_keys, guess_language, key_terms, query_terms, share_in
from retrieval.ranker import MODELS_DIR, LinearRanker, trained_or
from retrieval.search import Hit


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
    return Answer(
        question=question,
        text=render(f"abstain_{lang}"),
        abstained=True,
        language=lang,
        retrieved=tuple(retrieved),
    )


def ranked_articles(hits: Sequence[Hit]) -> tuple[str, ...]:
    """Article ids in the order of their best chunk."""
    return tuple(dict.fromkeys(hit.chunk.article_id for hit in hits))


# ---------- extractive answering ----------
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
# Two quoted sentences are given when together they stay within this many characters.
QUOTE_BUDGET = 300
# A place or person named this many times in its article is the article's topic, not an answer.
TOPIC_NAME = 3
# Used until trained rankers are in retrieval/models/.
_FALLBACK = LinearRanker.uniform(
    SENTENCE_FEATURES, [4, 0, 0.6, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0, 0, 1, 0, 0, 0]
)

_NUMBER_Q = re.compile(
    r"\b(how (many|much|long|old|far|high|big|large)|wie (viele?|lange|alt|"
    r"weit|hoch|groß|gross)|wieviele?|what (percentage|number))\b",
    re.I,
)
_TIME_Q = re.compile(r"\b(when|what year|which year|wann|in welchem jahr|seit wann)\b", re.I)
_PLACE_Q = re.compile(
    r"^\W*(where|wo|wohin|woher)\b|\b(which|what) (city|country|place|state|region)\b|"
    r"\b(welche[mnrs]?) (stadt|land|ort|staat|region)\b",
    re.I,
)
_PERSON_Q = re.compile(r"^\W*(who|whom|whose|wer|wen|wem|wessen)\b", re.I)
_TYPE_PATTERNS = (("number", _NUMBER_Q), ("time", _TIME_Q), ("place", _PLACE_Q), ("person", _PERSON_Q))
_QUANTITY = re.compile(
    r"\d|\b(zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|hundert|tausend|"
    r"dutzend|million\w*|milliard\w*|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"twenty|dozen|hundred|thousand|billion)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}\.\s*[A-ZÄÖÜ][a-zäöü]+|"
    r"\b(januar|jänner|februar|märz|april|mai|juni|juli|august|september|"
    r"oktober|november|dezember|montag|dienstag|mittwoch|donnerstag|freitag|"
    r"samstag|sonntag|jahrhundert\w*)\b",
    re.I,
)
_INNER_CAPITAL = re.compile(r"(?<=\s)[A-ZÄÖÜ][\w-]+")


@dataclass(frozen=True)
class AnswerType:
    """What kind of thing a question asks for."""

    number: bool
    time: bool
    place: bool
    person: bool

    @classmethod
    def of(cls, question: str) -> AnswerType:
        """The answer type of a question, from its first question word (English and German)."""
        found = [(m.start(), kind) for kind, pattern in _TYPE_PATTERNS if (m := pattern.search(question))]
        first = min((start for start, _ in found), default=None)
        kinds = {kind for start, kind in found if start == first}
        return cls("number" in kinds, "time" in kinds, "place" in kinds, "person" in kinds)

    def matches(self, sentence: str, question_words: set[str]) -> dict[str, bool]:
        """Which of the asked-for kinds the sentence holds (names not already in the question)."""
        return {
            "number": self.number and bool(_QUANTITY.search(sentence)),
            "time": self.time and bool(_DATE.search(sentence)),
            "place": self.place and bool(places_in(sentence, question_words)),
            "person": self.person and bool(people_in(sentence, question_words)),
        }

    def names(self, sentence: str, question_words: set[str]) -> set[str]:
        """The places or people (as asked for) that the sentence names beyond the question."""
        found: set[str] = set()
        if self.place:
            found.update(places_in(sentence, question_words))
        if self.person:
            found.update(people_in(sentence, question_words))
        return found

    def missing(self, text: str, question_words: set[str]) -> bool:
        """Whether the text lacks every kind of thing the question asks for."""
        wanted = [self.number, self.time, self.place, self.person]
        return any(wanted) and not any(self.matches(text, question_words).values())


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


@dataclass(frozen=True)
class AbstainPolicy:
    """Abstain when any evidence model's logit is below its floor, or, with `strict_counts`, when a
    question asking for a number or a date gets quotes that hold none."""

    rules: tuple[tuple[LinearRanker, float], ...]
    strict_counts: bool = False

    def abstains(self, evidence: np.ndarray) -> bool:
        """Whether the evidence (ABSTAIN_FEATURES order) is too weak to answer from."""
        if self.strict_counts and evidence[ABSTAIN_FEATURES.index("count_missing")] > 0:
            return True
        return any(model.scores(evidence[None, :])[0] < floor for model, floor in self.rules)


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


def question_words(question: str) -> set[str]:
    """The question's words, lower-cased."""
    return {w.lower() for w in re.findall(r"\w+", question)}


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


class ExtractiveAnswerer:
    """Quotes the best evidence sentence from the top chunks, or abstains."""

    name = "extractive"

    def __init__(
        self,
        index: NewsIndex,
        ranker: LinearRanker | None = None,
        policy: AbstainPolicy | None = None,
        quote_budget: int = QUOTE_BUDGET,
    ) -> None:
        self.index = index
        self.ranker = ranker or trained_or("sentence_ranker", _FALLBACK)
        self.policy = policy or _default_policy()
        self.quote_budget = quote_budget

    def answer(self, question: str, hits: Sequence[Hit], vector: np.ndarray) -> Answer:
        """The best sentence(s) quoted and cited; an abstention when the evidence is weak."""
        retrieved = ranked_articles(hits)
        candidates = sentence_candidates(self.index, hits)
        if not candidates:
            return abstention(question, retrieved)
        features = sentence_features(question, candidates)
        order = np.argsort(-self.ranker.scores(features), kind="stable")
        chosen = self.pick(question, [candidates[i] for i in order])
        quote_text = " ".join(c.text for group in chosen for c in group)
        evidence = abstain_features(question, hits[0], features[order[0]], quote_text)
        if self.policy.abstains(evidence):
            return abstention(question, retrieved)
        citations = tuple(self._cite(n, group) for n, group in enumerate(chosen, start=1))
        text = " ".join(f"„{c.quote}“ [{c.n}]" for c in citations)
        return Answer(question, text, citations, language=question_language(question), retrieved=retrieved)

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
        if (
            best.hit.chunk.article_id == second.hit.chunk.article_id
            and abs(best.sentence_id - second.sentence_id) == 1
        ):
            return [sorted([best, second], key=lambda c: c.start)]
        return [[best], [second]]

    def _topic_names(self, kind: AnswerType, ranked: list[SentenceCandidate]) -> set[str]:
        """Names (of the asked-for kind) that recur in their article: its topic, not an answer."""
        topic = set()
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


def _default_policy() -> AbstainPolicy:
    """The calibrated abstention rules from retrieval/models/abstain.json, if trained."""
    path = MODELS_DIR / "abstain.json"
    if not path.exists():
        return AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, [1.0] + [0.0] * 10), -3.0),))
    data = json.loads(path.read_text("utf-8"))
    rules = tuple((LinearRanker.from_json(r["model"]), float(r["floor"])) for r in data["rules"])
    return AbstainPolicy(rules, bool(data.get("strict_counts", False)))
