"""The one entry point every front end uses: index articles, answer questions."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.types import Answer, Answerer, DraftCallback, Turn, abstention, ranked_articles
from retrieval.config import Settings, get_settings
from retrieval.conversation import FollowUpSearch, Found, rewriter_for
from retrieval.documents import Article, Problem, load_articles, lone_surrogate
from retrieval.duplicates import backfill, merged_source, plan_duplicates, with_language
from retrieval.embeddings import Embedder, get_embedder
from retrieval.errors import InputError, NewsbotError
from retrieval.index import ArticleSummary, NewsIndex, SourcePage, SourceQuery
from retrieval.ingest import embedded_batches
from retrieval.search import Hit, Searcher
from retrieval.store.lock import lock_path, write_lock

log = logging.getLogger("newsbot")

# Chunks ranked per question, so that Answer.retrieved orders enough articles for recall@5.
RANKED_CHUNKS = 30


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # duplicates of stored (or earlier) stories, listed as their sources
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    seconds: float = 0.0


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
            self._index = self._open(self.index_dir)
            self._index.check()
        return self._index

    def has_index(self) -> bool:
        """Whether an index exists on disk."""
        return NewsIndex.exists(self.index_dir)

    def index_paths(
        self, paths: Sequence[str | Path], *, rebuild: bool = False, progress: bool = True
    ) -> IndexOutcome:
        """Index the articles under the paths; bad lines and files are skipped and reported."""
        loaded = load_articles(paths, self.settings.max_article_bytes)
        if not loaded.articles:
            detail = f": {loaded.problems[0]}" if loaded.problems else ""
            raise InputError(f"no articles could be read from {', '.join(map(str, paths))}{detail}")
        with self._write_lock():
            if rebuild:
                return IndexOutcome(self._rebuild(loaded.articles, progress), loaded.problems)
            return IndexOutcome(self._add(self._writable_index(), loaded.articles, progress), loaded.problems)

    def _write_lock(self):
        """The index's write lock, telling the user while another writer holds it."""
        return write_lock(
            lock_path(self.index_dir),
            timeout=self.settings.lock_timeout,
            on_wait=lambda m: log.warning("%s", m),
        )

    def _add(self, index: NewsIndex, articles: Sequence[Article], progress: bool) -> IndexReport:
        """Store new and changed articles batch by batch, each batch one transaction; articles
        already stored with the same content (as a story or as a merged duplicate's source) are
        skipped, so a killed run resumes where it was. A changed article stored under its id is
        updated in place; any other new article that repeats a stored or earlier story (same
        canonical URL, same text, or near-same text) is listed as a source of that story instead
        of being stored again (one transaction after the batches)."""
        started = time.perf_counter()
        report = IndexReport()
        todo = {a.id: with_language(a) for a in articles}  # a later duplicate id wins
        stored = index.records.hashes(list(todo))
        sources = index.records.source_rows(list(todo))
        source_hash = {i: row.hash for i, row in sources.items()}
        same = {i for i, a in todo.items() if a.content_hash in (stored.get(i), source_hash.get(i))}
        report.unchanged = len(same)
        changed = [a for i, a in todo.items() if i in stored and i not in same]
        new = [a for i, a in todo.items() if i not in stored and i not in same]
        if new:
            backfill(index.records)
        plan = plan_duplicates(new, index.records)
        report.updated = len(changed) + sum(1 for m in plan.merges if m.article.id in sources)
        report.added = len(plan.fresh)
        report.merged = len(plan.merges)
        self._write_batches(index, changed + plan.fresh, plan.fingerprints, report, progress)
        if plan.merges:
            index.records.add_sources([merged_source(m) for m in plan.merges])
            index.refresh()
        report.seconds = time.perf_counter() - started
        return report

    def _write_batches(
        self,
        index: NewsIndex,
        articles: list[Article],
        fingerprints: dict,
        report: IndexReport,
        progress: bool,
    ) -> None:
        """Chunk, embed and store the articles, a batch (one transaction) at a time."""
        from tqdm import tqdm

        total = len(articles)
        with tqdm(total=total, desc="Indexing", unit="article", disable=not progress, leave=False) as bar:
            for batch in embedded_batches(
                articles,
                index.embedder,
                index.chunk_sentences,
                index.chunk_overlap,
                self.settings.index_batch_chars,
                fingerprints,
            ):
                index.write(batch)
                report.chunks_embedded += len(batch.chunks)
                report.sentences_embedded += len(batch.sentences)
                bar.update(len(batch.articles))

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles by id; returns the ids that were indexed (and are now gone)."""
        with self._write_lock():
            index = self.index
            known = index.records.known_ids(list(article_ids))
            if known:
                index.remove(known)
            return known

    def source_ids_from(self, site: str) -> list[str]:
        """The ids of every article and merged duplicate from a site: what `remove --source` takes
        away (a story also listed from another site is kept under that source)."""
        self.index.refresh()
        return self.index.records.source_ids_from(site)

    def check(self) -> list[str]:
        """Problems with the index on disk (empty when sound)."""
        return self.index.problems()

    def repair(self, progress=lambda _: None) -> list[str]:
        """Rebuild the derived parts of the index from its store; re-embed damaged vectors."""
        with self._write_lock():
            return self.index.repair(progress)

    def _writable_index(self) -> NewsIndex:
        """The index, created empty when there is none yet."""
        if self._index is None:
            self._index = self._open(self.index_dir, create=True)
        return self._index

    def _open(self, directory: Path, *, create: bool = False) -> NewsIndex:
        """An index folder opened with the configured embedder and chunking."""
        return NewsIndex(
            directory,
            self.embedder,
            create=create,
            chunk_sentences=self.settings.chunk_sentences,
            chunk_overlap=self.settings.chunk_overlap,
            exact_max=self.settings.exact_max_vectors,
        )

    def _rebuild(self, articles: Sequence[Article], progress: bool) -> IndexReport:
        """Build a new index beside the old one and swap it in only when complete."""
        fresh_dir = self.index_dir.with_name(self.index_dir.name + ".rebuild")
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh = self._open(fresh_dir, create=True)
        report = self._add(fresh, articles, progress)
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
        """The question stripped, or InputError when it is empty, too long or not text: bytes
        that are not UTF-8 (from a terminal set to another encoding) arrive as lone surrogates."""
        question = question.strip()
        if not question:
            raise InputError("the question is empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InputError(f"the question is {len(question)} characters long; the limit is {limit}")
        bad = lone_surrogate(question)
        if bad is not None:
            raise InputError(
                f"the question holds bytes that are not UTF-8 text (at character {bad + 1}); "
                "is the terminal set to UTF-8?"
            )
        return question

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """The chunks most relevant to the question, best first."""
        question = self.check_question(question)
        with self.index.reading():
            return Searcher(self.index).search(question, k or self.settings.top_k)

    def answer(
        self, question: str, history: Sequence[Turn] = (), on_draft: DraftCallback | None = None
    ) -> Answer:
        """Answer the question from the indexed articles, quoting and citing them; `history` is
        the conversation so far (oldest first), `on_draft` sees a streaming answerer's draft."""
        question = self.check_question(question)
        index = self.index
        with index.reading():
            found = self._retrieve(question, history)
            if not found.hits:
                return abstention(question)
            result = self.answerer.answer(
                question, found.evidence, found.vector, history=history, on_draft=on_draft
            )
        return replace(result, retrieved=ranked_articles(found.hits))

    def _retrieve(self, question: str, history: Sequence[Turn]) -> Found:
        """The ranked chunks for the question, the chunks handed to the answerer, and the vector
        they were searched with: a question without history is searched as it is, a follow-up
        as `FollowUpSearch` resolves it."""
        searcher, k = Searcher(self.index), max(self.settings.top_k, RANKED_CHUNKS)
        if not history:
            vector = self.embedder.embed([question])[0]
            hits = searcher.search(question, k, vector=vector)
            return Found(hits, hits[: self.settings.top_k], vector)
        follow_up = FollowUpSearch(self.index, searcher, self.embedder, rewriter_for(self.answerer))
        return follow_up.search(question, history, k, self.settings.top_k)

    @property
    def answerer(self) -> Answerer:
        """The configured answerer: the LLM one when NEWSBOT_LLM names a chat model."""
        if self._answerer is None and self.settings.llm:
            from retrieval.answering.llm import llm_answerer

            self._answerer = llm_answerer(self.index, self.settings)
        if self._answerer is None:
            if self.settings.answerer != "extractive":
                raise NewsbotError(
                    f"unknown answerer '{self.settings.answerer}'; the built-in one is 'extractive'"
                )
            self._answerer = ExtractiveAnswerer(self.index)
        return self._answerer

    def sources(self) -> list[ArticleSummary]:
        """The indexed articles."""
        self.index.refresh()
        return self.index.articles()

    def source_page(self, query: SourceQuery) -> SourcePage:
        """The indexed articles a query selects (filtered, sorted, one page) and how many match."""
        self.index.refresh()
        return self.index.source_page(query)

    def article(self, article_id: str) -> Article:
        """One indexed article; InputError when no article has that id."""
        self.index.refresh()
        try:
            return self.index.article(article_id)
        except KeyError:
            raise InputError(f"no article '{article_id}' in the index (see 'newsbot sources')") from None

    def close(self) -> None:
        """Release the index."""
        if self._index is not None:
            self._index.close()
            self._index = None


def timed_answer(bot: Newsbot, question: str, history: Sequence[Turn] = ()) -> tuple[Answer, float]:
    """An answer (given the conversation so far) and the milliseconds it took."""
    started = time.perf_counter()
    result = bot.answer(question, history) if history else bot.answer(question)
    return result, (time.perf_counter() - started) * 1000
