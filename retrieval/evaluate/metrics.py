"""Per-question records and the contract's metrics (FORMATS.md; the choices it leaves open are in
the package docstring)."""

from __future__ import annotations

import math
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.answering.types import plain_text

METRIC_KEYS = (
    "questions", "answerable", "unanswerable",
    "recall_at_1", "recall_at_5", "mrr",
    "answer_hit", "answer_chars_median",
    "short_answer_given", "short_answer_f1", "short_answer_precision",
    "top_citation_hit", "citation_validity",
    "abstained_unanswerable", "abstained_answerable",
    "latency_ms_p50", "latency_ms_p95",
    "index_seconds", "articles", "chunks",
)
EXTRA_METRIC_KEYS = ("citations",)
# Removed before short answers are compared (FORMATS.md: English and German articles).
ARTICLES = frozenset("a an the der die das den dem des ein eine einen einem einer eines".split())
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

@dataclass(frozen=True)
class Record:
    """What the bot did for one question, as plain data."""

    id: str
    question: str
    answers: tuple[str, ...]
    article_ids: tuple[str, ...]
    answer: str
    citations: tuple[Mapping[str, Any], ...] = ()
    abstained: bool = False
    retrieved: tuple[str, ...] = ()
    latency_ms: float = 0.0
    short_answer: str | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)
    conversation: str | None = None
    turn: int | None = None

    @property
    def followup(self) -> bool:
        """Whether it is a conversation turn after the first (answered with a history)."""
        return self.conversation is not None and (self.turn or 1) > 1

    @property
    def answerable(self) -> bool:
        """Whether the gold says the articles answer it."""
        return bool(self.answers)

    @property
    def short_answer_given(self) -> bool:
        """Whether the answer carries a short answer (an abstention never does)."""
        return not self.abstained and bool((self.short_answer or "").strip())

    @property
    def short_answer_f1(self) -> float:
        """Token F1 of the short answer against the best gold answer; 0.0 when none was given."""
        return short_answer_f1(self.short_answer, self.answers) if self.short_answer_given else 0.0


def fold(text: str) -> str:
    """Text in NFC with every run of whitespace folded to one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def answer_hit(answer: str, golds: Iterable[str]) -> bool:
    """Whether the answer contains a gold answer, case-insensitively, whitespace folded, with
    the `**` markup of a bold short answer folded away (gold answers have none)."""
    folded = fold(plain_text(answer)).casefold()
    return any(fold(gold).casefold() in folded for gold in golds if fold(gold))


def answer_tokens(text: str) -> list[str]:
    """SQuAD-style normalized tokens: lowercased, punctuation and articles removed."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    return [token for token in text.split() if token not in ARTICLES]


def _is_punctuation(char: str) -> bool:
    """ASCII punctuation (as in SQuAD) or any Unicode punctuation character."""
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 of a prediction against one gold answer."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(gold)
    if not predicted or not wanted:
        return float(predicted == wanted)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if not same:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def short_answer_f1(short_answer: str | None, golds: Iterable[str]) -> float:
    """Token F1 against the best of the gold answers; 0.0 without a short answer or golds."""
    if not short_answer:
        return 0.0
    return max((token_f1(short_answer, gold) for gold in golds), default=0.0)


def gold_rank(retrieved: Sequence[str], gold_ids: Iterable[str]) -> int | None:
    """1-based rank of the first gold article in the ranking, None when absent."""
    gold = set(gold_ids)
    return next((rank for rank, aid in enumerate(retrieved, start=1) if aid in gold), None)


def citation_valid(citation: Mapping[str, Any], texts: Mapping[str, str]) -> bool:
    """Whether the quote occurs verbatim (whitespace folded) in the cited article."""
    text = texts.get(str(citation.get("article_id", "")))
    quote = fold(str(citation.get("quote", "")))
    return text is not None and bool(quote) and quote in fold(text)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(hits: int, total: int) -> float:
    """hits / total rounded to 4 decimals, 0.0 when total is 0."""
    return round(hits / total, 4) if total else 0.0


def _mean(values: Sequence[float]) -> float:
    """The mean rounded to 4 decimals, 0.0 for no values."""
    return round(sum(values) / len(values), 4) if values else 0.0


def _median(values: Sequence[int]) -> int | float:
    """The median, as an int when it is whole; 0 for no values."""
    if not values:
        return 0
    middle = statistics.median(values)
    return int(middle) if float(middle).is_integer() else float(middle)


def compute_metrics(records: Sequence[Record], texts: Mapping[str, str], *,
                    index_seconds: float = 0.0, articles: int = 0,
                    chunks: int = 0) -> dict[str, Any]:
    """Every metric of the contract from per-question records and the corpus texts."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    ranked = [r for r in answerable if r.article_ids]
    ranks = [gold_rank(r.retrieved, r.article_ids) for r in ranked]
    citations = [c for r in records for c in r.citations]
    latencies = [r.latency_ms for r in records]
    metrics: dict[str, Any] = {
        "questions": len(records), "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall_at_1": _share(sum(1 for k in ranks if k is not None and k <= 1), len(ranked)),
        "recall_at_5": _share(sum(1 for k in ranks if k is not None and k <= 5), len(ranked)),
        "mrr": round(sum(1 / k for k in ranks if k) / len(ranked), 4) if ranked else 0.0,
        "answer_hit": _share(sum(1 for r in answerable if not r.abstained
                                 and answer_hit(r.answer, r.answers)), len(answerable)),
        "answer_chars_median": _median([len(plain_text(r.answer)) for r in answerable]),
        "short_answer_given": _share(sum(r.short_answer_given for r in answerable), len(answerable)),
        "short_answer_f1": _mean([r.short_answer_f1 for r in answerable]),
        "short_answer_precision": _mean([r.short_answer_f1 for r in answerable if r.short_answer_given]),
        "top_citation_hit": _share(sum(1 for r in ranked if _top_citation_hit(r)), len(ranked)),
        "citation_validity": (_share(sum(1 for c in citations if citation_valid(c, texts)),
                                     len(citations)) if citations else 1.0),
        "abstained_unanswerable": _share(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "abstained_answerable": _share(sum(r.abstained for r in answerable), len(answerable)),
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p95": round(percentile(latencies, 95), 2),
        "index_seconds": round(index_seconds, 3), "articles": articles, "chunks": chunks,
        "citations": len(citations),
    }
    return metrics


# Metrics of the whole run, not of a subset of its questions.
_RUN_KEYS = frozenset({"index_seconds", "articles", "chunks"})


def conversation_metrics(records: Sequence[Record], texts: Mapping[str, str]) -> dict[str, Any]:
    """Where there are conversation rows: every per-question metric again for the turns after
    the first (`followup_…`) and for the first turns (`first_turn_…`); empty otherwise."""
    if not any(r.conversation is not None for r in records):
        return {}
    out: dict[str, Any] = {}
    parts = (("followup_", [r for r in records if r.followup]),
             ("first_turn_", [r for r in records if r.conversation is not None and not r.followup]))
    for prefix, part in parts:
        metrics = compute_metrics(part, texts)
        out.update({prefix + k: v for k, v in metrics.items() if k not in _RUN_KEYS})
    return out


def _top_citation_hit(record: Record) -> bool:
    """Whether the first citation is of a gold article."""
    if not record.citations:
        return False
    return str(record.citations[0].get("article_id")) in record.article_ids


def record_row(record: Record, texts: Mapping[str, str]) -> dict[str, Any]:
    """One `per_question` row: the record plus what was judged about it."""
    rank = gold_rank(record.retrieved, record.article_ids)
    return {
        "id": record.id, "question": record.question,
        "gold": {"answers": list(record.answers), "article_ids": list(record.article_ids)},
        "answerable": record.answerable, "answer": record.answer,
        "citations": [dict(c) for c in record.citations], "abstained": record.abstained,
        "retrieved": list(record.retrieved), "latency_ms": round(record.latency_ms, 2),
        "gold_rank": rank,
        "answer_hit": record.answerable and not record.abstained
        and answer_hit(record.answer, record.answers),
        "short_answer": record.short_answer if record.short_answer_given else None,
        "short_answer_f1": round(record.short_answer_f1, 4) if record.answerable else None,
        "citations_valid": [citation_valid(c, texts) for c in record.citations],
        "annotations": dict(record.annotations),
    }
