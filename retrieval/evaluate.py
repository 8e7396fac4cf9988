"""The evaluation behind `newsbot eval`: question sets, a fresh index, metrics, reports.

The metrics follow `../shared/FORMATS.md`; the choices the contract leaves open:

- Text comparison folds whitespace (any run becomes one space, ends stripped) and applies
  Unicode NFC; `answer_hit` also compares case-insensitively (`str.casefold`), while
  `citation_validity` is case-sensitive ("verbatim").
- Retrieval metrics (`recall_at_k`, `mrr`) and `top_citation_hit` are over answerable
  questions that name gold `article_ids` (in the shipped sets that is every answerable one).
  MRR uses the full ranked list of `Answer.retrieved`; a gold article not in it scores 0.
- `answer_hit`: an abstention is a miss. The answer text is matched, and measured, as the
  reader sees it: `**` markup (the bold short answer) is folded away. `answer_chars_median` is
  the median length of the answer text of every answerable question, abstentions included
  (their text is what the user reads), so neither a long answer nor a short refusal goes unseen.
- `short_answer_*`: an abstention carries no short answer. Normalization follows SQuAD
  (lowercase, punctuation removed, articles removed, whitespace folded) with Unicode NFC,
  Unicode punctuation (such as „“) counted as punctuation, and the German articles of the
  contract added; when the short answer or a gold answer normalizes to nothing, F1 is 1 if both
  do, else 0 (as in SQuAD v2). `short_answer_precision` averages over the answerable questions
  that got a short answer (0.0 when none did); unanswerable ones have no gold to compare with
  (answering them at all shows in `abstained_unanswerable`).
- `citation_validity` is over all citations of all questions, checked against the article
  texts read from the corpus files (not from the index), so the check is independent; a
  citation of an article that is not in the corpus is invalid. With no citations at all it
  is 1.0 (vacuously: no citation was wrong); the extra `citations` key gives the count.
- Shares with an empty denominator are 0.0. Latency percentiles interpolate linearly over
  every answered question; the model and index are loaded and warmed up before timing.
  `index_seconds` is the wall time of reading and indexing the corpus, with the embedding
  model already loaded.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.answering.types import plain_text, quoted
from retrieval.config import Settings
from retrieval.documents import Article, Problem, clean_text, load_articles, open_regular
from retrieval.errors import InputError
from retrieval.language import guess_language

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
WARM_UP_QUESTION = "Was ist passiert?"
REPORT_CASES = 20
# Removed before short answers are compared (FORMATS.md: English and German articles).
ARTICLES = frozenset("a an the der die das den dem des ein eine einen einem einer eines".split())
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


# ---------- question sets ----------
@dataclass(frozen=True)
class Question:
    """One question with its gold answers and gold articles."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    line: int | None = None
    annotations: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        """Whether the articles answer it (an empty answer list means they do not)."""
        return bool(self.answers)


@dataclass
class QuestionSet:
    """Questions read from a file, the problems met, and (for SQuAD) the articles it holds."""

    path: Path
    format: str
    questions: list[Question] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)


def load_questions(path: str | Path) -> QuestionSet:
    """Read a JSONL question set or a SQuAD v1.1/2.0 JSON file; bad entries become problems."""
    path = Path(path)
    try:
        with open_regular(path) as f:  # a FIFO or device is refused, not read forever
            content = f.read().decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    whole = _parse_whole(path, content)
    if isinstance(whole, dict) and "data" in whole:
        return _load_squad(path, whole)
    return _load_jsonl(path, content)


def _parse_whole(path: Path, content: str) -> Any:
    """The file parsed as one JSON document, or None when it is not one (JSONL)."""
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        return None
    except RecursionError:
        if path.suffix.lower() == ".json":
            raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
        return None


def _load_jsonl(path: Path, content: str) -> QuestionSet:
    """Questions from JSONL, one per line; blank lines are ignored."""
    result = QuestionSet(path=path, format="jsonl")
    first_line: dict[str, int] = {}
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = question_from_record(json.loads(line), number)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(path, number, f"invalid JSON ({exc.msg})"))
            continue
        except RecursionError:
            result.problems.append(Problem(path, number, "invalid JSON (nested too deeply)"))
            continue
        except ValueError as exc:
            result.problems.append(Problem(path, number, str(exc)))
            continue
        if question.id in first_line:
            first = first_line[question.id]
            result.problems.append(
                Problem(path, number, f"duplicate id '{question.id}' (first on line {first})"))
            continue
        first_line[question.id] = number
        result.questions.append(question)
    return result


def question_from_record(record: Any, line: int | None = None) -> Question:
    """A question from a JSON object; ValueError says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for name in ("id", "question", "answers"):
        if name not in record:
            hint = " (use [] when the articles do not answer it)" if name == "answers" else ""
            raise ValueError(f"missing required field '{name}'{hint}")
    if isinstance(record["id"], bool) or not isinstance(record["id"], str | int) \
            or not str(record["id"]).strip():
        raise ValueError("field 'id' must be a non-empty string")
    if not isinstance(record["question"], str) or not record["question"].strip():
        raise ValueError("field 'question' must be a non-empty string")
    answers = _strings(record["answers"], "answers")
    article_ids = _strings(record.get("article_ids") or [], "article_ids")
    annotations = {k: v for k, v in record.items() if k not in _QUESTION_FIELDS}
    return Question(id=str(record["id"]).strip(), question=record["question"].strip(),
                    answers=answers, article_ids=article_ids, line=line, annotations=annotations)


# The fields a question row is judged by; any other field is an annotation, carried along.
_QUESTION_FIELDS = frozenset({"id", "question", "answers", "article_ids"})


def _strings(value: Any, name: str) -> tuple[str, ...]:
    """A list of non-empty strings (ids may be numbers), stripped and deduplicated."""
    if not isinstance(value, list):
        raise ValueError(f"field '{name}' must be a list of strings")
    out: dict[str, None] = {}
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise ValueError(f"field '{name}' must hold non-empty strings, not {item!r}")
        out.setdefault(str(item).strip(), None)
    return tuple(out)


def _load_squad(path: Path, document: dict[str, Any]) -> QuestionSet:
    """SQuAD: each paragraph an article '{title}-{i}', each qa a question about it."""
    result = QuestionSet(path=path, format="squad")
    if not isinstance(document["data"], list):
        raise InputError(f"{path}: 'data' must be a list of SQuAD articles")
    seen: set[str] = set()
    article_ids: set[str] = set()
    for t, entry in enumerate(document["data"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("paragraphs"), list):
            result.problems.append(Problem(path, None, f"data[{t}]: no 'paragraphs' list"))
            continue
        title = str(entry.get("title") or f"article{t}")
        for p, paragraph in enumerate(entry["paragraphs"]):
            where = f"data[{t}].paragraphs[{p}]"
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context.strip():
                result.problems.append(Problem(path, None, f"{where}: no 'context' text"))
                continue
            article = _squad_article(title, p, context, article_ids)
            result.articles.append(article)
            for q, qa in enumerate(paragraph.get("qas") or []):
                _add_squad_question(result, qa, article.id, f"{where}.qas[{q}]", seen)
    return result


def _squad_article(title: str, number: int, context: str, taken: set[str]) -> Article:
    """The article for one SQuAD paragraph, with an id unique in the file."""
    article_id, extra = f"{title}-{number}", 1
    while article_id in taken:
        extra += 1
        article_id = f"{title}-{number}.{extra}"
    taken.add(article_id)
    return Article(id=clean_text(article_id), text=clean_text(context),
                   title=clean_text(title.replace("_", " ")), lang=guess_language(context))


def _add_squad_question(result: QuestionSet, qa: Any, article_id: str, where: str,
                        seen: set[str]) -> None:
    """Add one SQuAD qa to the set, or record why it was skipped."""
    try:
        if not isinstance(qa, dict):
            raise ValueError("expected a JSON object")
        impossible = bool(qa.get("is_impossible"))
        answers = [] if impossible else [a.get("text") if isinstance(a, dict) else a
                                         for a in qa.get("answers") or []]
        record = {"id": qa.get("id", ""), "question": qa.get("question"), "answers": answers,
                  "article_ids": [article_id] if answers else []}
        question = question_from_record(record)
    except ValueError as exc:
        result.problems.append(Problem(result.path, None, f"{where}: {exc}"))
        return
    if question.id in seen:
        result.problems.append(Problem(result.path, None, f"{where}: duplicate id '{question.id}'"))
        return
    seen.add(question.id)
    result.questions.append(question)


# ---------- per-question records and metrics ----------
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


# ---------- running ----------
@dataclass
class BuiltIndex:
    """A freshly built index with the corpus texts and what building it cost."""

    bot: Any  # retrieval.pipeline.Newsbot
    texts: dict[str, str]
    index_seconds: float
    articles: int
    chunks: int
    corpus: list[str]
    problems: list[Problem]


def build_index(settings: Settings, corpus: Sequence[Path], workdir: Path, *,
                articles: Sequence[Article] = (), embedder: Any = None, answerer: Any = None,
                progress: bool = True) -> BuiltIndex:
    """Index the corpus (or the given articles) into workdir, timing it with the model loaded."""
    from retrieval.pipeline import Newsbot

    paths = [Path(p) for p in corpus]
    if not paths:
        if not articles:
            raise InputError("no corpus to index")
        paths = [write_articles(articles, workdir / "articles.jsonl")]
    texts = {a.id: a.text for a in load_articles(paths, settings.max_article_bytes).articles}
    bot = Newsbot(settings, embedder=embedder, index_dir=workdir / "index", answerer=answerer)
    bot.embedder.embed(["warm-up"])  # load the model before the clock starts
    started = time.perf_counter()
    outcome = bot.index_paths(paths, progress=progress)
    seconds = time.perf_counter() - started
    n_articles, n_chunks = bot.index.counts()
    described = [str(p) for p in corpus] or [f"{len(articles)} articles from the question file"]
    return BuiltIndex(bot, texts, seconds, n_articles, n_chunks, described, outcome.problems)


def write_articles(articles: Iterable[Article], path: Path) -> Path:
    """Write articles as JSONL (the contract's format) and return the path."""
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            row = {"id": a.id, "title": a.title, "text": a.text, "date": a.date,
                   "source": a.source, "lang": a.lang, **a.meta}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def answer_questions(bot: Any, questions: Sequence[Question], source: Path, *,
                     progress: bool = True) -> tuple[list[Record], list[Problem]]:
    """Answer every question, timing each; questions the bot refuses become problems."""
    from tqdm import tqdm

    from retrieval.pipeline import timed_answer

    bot.answer(WARM_UP_QUESTION)  # open the index and warm caches before timing
    records: list[Record] = []
    problems: list[Problem] = []
    for q in tqdm(questions, desc="Answering", unit="question", disable=not progress,
                  file=sys.stderr):
        try:
            text = bot.check_question(q.question)
        except InputError as exc:
            problems.append(Problem(source, q.line, f"question '{q.id}': {exc}"))
            continue
        answer, ms = timed_answer(bot, text)
        records.append(Record(
            id=q.id, question=q.question, answers=q.answers, article_ids=q.article_ids,
            answer=answer.text, citations=tuple(asdict(c) for c in answer.citations),
            abstained=answer.abstained, retrieved=tuple(answer.retrieved), latency_ms=ms,
            short_answer=answer.short_answer, annotations=q.annotations))
    return records, problems


@dataclass
class EvalResult:
    """An evaluation run: metrics, configuration, per-question rows and skipped inputs."""

    metrics: dict[str, Any]
    config: dict[str, Any]
    per_question: list[dict[str, Any]]
    question_problems: list[Problem] = field(default_factory=list)
    article_problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON document (plus the list of skipped inputs)."""
        skipped = [{"path": str(p.path), "line": p.line, "message": p.message, "kept": p.kept}
                   for p in self.question_problems + self.article_problems]
        return {"metrics": self.metrics, "config": self.config,
                "per_question": self.per_question, "skipped": skipped}


def default_corpus(qset: QuestionSet, corpus: Sequence[Path], settings: Settings) -> list[Path]:
    """The corpus to index: the given paths, else none for SQuAD (its contexts), else the seeds."""
    if corpus:
        return [Path(p) for p in corpus]
    if qset.format == "squad":
        return []
    return [settings.seeds]


def run_eval(qset: QuestionSet, corpus: Sequence[Path], settings: Settings, *,
             embedder: Any = None, answerer: Any = None, progress: bool = True) -> EvalResult:
    """Index the corpus in a temporary folder, answer every question, compute the metrics."""
    if not qset.questions:
        detail = f": {qset.problems[0]}" if qset.problems else ""
        raise InputError(f"no valid questions in {qset.path}{detail}")
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as tmp:
        built = build_index(settings, corpus, Path(tmp), articles=qset.articles,
                            embedder=embedder, answerer=answerer, progress=progress)
        try:
            records, skipped = answer_questions(built.bot, qset.questions, qset.path,
                                                progress=progress)
            config = run_config(built, qset, settings, answerer)
        finally:
            built.bot.close()
    metrics = compute_metrics(records, built.texts, index_seconds=built.index_seconds,
                              articles=built.articles, chunks=built.chunks)
    own_file = qset.path.resolve()
    article_problems = [p for p in built.problems if Path(p.path).resolve() != own_file]
    return EvalResult(metrics, config, [record_row(r, built.texts) for r in records],
                      qset.problems + skipped, article_problems)


def run_config(built: BuiltIndex, qset: QuestionSet, settings: Settings,
               answerer: Any = None) -> dict[str, Any]:
    """What produced the numbers: versions, models, chunking, inputs."""
    from retrieval.pipeline import RANKED_CHUNKS

    name = settings.answerer if answerer is None else getattr(answerer, "name",
                                                              type(answerer).__name__)
    return {
        "newsbot_version": _version(), "embedder": built.bot.embedder.name, "answerer": name,
        "chunk_sentences": getattr(built.bot.index, "chunk_sentences", settings.chunk_sentences),
        "chunk_overlap": getattr(built.bot.index, "chunk_overlap", settings.chunk_overlap),
        "top_k": settings.top_k,
        "ranked_chunks": RANKED_CHUNKS, "questions_file": str(qset.path),
        "questions_format": qset.format, "corpus": built.corpus,
        "skipped_questions": len(qset.problems), "threads": settings.threads,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _version() -> str:
    """The installed newsbot version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsbot")
    except PackageNotFoundError:
        return "unknown"


# ---------- output ----------
_SHARES = frozenset({"recall_at_1", "recall_at_5", "mrr", "answer_hit", "top_citation_hit",
                     "citation_validity", "abstained_unanswerable", "abstained_answerable",
                     "short_answer_given", "short_answer_f1", "short_answer_precision"})
_LABELS = {
    "recall_at_1": "recall@1", "recall_at_5": "recall@5", "mrr": "MRR",
    "answer_hit": "answer hit", "answer_chars_median": "answer chars (median)",
    "short_answer_given": "short answer given", "short_answer_f1": "short answer F1",
    "short_answer_precision": "short answer F1 (where given)",
    "top_citation_hit": "top citation hit", "citation_validity": "citation validity",
    "abstained_unanswerable": "abstained (unanswerable)",
    "abstained_answerable": "abstained (answerable; lower is better)",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
    "index_seconds": "index seconds",
}


def format_value(key: str, value: Any) -> str:
    """A metric value for display: shares with 4 decimals, seconds with 2, the rest with 1."""
    if not isinstance(value, float):
        return str(value)
    if key.endswith("seconds"):
        return f"{value:.2f}"
    return f"{value:.4f}" if key in _SHARES else f"{value:.1f}"


def summary_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows in the contract's order, extras last."""
    keys = [k for k in METRIC_KEYS if k in metrics] + [k for k in metrics if k not in METRIC_KEYS]
    return [(_LABELS.get(k, k.replace("_", " ")), format_value(k, metrics[k])) for k in keys]


def format_summary(metrics: Mapping[str, Any]) -> str:
    """A plain aligned table of the metrics for the terminal."""
    rows = summary_rows(metrics)
    width = max(len(label) for label, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [f"{'metric':<{width}}  {'value':>{value_width}}", "-" * (width + 2 + value_width)]
    lines += [f"{label:<{width}}  {value:>{value_width}}" for label, value in rows]
    return "\n".join(lines)


def write_json(result: EvalResult, path: Path) -> None:
    """Write the contract's JSON document."""
    Path(path).write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")


def worst_cases(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Wrong answers (gold article ranked worst first), missed and false abstentions."""
    def badness(row: Mapping[str, Any]) -> int:
        return -(row["gold_rank"] or 10**6)

    wrong = [r for r in rows if r["answerable"] and not r["abstained"] and not r["answer_hit"]]
    return {
        "Wrong answers": sorted(wrong, key=badness),
        "Missed abstentions": [r for r in rows if not r["answerable"] and not r["abstained"]],
        "False abstentions": sorted((r for r in rows if r["answerable"] and r["abstained"]),
                                    key=badness),
    }


def format_report(result: EvalResult, limit: int = REPORT_CASES) -> str:
    """A Markdown report: metrics table, configuration, then the worst cases."""
    config = result.config
    lines = [f"# newsbot evaluation: {Path(config.get('questions_file', '?')).name}", "",
             f"Corpus: {', '.join(config.get('corpus', []))}; embedder `{config.get('embedder')}`, "
             f"answerer `{config.get('answerer')}`, newsbot {config.get('newsbot_version')}, "
             f"{config.get('date')}.", "", "| metric | value |", "|---|---:|"]
    lines += [f"| {_md(label)} | {value} |" for label, value in summary_rows(result.metrics)]
    skipped = result.question_problems + result.article_problems
    if skipped:
        lines += ["", f"Skipped or repaired {len(skipped)} input(s):", ""]
        lines += [f"- {'repaired' if p.kept else 'skipped'} `{_md(str(p))}`" for p in skipped[:limit]]
    for title, rows in worst_cases(result.per_question).items():
        lines += ["", f"## {title} ({len(rows)})", ""]
        if not rows:
            lines.append("None.")
        for row in rows[:limit]:
            lines += _case_lines(row)
        if len(rows) > limit:
            lines.append(f"… and {len(rows) - limit} more (see the JSON output).")
    return "\n".join(lines) + "\n"


def _case_lines(row: Mapping[str, Any]) -> list[str]:
    """One worst case as a Markdown list item."""
    gold = row["gold"]
    answers = " / ".join(f"`{_md(a)}`" for a in gold["answers"]) or "(none: should abstain)"
    rank = row["gold_rank"]
    where = f"rank {rank}" if rank else "not retrieved"
    lines = [f"- **{_md(row['id'])}**: {_md(row['question'])}",
             f"  - gold: {answers}" + (f" in {', '.join(gold['article_ids'])} ({where})"
                                       if gold["article_ids"] else ""),
             f"  - answer: {_md(fold(row['answer']))}"]
    if row.get("short_answer"):
        lines.append(f"  - short answer: `{_md(row['short_answer'])}` "
                     f"(F1 {row.get('short_answer_f1') or 0:.2f})")
    if row["citations"]:
        first = row["citations"][0]
        lines.append(f"  - cited: {quoted(_md(str(first.get('quote', ''))))} "
                     f"({first.get('article_id')})")
    return lines


def _md(text: str) -> str:
    """Text safe inside a Markdown line."""
    return fold(text).replace("|", "\\|").replace("`", "'")


def write_report(result: EvalResult, path: Path, limit: int = REPORT_CASES) -> None:
    """Write the Markdown report."""
    Path(path).write_text(format_report(result, limit), encoding="utf-8")
