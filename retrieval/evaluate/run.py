"""Running an evaluation: a fresh index of the corpus, every question answered and timed."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.answering.types import Answer, Turn
from retrieval.config import Settings
from retrieval.documents import Article, Problem, load_articles
from retrieval.errors import InputError
from retrieval.evaluate.load import Question, QuestionSet, sessions
from retrieval.evaluate.metrics import Record, compute_metrics, conversation_metrics, record_row

WARM_UP_QUESTION = "Was ist passiert?"

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


def build_index(settings: Settings, corpus: Sequence[Path | str], workdir: Path, *,
                articles: Sequence[Article] = (), embedder: Any = None, answerer: Any = None,
                progress: bool = True) -> BuiltIndex:
    """Index the corpus (or the given articles) into workdir, timing it with the model loaded."""
    from retrieval.pipeline import Newsbot

    paths, web_problems = _fetched_once(settings, corpus, workdir)
    if not paths:
        if not articles:
            raise InputError("no corpus to index")
        paths = [write_articles(articles, workdir / "articles.jsonl")]
    texts = {a.id: a.text for a in load_articles(paths, settings.max_article_bytes).articles}
    bot = Newsbot(
        settings.for_evaluation(), embedder=embedder, index_dir=workdir / "index", answerer=answerer
    )
    bot.embedder.embed(["warm-up"])  # load the model before the clock starts
    started = time.perf_counter()
    outcome = bot.index_paths(paths, progress=progress)
    seconds = time.perf_counter() - started
    n_articles, n_chunks = bot.index.counts()
    described = [str(p) for p in corpus] or [f"{len(articles)} articles from the question file"]
    return BuiltIndex(bot, texts, seconds, n_articles, n_chunks, described, web_problems + outcome.problems)


def _fetched_once(
    settings: Settings, corpus: Sequence[Path | str], workdir: Path
) -> tuple[list[Path], list[Problem]]:
    """The corpus as files: URLs (pages, feeds) are fetched once into a JSONL file, so that the
    index and the texts citations are checked against are the same."""
    from retrieval.readers.fetch import Fetcher, is_url

    urls = [str(p) for p in corpus if is_url(p)]
    paths = [Path(p) for p in corpus if not is_url(p)]
    if not urls:
        return paths, []
    with Fetcher(settings.fetch_options()) as fetcher:
        loaded = load_articles(urls, settings.max_article_bytes, fetcher)
    if loaded.articles:
        paths.append(write_articles(loaded.articles, workdir / "web.jsonl"))
    elif not paths:
        detail = f": {loaded.problems[0]}" if loaded.problems else ""
        raise InputError(f"no articles could be read from {', '.join(urls)}{detail}")
    return paths, loaded.problems


def write_articles(articles: Iterable[Article], path: Path) -> Path:
    """Write articles as JSONL (the contract's format) and return the path."""
    with path.open("w", encoding="utf-8") as out:
        for a in articles:
            row = {"id": a.id, "title": a.title, "text": a.text, "date": a.date,
                   "source": a.source, "lang": a.lang, **a.meta}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def answer_questions(bot: Any, questions: Sequence[Question], source: Path, *,
                     progress: bool = True, history: bool = True) -> tuple[list[Record], list[Problem]]:
    """Answer every question, timing each; questions the bot refuses become problems. The turns
    of a conversation are asked in order, each with the earlier turns (questions and the bot's
    own answers) as its history; `history=False` asks every turn alone."""
    from tqdm import tqdm

    from retrieval.pipeline import timed_answer

    bot.answer(WARM_UP_QUESTION)  # open the index and warm caches before timing
    records: list[Record] = []
    problems: list[Problem] = []
    with tqdm(total=len(questions), desc="Answering", unit="question", disable=not progress,
              file=sys.stderr) as bar:
        for session in sessions(questions):
            turns: list[Turn] = []
            for q in session:
                bar.update(1)
                try:
                    text = bot.check_question(q.question)
                except InputError as exc:
                    problems.append(Problem(source, q.line, f"question '{q.id}': {exc}"))
                    continue
                answer, ms = timed_answer(bot, text, turns if history else ())
                turns.append(Turn(text, answer))
                records.append(_record(q, answer, ms))
    return records, problems


def _record(q: Question, answer: Answer, ms: float) -> Record:
    """What the bot did for one question, as plain data."""
    return Record(
        id=q.id, question=q.question, answers=q.answers, article_ids=q.article_ids,
        answer=answer.text, citations=tuple(asdict(c) for c in answer.citations),
        abstained=answer.abstained, retrieved=tuple(answer.retrieved), latency_ms=ms,
        short_answer=answer.short_answer, annotations=q.annotations,
        conversation=q.conversation, turn=q.turn)


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
        from retrieval.readers.fetch import is_url

        return [p if is_url(p) else Path(p) for p in corpus]  # type: ignore[misc]
    if qset.format == "squad":
        return []
    return [settings.seeds]


def run_eval(qset: QuestionSet, corpus: Sequence[Path], settings: Settings, *,
             embedder: Any = None, answerer: Any = None, progress: bool = True,
             history: bool = True) -> EvalResult:
    """Index the corpus in a temporary folder, answer every question, compute the metrics;
    `history=False` asks conversation turns without their history (to compare)."""
    if not qset.questions:
        detail = f": {qset.problems[0]}" if qset.problems else ""
        raise InputError(f"no valid questions in {qset.path}{detail}")
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as tmp:
        built = build_index(settings, corpus, Path(tmp), articles=qset.articles,
                            embedder=embedder, answerer=answerer, progress=progress)
        try:
            records, skipped = answer_questions(built.bot, qset.questions, qset.path,
                                                progress=progress, history=history)
            config = run_config(built, qset, settings, answerer)
            if any(q.conversation is not None for q in qset.questions):
                config["conversation_history"] = history
        finally:
            built.bot.close()
    metrics = compute_metrics(records, built.texts, index_seconds=built.index_seconds,
                              articles=built.articles, chunks=built.chunks)
    metrics.update(conversation_metrics(records, built.texts))
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
        "top_k": settings.top_k, "store": settings.store, **_store_config(settings),
        "ranked_chunks": RANKED_CHUNKS, "questions_file": str(qset.path),
        "questions_format": qset.format, "corpus": built.corpus,
        "skipped_questions": len(qset.problems), "threads": settings.threads,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _store_config(settings: Settings) -> dict[str, Any]:
    """With Milvus: whose BM25 searched and the index type (never the URI or token)."""
    if settings.store != "milvus":
        return {}
    return {"milvus_bm25": settings.milvus_bm25, "milvus_index": settings.milvus_index}


def _version() -> str:
    """The installed newsbot version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsbot")
    except PackageNotFoundError:
        return "unknown"
