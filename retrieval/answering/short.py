"""Short answers: the phrase in a quoted sentence that answers the question (a number with its
unit, a date, a person, a place, a name), taken verbatim, with the features that decide whether
the evidence supports giving it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from retrieval.answering.questions import AnswerType, question_words, without_dateline
from retrieval.gazetteer import first_names, place_names
from retrieval.language import cognate_keys, query_terms
from retrieval.ranker import MODELS_DIR, LinearRanker, checked

# Magnitudes and units that belong to a number ("857 Millionen", "58 Mio. Euro", "160 km/h").
_UNIT = (
    r"(?:\s?(?:%|Prozent|Promille|Millionen|Million|Milliarden|Milliarde|Mio\.|Mrd\.|Tausend|"
    r"Euro|Cent|Dollar|US-Dollar|Franken|Pfund|Yuan|Rubel|Kronen|km/h|Kilometern?|km|Metern?|m|"
    r"Zentimetern?|cm|Millimetern?|mm|Kilogramm|kg|Gramm|Tonnen|Litern?|Grad|°C?|Hektar|"
    r"Quadratkilometern?|Stunden|Minuten|Sekunden|Tagen?|Wochen|Monaten?|Jahren?|Jahrhunderts?|"
    r"percent|million|billion|thousand|euros?|dollars?|miles?|kilometres?|kilometers?|meters?|"
    r"metres?|feet|tons?|years?|hours?|minutes?|days?)(?![\w-]))*"
)
_NUMBER_WORD = (
    r"(?:zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|vierzig|"
    r"fünfzig|hundert|tausend|dutzend|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|dozen|hundred|thousand)"
)
_NUMBER = re.compile(
    rf"(?<![\w.,])(?:\d[\d.,]*\d|\d)(?:[-–]\d[\d.,]*)?(?:-(?:fach|prozentige?|jährige?)\w*)?{_UNIT}"
    rf"|\b{_NUMBER_WORD}\b{_UNIT}",
    re.I,
)
_MONTH = (
    r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
    r"Dezember|January|February|March|June|July|October|December)"
)
_DATE = re.compile(
    rf"\b\d{{1,2}}\.\s?{_MONTH}(?:\s\d{{4}})?|\b{_MONTH}\s\d{{4}}|\b{_MONTH}\s\d{{1,2}},?\s\d{{4}}"
    r"|\b\d{1,2}\.\s?Jahrhunderts?|\b1[0-9]{3}er(?:\sJahren?)?|\b(?:1[0-9]{3}|20[0-9]{2})\b"
    rf"|\b{_MONTH}\b"
)
_CAPITALIZED = re.compile(
    r"\b[A-ZÄÖÜ][\w'’.-]*[\w](?:\s(?:von|van|de|der|del|da|di|dos|du|al|bin|ibn|und)?\s?[A-ZÄÖÜ][\w'’-]*[\w])*"
)
_SENTENCE_START = re.compile(r"^\W*\w+")
SPAN_FEATURES = (
    "kind_match",
    "in_question",
    "distance",
    "near_terms",
    "tokens",
    "candidates",
    "first_name",
    "place",
    "unit",
)
# A short answer is a phrase, not a clause.
MAX_SPAN_TOKENS = 6


@dataclass(frozen=True)
class Span:
    """A candidate answer phrase: where it is in its sentence and what kind it is."""

    start: int
    end: int
    text: str
    kind: str


def spans(sentence: str, kind: AnswerType) -> list[Span]:
    """Candidate phrases of the kinds the question asks for, left to right, without overlaps."""
    found: list[Span] = []
    if kind.time:
        found += [Span(m.start(), m.end(), m.group(), "time") for m in _DATE.finditer(sentence)]
    if kind.number:
        for m in _NUMBER.finditer(sentence):
            text = m.group().rstrip(".,")
            found.append(Span(m.start(), m.start() + len(text), text, "number"))
    if kind.person or kind.place or kind.entity:
        start = _SENTENCE_START.match(sentence)
        first_end = start.end() if start else 0
        for m in _CAPITALIZED.finditer(without_dateline(sentence)):
            text = m.group().rstrip(".")
            if m.start() == 0 and m.end() <= first_end:
                continue  # the sentence's first word is capitalized anyway
            found.append(Span(m.start(), m.start() + len(text), text, "name"))
    return _without_overlaps(found)


def _without_overlaps(found: list[Span]) -> list[Span]:
    """The longest spans first, then any that do not overlap them, in reading order."""
    kept: list[Span] = []
    for span in sorted(found, key=lambda s: (-(s.end - s.start), s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


@dataclass(frozen=True)
class _QuestionKeys:
    """What span features compare against, computed once per question."""

    kind: AnswerType
    words: frozenset[str]
    numbers: frozenset[str]
    terms: frozenset[str]
    cognates: frozenset[str]


@lru_cache(maxsize=64)
def _question_keys(question: str) -> _QuestionKeys:
    """The question's type, words (and numbers as digits), stemmed terms and cognate keys."""
    words = question_words(question)
    return _QuestionKeys(
        AnswerType.of(question),
        frozenset(words),
        frozenset(_NUMBER_NAMES.get(w, w) for w in words),
        frozenset(query_terms(question)),
        frozenset(cognate_keys(question)),
    )


def span_features(
    question: str, sentence: str, candidates: Sequence[Span], units: Sequence[float] | None = None
) -> list[dict[str, float]]:
    """Features by name (SPAN_FEATURES) of each candidate phrase; `units` gives each one's unit
    similarity (see WordVectors.unit_similarities), 0 when not known."""
    q = _question_keys(question)
    kind = q.kind
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if _matches(m.group(), q)]
    firsts, places = first_names(), place_names()
    rows = []
    for n, span in enumerate(candidates):
        words = re.findall(r"\w+", span.text)
        inside = bool(words) and all(_matches(w, q) for w in words)
        dist = min((abs(a - span.start) for a in anchors), default=len(sentence))
        rows.append(
            {
                "kind_match": float(_kind_match(span, kind, firsts, places)),
                "in_question": float(
                    inside or bool(set(query_terms(span.text)) & q.terms and len(words) == 1)
                ),
                "distance": min(dist, 200) / 200,
                "near_terms": float(len(anchors) > 0),
                "tokens": min(len(words), MAX_SPAN_TOKENS) / MAX_SPAN_TOKENS,
                "candidates": min(len(candidates), 6) / 6,
                "first_name": float(bool(words) and words[0] in firsts),
                "place": float(any(w in places for w in words)),
                "unit": units[n] if units else 0.0,
            }
        )
    return rows


_NUMBER_NAMES = {
    **dict.fromkeys(("one", "eins", "ein", "eine"), "1"),
    **dict.fromkeys(("two", "zwei"), "2"),
    **dict.fromkeys(("three", "drei"), "3"),
    **dict.fromkeys(("four", "vier"), "4"),
    **dict.fromkeys(("five", "fünf"), "5"),
    **dict.fromkeys(("six", "sechs"), "6"),
    **dict.fromkeys(("seven", "sieben"), "7"),
    **dict.fromkeys(("eight", "acht"), "8"),
    **dict.fromkeys(("nine", "neun"), "9"),
    **dict.fromkeys(("ten", "zehn"), "10"),
    **dict.fromkeys(("twelve", "zwölf"), "12"),
}


def _matches(word: str, q: _QuestionKeys) -> bool:
    """Whether a sentence word is one of the question's (as written, as a number in either
    language, or as a cognate)."""
    low = word.lower()
    if low in q.words or _NUMBER_NAMES.get(low, low) in q.numbers:
        return True
    return len(low) >= 4 and bool(_cognates(low) & q.cognates)


@lru_cache(maxsize=65_536)
def _cognates(word: str) -> frozenset[str]:
    """The cognate keys of one lower-cased word."""
    return frozenset(cognate_keys(word))


def _kind_match(span: Span, kind: AnswerType, firsts: frozenset[str], places: frozenset[str]) -> bool:
    """Whether the phrase is of a kind the question asks for."""
    words = span.text.split()
    if span.kind in ("time", "number"):
        return True
    if kind.person and words and words[0] in firsts and len(words) >= 2:
        return True
    if kind.place and any(w in places for w in words):
        return True
    return kind.entity


SHORT_FEATURES = (
    *SPAN_FEATURES,
    "confidence",
    "relevance",
    "quote_score",
    "quote_margin",
    "quote_softmax",
    "asks_number",
    "asks_time",
    "asks_person",
    "asks_place",
    "asks_entity",
)


@dataclass(frozen=True)
class ShortPolicy:
    """Give the short answer when the model's logit for "this phrase is the answer" reaches the floor."""

    model: LinearRanker
    floor: float


def choose_span(
    question: str, sentence: str, units: Callable[[str, Sequence[Span]], list[float]] | None = None
) -> tuple[Span, dict[str, float]] | None:
    """The phrase of the asked-for kind, not named in the question: for a number, the one whose
    unit is most like what is counted (when `units` scores them), else the one nearest the
    question's words."""
    kind = AnswerType.of(question)
    if not (kind.number or kind.time or kind.place or kind.person):
        return None  # "which …?" names are too often the wrong phrase to be worth a short answer
    found = spans(sentence, kind)
    rows = span_features(question, sentence, found, units(sentence, found) if units else None)
    usable = [
        (-round(f["unit"], 2), f["distance"], i)
        for i, f in enumerate(rows)
        if f["kind_match"] and not f["in_question"]
    ]
    if not usable:
        return None
    *_, i = min(usable)
    return found[i], rows[i]


def short_features(question: str, row: Mapping[str, float], evidence: Mapping[str, float]) -> np.ndarray:
    """The SHORT_FEATURES vector of a chosen phrase, built by name from its span features and the
    answer's evidence (the abstention features by name, and `confidence`: the abstention margin)."""
    kind = AnswerType.of(question)
    named = {
        **row,
        **{
            name: evidence[name]
            for name in ("confidence", "relevance", "quote_score", "quote_margin", "quote_softmax")
        },
        "asks_number": float(kind.number),
        "asks_time": float(kind.time),
        "asks_person": float(kind.person),
        "asks_place": float(kind.place),
        "asks_entity": float(kind.entity),
    }
    return np.array([named[name] for name in SHORT_FEATURES], dtype=np.float64)


def best_span(
    question: str,
    sentence: str,
    policy: ShortPolicy,
    evidence: Mapping[str, float],
    units: Callable[[str, Sequence[Span]], list[float]] | None = None,
) -> str | None:
    """The short answer taken verbatim from the sentence, or None when it is not supported."""
    chosen = choose_span(question, sentence, units)
    if chosen is None:
        return None
    span, row = chosen
    if policy.model.scores(short_features(question, row, evidence)[None, :])[0] < policy.floor:
        return None
    return span.text


def cautious_short_policy() -> ShortPolicy:
    """Before training: a short answer only when the evidence clears the abstention floor by far."""
    weights = [0.0] * len(SHORT_FEATURES)
    weights[SHORT_FEATURES.index("confidence")] = 1.0
    return ShortPolicy(LinearRanker.uniform(SHORT_FEATURES, weights), 2.0)


def default_short_policy() -> ShortPolicy:
    """The trained policy from retrieval/models/short_answer.json, or a cautious rule before training."""
    path = MODELS_DIR / "short_answer.json"
    if not path.exists():
        return cautious_short_policy()
    data = json.loads(path.read_text("utf-8"))
    return ShortPolicy(
        checked(LinearRanker.from_json(data["model"]), SHORT_FEATURES, path), float(data["floor"])
    )
