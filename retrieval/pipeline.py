"""The one entry point every front end uses: index articles, answer questions."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.types import Answer, Answerer, abstention, ranked_articles
from retrieval.config import Settings, get_settings
from retrieval.documents import Problem, load_articles
from retrieval.embeddings import Embedder, get_embedder
from retrieval.errors import InputError, NewsbotError
from retrieval.index import ArticleSummary, IndexReport, NewsIndex
from retrieval.search import Hit, Searcher

# Chunks ranked per question, so that Answer.retrieved orders enough articles for recall@5.
RANKED_CHUNKS = 30


@dataclass
class IndexOutcome:
    """An indexing run: what it did and which inputs it skipped."""

    report: IndexReport
    problems: list[Problem]


class Newsbot:
    """Articles in, cited answers out; the index and models load lazily, once."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        index_dir: Path | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir) if index_dir else self.settings.index_dir
        self._embedder = embedder
        self._answerer = answerer
        self._index: NewsIndex | None = None

    @property
    def embedder(self) -> Embedder:
        """The configured embedder, created on first use."""
        if self._embedder is None:
            self._embedder = get_embedder(
                self.settings.embedder, self.settings.threads, self.settings.home / "models"
            )
        return self._embedder

    @property
    def index(self) -> NewsIndex:
        """The index on disk, opened on first use (IndexMissingError if there is none)."""
        if self._index is None:
            self._index = NewsIndex(self.index_dir, self.embedder)
            self._index.check()
        return self._index

    def has_index(self) -> bool:
        """Whether an index exists on disk."""
        return NewsIndex.exists(self.index_dir)

    def index_paths(
        self, paths: Sequence[str | Path], *, rebuild: bool = False, progress: bool = True
    ) -> IndexOutcome:
        """Index the articles under the paths; bad lines and files are skipped and reported."""
        loaded = load_articles(paths)
        if not loaded.articles:
            detail = f": {loaded.problems[0]}" if loaded.problems else ""
            raise InputError(f"no articles could be read from {', '.join(map(str, paths))}{detail}")
        if rebuild:
            return IndexOutcome(self._rebuild(loaded.articles, progress), loaded.problems)
        index = self._writable_index()
        return IndexOutcome(index.add(loaded.articles, progress=progress), loaded.problems)

    def _writable_index(self) -> NewsIndex:
        """The index, created empty when there is none yet."""
        if self._index is None:
            self._index = NewsIndex(
                self.index_dir,
                self.embedder,
                create=True,
                chunk_sentences=self.settings.chunk_sentences,
                chunk_overlap=self.settings.chunk_overlap,
            )
        return self._index

    def _rebuild(self, articles, progress: bool) -> IndexReport:
        """Build a new index beside the old one and swap it in only when complete."""
        fresh_dir = self.index_dir.with_name(self.index_dir.name + ".rebuild")
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh = NewsIndex(
            fresh_dir,
            self.embedder,
            create=True,
            chunk_sentences=self.settings.chunk_sentences,
            chunk_overlap=self.settings.chunk_overlap,
        )
        report = fresh.add(articles, progress=progress)
        fresh.close()
        if self._index is not None:
            self._index.close()
            self._index = None
        old_dir = self.index_dir.with_name(self.index_dir.name + ".old")
        shutil.rmtree(old_dir, ignore_errors=True)
        if self.index_dir.exists():
            self.index_dir.rename(old_dir)
        fresh_dir.rename(self.index_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
        return report

    def ensure_index(self, progress: bool = True) -> IndexOutcome | None:
        """Index the bundled seed articles when there is no index yet."""
        if self.has_index():
            return None
        return self.index_paths([self.settings.seeds], progress=progress)

    def check_question(self, question: str) -> str:
        """The question stripped, or InputError when it is empty or too long."""
        question = question.strip()
        if not question:
            raise InputError("the question is empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InputError(f"the question is {len(question)} characters long; the limit is {limit}")
        return question

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """The chunks most relevant to the question, best first."""
        question = self.check_question(question)
        return Searcher(self.index).search(question, k or self.settings.top_k)

    def answer(self, question: str) -> Answer:
        """Answer the question from the indexed articles, quoting and citing them."""
        question = self.check_question(question)
        vector = self.embedder.embed([question])[0]
        hits = Searcher(self.index).search(question, max(self.settings.top_k, RANKED_CHUNKS), vector=vector)
        if not hits:
            return abstention(question)
        result = self.answerer.answer(question, hits[: self.settings.top_k], vector)
        return replace(result, retrieved=ranked_articles(hits))

    @property
    def answerer(self) -> Answerer:
        """The configured answerer."""
        if self._answerer is None:
            if self.settings.answerer != "extractive":
                raise NewsbotError(
                    f"unknown answerer '{self.settings.answerer}'; the built-in one is 'extractive'"
                )
            self._answerer = ExtractiveAnswerer(self.index)
        return self._answerer

    def sources(self) -> list[ArticleSummary]:
        """The indexed articles."""
        return self.index.articles()

    def close(self) -> None:
        """Release the index."""
        if self._index is not None:
            self._index.close()
            self._index = None


def timed_answer(bot: Newsbot, question: str) -> tuple[Answer, float]:
    """An answer and the milliseconds it took."""
    started = time.perf_counter()
    result = bot.answer(question)
    return result, (time.perf_counter() - started) * 1000
