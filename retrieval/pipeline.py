"""The one entry point every front end uses: index articles, answer questions."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.answering.dated import with_date_remarks, with_time_note
from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.types import Answer, Answerer, DraftCallback, Turn, abstention, ranked_articles
from retrieval.config import Settings, get_settings
from retrieval.conversation import FollowUpSearch, Found, rewriter_for
from retrieval.documents import Article, Problem, load_articles, lone_surrogate
from retrieval.duplicates import backfill, merged_source, plan_duplicates, with_language
from retrieval.embeddings import Embedder, get_embedder
from retrieval.errors import IndexMissingError, InputError, NewsbotError
from retrieval.index import VECTORS_DIR, ArticleSummary, NewsIndex, SourcePage, SourceQuery
from retrieval.ingest import embedded_batches
from retrieval.search import Hit, Searcher
from retrieval.store.lock import lock_path, write_lock
from retrieval.timeframe import TimeFrame, parse_time
from retrieval.timesearch import (
    Dated,
    article_dates,
    dated_search,
    follow_up_in_time,
    newest_relevant,
    reference_day,
)

if TYPE_CHECKING:
    import httpx

    from retrieval.feedlist import FeedList
    from retrieval.readers.fetch import Fetcher
    from retrieval.updating import FeedReport

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._transport = transport  # web requests' httpx transport (None: the network)
        self.index_dir = Path(index_dir) if index_dir else self.settings.index_dir
        self._embedder = embedder
        self._answerer = answerer
        self._index: NewsIndex | None = None
        self._reference: tuple[int, dt.date] | None = None  # (store commit, newest article's date)

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
            # with a Milvus archive, an empty data dir becomes a replica of it
            replica = not NewsIndex.exists(self.index_dir) and self._milvus() is not None
            self._index = self._open(self.index_dir, create=replica)
            self._index.check()
        return self._index

    def has_index(self) -> bool:
        """Whether an index exists on disk, or a Milvus archive to replicate holds one."""
        if NewsIndex.exists(self.index_dir):
            return True
        target = self._milvus()
        if target is None:
            return False
        from retrieval.store.replica import archive_exists

        return archive_exists(target)

    def _milvus(self):  # -> MilvusTarget | None
        """The configured Milvus archive (None with the local store)."""
        return self.settings.milvus_target(self.index_dir)

    def index_paths(
        self, paths: Sequence[str | Path], *, rebuild: bool = False, progress: bool = True
    ) -> IndexOutcome:
        """Index the articles under the paths; bad lines and files are skipped and reported."""
        with self.fetcher() as fetcher:
            loaded = load_articles(paths, self.settings.max_article_bytes, fetcher)
        if not loaded.articles:
            detail = f": {loaded.problems[0]}" if loaded.problems else ""
            raise InputError(f"no articles could be read from {', '.join(map(str, paths))}{detail}")
        with self._write_lock():
            if rebuild:
                return IndexOutcome(self._rebuild(loaded.articles, progress), loaded.problems)
            index = self._writable_index()
            with index.writing():
                return IndexOutcome(self._add(index, loaded.articles, progress), loaded.problems)

    def index_articles(self, articles: Sequence[Article], progress: bool = False) -> IndexReport:
        """Store articles already read (new and changed ones; unchanged ones are skipped)."""
        with self._write_lock():
            index = self._writable_index()
            with index.writing():
                return self._add(index, articles, progress)

    def fetcher(self) -> Fetcher:
        """A web fetcher within the NEWSBOT_FETCH_* bounds (close it, or use it in `with`)."""
        from retrieval.readers.fetch import Fetcher

        return Fetcher(self.settings.fetch_options(), transport=self._transport)

    @property
    def feeds_path(self) -> Path:
        """The registered feeds' file, beside the index folder (so --rebuild keeps it)."""
        return self.index_dir.with_name(self.index_dir.name + "-feeds.sqlite")

    def feed_list(self) -> FeedList:
        """The registered feeds (close the list after use)."""
        from retrieval.feedlist import FeedList

        return FeedList(self.feeds_path)

    def update(self, index: Callable[[Sequence[Article]], object] | None = None) -> list[FeedReport]:
        """Fetch every registered feed and index its new and changed entries; one report per feed.
        `index` stores a feed's articles (default `index_articles`; the bot runs it on the thread
        that owns the index while fetching elsewhere)."""
        from retrieval.updating import update_feeds

        with self.feed_list() as feeds, self.fetcher() as fetcher:
            return update_feeds(feeds, fetcher, index or self.index_articles)

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
            with index.writing():
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

    def migrate(self, to: str, *, drop: bool = False) -> list[str]:
        """Fill the vector store `to` ("milvus" or "local") from the record store (nothing is embedded
        again). To Milvus the article records go too, so the archive is complete; with `drop` the
        Milvus collections are dropped first (the archive is built again from this store). To local,
        a data dir that is empty or a replica is first caught up from the archive; with `drop`, the
        Milvus collections are dropped afterwards. Lines to report; NEWSBOT_STORE then chooses which
        store answers."""
        if not self.has_index():
            raise IndexMissingError(f"no index in {self.index_dir} to migrate; index articles first")
        self.close()
        milvus = self.settings.model_copy(update={"store": "milvus"}).milvus_target(self.index_dir)
        done: list[str] = []
        with self._write_lock():
            replace = to == "milvus" and drop and milvus is not None
            if to == "local" and milvus is not None:
                done += self._pull_archive()
            settings = self.settings.model_copy(update={"store": to})
            index = self._open_with(settings, self.index_dir, replace_archive=replace)  # under its lease
            if replace:
                done.append(_dropped(milvus))
            store_id, dim = index.records.store_id, index.records.dim
            try:
                with index.writing():
                    for kind, vectors in index.vectors.items():
                        vectors.refresh()
                        vectors.save(force=True)
                        done.append(f"{kind} vectors in the {to} store: {len(vectors)}")
                    if index.archive is not None:
                        done.append(f"article records in the milvus store: {index.counts()[0]}")
                    if index.milvus_terms is not None:
                        index.milvus_terms.push()
                        done.append(f"chunk terms for Milvus' BM25: {len(index.milvus_terms)}")
            finally:
                index.close()
            if to == "local" and drop and milvus is not None:
                done.append(self._drop_archive(milvus, store_id, dim))
        return done

    def _drop_archive(self, milvus, store_id: str, dim: int) -> str:
        """Drop the Milvus collections (whatever they hold) under the archive's writer lease (not
        while another newsbot writes to it); the line to report."""
        from retrieval.store.milvus import MilvusStore
        from retrieval.store.replica import Lease

        store = MilvusStore(milvus, embedder=self.embedder.name, dim=dim, store_id=store_id, check=False)
        try:
            lease = Lease(store, store_id)
            lease.take()
            try:
                store.drop_all()
            except BaseException:
                with contextlib.suppress(Exception):
                    lease.release()
                raise
            lease.held = 0  # the lease row went with the meta collection
        finally:
            store.close()
        return _dropped(milvus)

    def _pull_archive(self) -> list[str]:
        """Catch an empty or replica data dir up from the Milvus archive (a store with articles of its
        own that follows no archive keeps them: it is the truth)."""
        from retrieval.store.replica import ArchiveMismatchError, archive_exists

        settings = self.settings.model_copy(update={"store": "milvus"})
        target = settings.milvus_target(self.index_dir)
        if target is None or not archive_exists(target):
            return []
        try:
            index = self._open_with(settings, self.index_dir, create=True)
        except ArchiveMismatchError:
            return []
        try:
            articles = index.counts()[0]
        finally:
            index.close()
        return [f"caught up from the Milvus archive '{target.prefix}_*': {articles} articles"]

    def repair(self, progress=lambda _: None) -> list[str]:
        """Rebuild the derived parts of the index from its store; re-embed damaged vectors."""
        with self._write_lock(), self.index.writing():
            return self.index.repair(progress)

    def _writable_index(self) -> NewsIndex:
        """The index, created empty when there is none yet."""
        if self._index is None:
            self._index = self._open(self.index_dir, create=True)
        return self._index

    def _open(self, directory: Path, *, create: bool = False) -> NewsIndex:
        """An index folder opened with the configured embedder, chunking and vector store."""
        return self._open_with(self.settings, directory, create=create)

    def _open_with(
        self, settings: Settings, directory: Path, *, create: bool = False, replace_archive: bool = False
    ) -> NewsIndex:
        """An index folder opened with the embedder, chunking and vector store of `settings`."""
        return NewsIndex(
            directory,
            self.embedder,
            create=create,
            chunk_sentences=settings.chunk_sentences,
            chunk_overlap=settings.chunk_overlap,
            exact_max=settings.exact_max_vectors,
            milvus=settings.milvus_target(directory),
            replace_archive=replace_archive,
        )

    def _rebuild(self, articles: Sequence[Article], progress: bool) -> IndexReport:
        """Build a new index beside the old one and swap it in only when complete. With Milvus it is
        built in the local store alone, then pushed: the shared archive is replaced only for the push
        (not during the embedding)."""
        fresh_dir = self.index_dir.with_name(self.index_dir.name + ".rebuild")
        shutil.rmtree(fresh_dir, ignore_errors=True)
        fresh = self._open_with(self.settings.model_copy(update={"store": "local"}), fresh_dir, create=True)
        try:
            with fresh.writing():
                report = self._add(fresh, articles, progress)
            store_id, dim = fresh.records.store_id, fresh.records.dim
        finally:
            fresh.close()
        target = self.settings.milvus_target(self.index_dir)
        if target is not None:
            try:
                self._check_archive_free(target, store_id, dim)  # before the swap: the old dir stays
            except BaseException:
                shutil.rmtree(fresh_dir, ignore_errors=True)
                raise
        if self._index is not None:
            self._index.close()
            self._index = None
        old_dir = self.index_dir.with_name(self.index_dir.name + ".old")
        shutil.rmtree(old_dir, ignore_errors=True)
        if self.index_dir.exists():
            self.index_dir.rename(old_dir)
        fresh_dir.rename(self.index_dir)
        if target is not None:
            shutil.rmtree(self.index_dir / VECTORS_DIR, ignore_errors=True)  # Milvus holds the vectors
            try:
                index = self._open_with(self.settings, self.index_dir, replace_archive=True)
                try:
                    with index.writing():
                        pass  # the archive was pushed on opening; the derived collections catch up
                finally:
                    index.close()
            except BaseException:
                if not self._follows_own_archive(store_id):  # not replaced: the old dir comes back
                    self.index_dir.rename(fresh_dir)
                    if old_dir.exists():
                        old_dir.rename(self.index_dir)
                raise
        shutil.rmtree(old_dir, ignore_errors=True)
        return report

    def _check_archive_free(self, target, store_id: str, dim: int) -> None:
        """ArchiveBusyError (or MilvusUnavailableError) when the store `store_id` could not replace
        the archive now: another newsbot's lease is live. An archive in a milvus-lite file inside the
        data dir is the data dir's own (a new file comes with the new store)."""
        from retrieval.store.milvus import MilvusStore
        from retrieval.store.replica import Lease

        if target.is_lite and (
            not Path(target.uri).exists()
            or Path(target.uri).resolve().is_relative_to(self.index_dir.resolve())
        ):
            return
        store = MilvusStore(target, embedder=self.embedder.name, dim=dim, store_id=store_id, check=False)
        try:
            Lease(store, store_id).check(replace=True)
        finally:
            store.close()

    def _follows_own_archive(self, store_id: str) -> bool:
        """Whether the data dir's store (`store_id`) already replaced the archive (it follows an
        archive of its own: the next write finishes a push left unfinished)."""
        from retrieval.store.records import RecordStore

        try:
            records = RecordStore(self.index_dir)
        except Exception:
            return False
        try:
            return records.store_id == store_id and records.archive_state()[0] == store_id
        finally:
            records.close()

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
            ref = self._reference_day(index)
            frame = parse_time(question, ref)
            if frame is not None:
                return self._answer_in_time(question, frame, ref, history, on_draft)
            found = self._retrieve(question, history)
            if not found.hits:
                return abstention(question)
            drafts = _Drafts(on_draft)
            result = self.answerer.answer(
                question, found.evidence, found.vector, history=history, on_draft=drafts.callback
            )
            result = _dated(result, ref, drafts)
        return replace(result, retrieved=ranked_articles(found.hits))

    def _reference_day(self, index: NewsIndex) -> dt.date:
        """The day times in questions are resolved against: --as-of, else the newest article's
        date (looked up again only when the store changed)."""
        if self.settings.as_of:
            return reference_day(index, self.settings.as_of)
        commit = index.records.commit()
        if self._reference is None or self._reference[0] != commit:
            self._reference = (commit, reference_day(index))
        return self._reference[1]

    def _answer_in_time(
        self,
        question: str,
        frame: TimeFrame,
        ref: dt.date,
        history: Sequence[Turn],
        on_draft: DraftCallback | None,
    ) -> Answer:
        """A time-bound question: searched within its range (or newest first for "latest"),
        answered, then given its date remarks and a note when the dates could not be held to."""
        dated, vector = self._retrieve_in_time(question, frame, history)
        if not dated.hits:
            return abstention(question)
        top_k, drafts = self.settings.top_k, _Drafts(on_draft)
        result = None
        newest = newest_relevant(dated.hits, dated.dates) if frame.latest else None
        if newest is not None:  # the newest relevant article first, the usual evidence if it is silent
            own = [h for h in dated.hits if h.chunk.article_id == newest][:top_k]
            result = self.answerer.answer(question, own, vector, history=history, on_draft=drafts.callback)
        if result is None or result.abstained:
            evidence, draft = dated.evidence, drafts.callback
            result = self.answerer.answer(question, evidence, vector, history=history, on_draft=draft)
        looked_at = ranked_articles(dated.evidence)
        result = with_time_note(result, frame, dated.dates, looked_at, dated.in_range)
        result = _dated(result, ref, drafts, frame)
        return replace(result, retrieved=ranked_articles(dated.hits))

    def _retrieve_in_time(
        self, question: str, frame: TimeFrame, history: Sequence[Turn]
    ) -> tuple[Dated, np.ndarray]:
        """The ranked chunks of a time-bound question with their articles' dates; a follow-up
        is searched as usual and its hits then narrowed (when any lies in range) or re-ordered."""
        k, top_k = max(self.settings.top_k, RANKED_CHUNKS), self.settings.top_k
        if not history:
            vector = self.embedder.embed([question])[0]
            return dated_search(self.index, question, vector, k, top_k, frame), vector
        found = self._retrieve(question, history)
        dates = article_dates(self.index, found.hits + found.evidence)
        return follow_up_in_time(found.hits, found.evidence, dates, frame, top_k), found.vector

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


class _Drafts:
    """Passes an answerer's drafts on and remembers whether it streamed any."""

    def __init__(self, on_draft: DraftCallback | None) -> None:
        self.on_draft = on_draft
        self.streamed = False

    @property
    def callback(self) -> DraftCallback | None:
        """The callback to hand the answerer (None when nobody listens)."""
        return self._seen if self.on_draft is not None else None

    def _seen(self, draft: str) -> None:
        self.streamed = True
        if self.on_draft is not None:
            self.on_draft(draft)


def _dated(answer: Answer, ref: dt.date, drafts: _Drafts, frame: TimeFrame | None = None) -> Answer:
    """The answer with the dates of the older articles it quotes (answering/dated.py); a streamed
    answer stays as the reader saw it drafted (its sources list shows the dates)."""
    return answer if drafts.streamed else with_date_remarks(answer, ref, frame)


def timed_answer(bot: Newsbot, question: str, history: Sequence[Turn] = ()) -> tuple[Answer, float]:
    """An answer (given the conversation so far) and the milliseconds it took."""
    started = time.perf_counter()
    result = bot.answer(question, history) if history else bot.answer(question)
    return result, (time.perf_counter() - started) * 1000


def _dropped(milvus) -> str:
    """The line reporting that the Milvus collections were dropped (and built again)."""
    from retrieval.store.milvus_conn import safe_uri

    return f"dropped the Milvus collections '{milvus.prefix}_*' at {safe_uri(milvus.uri)}"
