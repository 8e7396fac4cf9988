"""The index a question is answered from: the record store (truth) with its derived vector
indexes and the lexical index, behind the read API that search and answering use."""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from retrieval.documents import Article
from retrieval.embeddings import Embedder
from retrieval.errors import EmbedderMismatchError, IndexCorruptError
from retrieval.store.lexical import LexicalStore
from retrieval.store.migrate import embed_stored, rebuild_lexical
from retrieval.store.records import (
    DB_NAME,
    KINDS,
    SCHEMA_VERSION,
    ArticleSummary,
    Batch,
    ChunkRecord,
    RecordStore,
    SentenceRecord,
    SourcePage,
    SourceQuery,
    Written,
)
from retrieval.store.vectors import FaissVectors, VectorIndex

if TYPE_CHECKING:
    from retrieval.store.milvus import MilvusStore, MilvusTarget
    from retrieval.store.milvus_terms import MilvusTerms
    from retrieval.store.replica import ArchiveSync

__all__ = [
    "ArticleSummary",
    "ChunkRecord",
    "NewsIndex",
    "SentenceRecord",
    "SentenceTerms",
    "SourcePage",
    "SourceQuery",
]

log = logging.getLogger("newsbot.store")
VECTORS_DIR = "vectors"
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A bounded cache: the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[_K, _V] = OrderedDict()

    def get_many(self, keys: Sequence[_K], load: Callable[[list[_K]], dict[_K, _V]]) -> dict[_K, _V]:
        """Cached values of the keys, loading the missing ones (unknown keys are left out)."""
        missing = [k for k in dict.fromkeys(keys) if k not in self.items]
        if missing:
            for key, value in load(missing).items():
                self.items[key] = value
        out = {}
        for key in keys:
            if key in self.items:
                self.items.move_to_end(key)
                out[key] = self.items[key]
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return out

    def clear(self) -> None:
        """Forget everything."""
        self.items.clear()


@dataclass(frozen=True)
class SentenceTerms:
    """A sentence's lexical fingerprint: stemmed terms (both languages) and cognate keys."""

    terms: frozenset[str]
    cognates: frozenset[str]


class NewsIndex:
    """Articles, chunks and sentences (the record store) with vector and lexical indexes."""

    def __init__(
        self,
        directory: Path,
        embedder: Embedder,
        *,
        create: bool = False,
        chunk_sentences: int = 3,
        chunk_overlap: int = 1,
        exact_max: int = 200_000,
        milvus: MilvusTarget | None = None,
        replace_archive: bool = False,
    ) -> None:
        """`replace_archive`: with Milvus, drop the archive and build it again from this store
        (`index --rebuild`, `migrate --to milvus --drop`) instead of following it."""
        self.directory = Path(directory)
        self.embedder = embedder
        self.records = RecordStore(self.directory, create=create)
        with self.guard():
            self._open(chunk_sentences, chunk_overlap)
            self.lexical = LexicalStore(self.records.db, committed_only=self.records.in_read_snapshot)
            self.lexical.refresh()
        self.milvus: MilvusStore | None = None
        self.milvus_terms: MilvusTerms | None = None
        self.archive: ArchiveSync | None = None
        try:
            self.vectors = self._vector_indexes(milvus, exact_max, replace_archive)
        except BaseException:
            self.records.close()  # a refused or unreachable archive
            raise
        self._seen = self.records.commit()
        self._texts: _Lru[str, str] = _Lru(256)
        self._chunks: _Lru[int, ChunkRecord] = _Lru(20_000)
        self._sentences: _Lru[int, SentenceRecord] = _Lru(50_000)
        self._terms: _Lru[int, SentenceTerms] = _Lru(50_000)
        self._sentence_vectors: _Lru[int, np.ndarray] = _Lru(50_000)
        self._chunk_vectors: _Lru[int, np.ndarray] = _Lru(20_000)
        self._article_chunks: _Lru[str, list[int]] = _Lru(5_000)
        self._article_means: _Lru[str, tuple[np.ndarray, float]] = _Lru(5_000)

    def _vector_indexes(
        self, milvus: MilvusTarget | None, exact_max: int, replace_archive: bool = False
    ) -> dict[str, VectorIndex]:
        """The chunk and sentence vector indexes: FAISS files beside the store, or Milvus collections."""
        if milvus is None:
            folder = self.directory / VECTORS_DIR
            return {
                kind: FaissVectors(folder, kind, self.records.dim, self.records, exact_max=exact_max)
                for kind in KINDS
            }
        from retrieval.store.milvus import MilvusStore, MilvusVectors

        self.milvus = MilvusStore(
            milvus,
            embedder=self.embedder.name,
            dim=self.records.dim,
            store_id=self.records.store_id,
            check=not replace_archive,  # replaced under its lease, whatever schema or embedder it has
        )
        try:
            self._follow_archive(self.milvus, replace_archive)
        except BaseException:
            self.milvus.close()
            raise
        if milvus.bm25:
            from retrieval.store.milvus_terms import MilvusTerms

            self.milvus_terms = MilvusTerms(self.milvus, self.records)
        return {
            kind: MilvusVectors(self.milvus, kind, self.records, archive=self.archive)
            for kind in KINDS
        }

    def _follow_archive(self, store: MilvusStore, replace: bool) -> None:
        """Attach the record store to the Milvus archive (a replica, its creator, or refused) and
        catch up with it (store/replica.py)."""
        from retrieval.store.replica import ArchiveSync

        self.archive = ArchiveSync(store, self.records, on_pull=self._pulled)
        if replace:
            self.archive.replace()
        chunking = self.archive.attach()
        self.chunk_sentences = int(chunking["chunk_sentences"])
        self.chunk_overlap = int(chunking["chunk_overlap"])
        self.archive.catch_up(push=False)  # commits not yet pushed wait for the next writing()

    def _pulled(self, db: sqlite3.Connection, chunk_ids: list[int], removed: list[int]) -> None:
        """The lexical index follows articles pulled from the archive (inside their transaction)."""
        from retrieval.ingest import chunk_terms

        self.lexical.remove(removed)
        texts = self.records.chunk_texts_of(chunk_ids)
        self.lexical.add([(cid, chunk_terms(text, lang)) for cid, text, lang in texts])

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write's block (the caller holds the local write lock): with a Milvus archive, its
        writer lease is held, the store caught up before and pushed after (Milvus' BM25 terms
        first, then the records that publish the commit)."""
        if self.archive is None:
            yield
            return
        with self.archive.writing():
            yield
            if self.milvus_terms is not None:
                self.milvus_terms.push()

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether an index has been created in the folder."""
        return (Path(directory) / DB_NAME).exists()

    # ---------- opening ----------
    def _open(self, chunk_sentences: int, chunk_overlap: int) -> None:
        """Initialise a new store, migrate an old one, or check the one there."""
        store = self.records
        if store.is_new:
            store.initialise(
                {
                    "embedder": self.embedder.name,
                    "dim": str(self.embedder.dim),
                    "chunk_sentences": str(chunk_sentences),
                    "chunk_overlap": str(chunk_overlap),
                }
            )
        elif store.schema == "2":
            from retrieval.store.migrate import migrate_v2

            migrate_v2(store, self.embedder)
        elif store.schema != SCHEMA_VERSION:
            raise IndexCorruptError(
                f"{self.directory}: the index has format {store.schema or 'unknown'}, this newsbot reads "
                f"{SCHEMA_VERSION}; rebuild it with 'newsbot index --rebuild PATH'"
            )
        meta = store.meta
        if meta.get("embedder") != self.embedder.name or int(meta.get("dim", -1)) != self.embedder.dim:
            raise EmbedderMismatchError(
                f"the index in {self.directory} was built with embedder '{meta.get('embedder')}' "
                f"(dim {meta.get('dim')}), not '{self.embedder.name}'; use that embedder "
                "(NEWSBOT_EMBEDDER or --embedder) or rebuild with 'newsbot index --rebuild PATH'"
            )
        self.chunk_sentences = int(meta["chunk_sentences"])
        self.chunk_overlap = int(meta["chunk_overlap"])

    # ---------- staying current ----------
    def refresh(self) -> bool:
        """Catch up with commits made since the last look (by this or another process); cheap when
        nothing changed. Returns whether anything had."""
        if self.archive is not None:
            self.archive.catch_up()  # pushes only inside this thread's writing() (under the write lock)
            if self.milvus_terms is not None:  # which commit Milvus' terms hold, from the same meta read
                self.milvus_terms.observe(self.archive.meta, self.archive.current)
        commit = self.records.commit()
        if commit == self._seen:
            return False
        for vectors in self.vectors.values():
            vectors.refresh()
        self.lexical.refresh()
        for cache in self._caches():
            cache.clear()
        self._seen = commit
        return True

    def _caches(self) -> list[_Lru]:
        """Every cache of what was read from the store (all cleared when it changes)."""
        return [
            self._texts,
            self._chunks,
            self._sentences,
            self._terms,
            self._sentence_vectors,
            self._chunk_vectors,
            self._article_chunks,
            self._article_means,
        ]

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Answer one question from one consistent state of the store."""
        with self.guard():
            self.refresh()
            if self.archive is not None:
                self.archive.check_current()  # not while another newsbot replaces the archive
            with self.records.reading():
                yield

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's errors about a damaged file into one clear message."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise self.records.damaged(exc) from exc

    # ---------- reading ----------
    def article(self, article_id: str) -> Article:
        """One article by id."""
        return self.records.article(article_id)

    def article_text(self, article_id: str) -> str:
        """An article's text, cached."""
        found = self._texts.get_many([article_id], lambda ids: {i: self.records.article_text(i) for i in ids})
        if article_id not in found:
            raise KeyError(article_id)
        return found[article_id]

    def articles(self) -> list[ArticleSummary]:
        """All indexed articles with their chunk counts, by date (undated last) then id."""
        return self.records.articles()

    def source_page(self, query: SourceQuery) -> SourcePage:
        """The indexed articles a query selects (one page of them) and how many match."""
        return self.records.source_page(query)

    def counts(self) -> tuple[int, int]:
        """Number of articles and chunks."""
        return self.records.counts()

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id (unknown ids are left out)."""
        return self._chunks.get_many([int(i) for i in ids], self.records.chunks)

    def sentences(self, ids: Sequence[int]) -> dict[int, SentenceRecord]:
        """Sentences by id (unknown ids are left out)."""
        return self._sentences.get_many([int(i) for i in ids], self.records.sentences)

    def sentence_terms(self, ids: Sequence[int]) -> dict[int, SentenceTerms]:
        """Each sentence's stemmed terms and cognate keys (computed at indexing)."""

        def load(missing: list[int]) -> dict[int, SentenceTerms]:
            rows = self.records.sentence_terms(missing)
            return {
                i: SentenceTerms(frozenset(t.split()), frozenset(c.split())) for i, (t, c) in rows.items()
            }

        return self._terms.get_many([int(i) for i in ids], load)

    def chunk_ids_of(self, article_ids: Sequence[str]) -> dict[str, list[int]]:
        """The chunk ids of each given article, ascending."""
        found = self._article_chunks.get_many(list(article_ids), self.records.chunk_ids_of)
        return {a: list(found.get(a, ())) for a in article_ids}

    def sentence_owners(self, sentence_ids: Sequence[int]) -> dict[int, list[int]]:
        """For each sentence id, the chunks that contain it (ascending ids)."""
        return self.records.sentence_owners(sentence_ids)

    def article_mean_vectors(self, article_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, float]]:
        """The mean chunk vector and its norm of each given article, cached (loaded together)."""

        def load(ids: list[str]) -> dict[str, tuple[np.ndarray, float]]:
            chunk_ids = self.chunk_ids_of(ids)
            flat = [c for a in ids for c in chunk_ids[a]]
            vectors = dict(zip(flat, self.chunk_vectors_of(flat), strict=True))
            out = {}
            for a in ids:
                rows = [vectors[c] for c in chunk_ids[a]]
                mean = np.mean(rows, axis=0) if rows else np.zeros(self.embedder.dim, dtype=np.float32)
                out[a] = (mean, float(np.linalg.norm(mean)))
            return out

        return self._article_means.get_many(list(article_ids), load)

    def sentence_vectors_of(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of the given sentences."""
        return self._vectors_of("sentence", self._sentence_vectors, ids)

    def chunk_vectors_of(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of the given chunks."""
        return self._vectors_of("chunk", self._chunk_vectors, ids)

    def _vectors_of(self, kind: str, cache: _Lru[int, np.ndarray], ids: Sequence[int]) -> np.ndarray:
        """Stored vectors by id: from the exact vector index's memory when it holds them all,
        else from the store (cached)."""
        wanted = [int(i) for i in ids]
        if not wanted:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        in_memory = self.vectors[kind].stored_vectors(wanted)
        if in_memory is not None:
            return in_memory

        def load(missing: list[int]) -> dict[int, np.ndarray]:
            return dict(zip(missing, self.records.vectors_of(kind, missing), strict=True))

        found = cache.get_many(wanted, load)
        return np.vstack([found[i] for i in wanted])

    # ---------- searching ----------
    def search_chunks(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Nearest chunks by inner product: (chunk id, score) best first."""
        return self.vectors["chunk"].search(vector, k)

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Nearest sentences by inner product: (sentence id, score) best first."""
        return self.vectors["sentence"].search(vector, k)

    def search_terms(self, query_terms: list[str], k: int) -> list[tuple[int, float]]:
        """BM25 over chunks: (chunk id, score) best first, zero scores dropped."""
        if not query_terms:
            return []
        if self.milvus_terms is not None and self.milvus_terms.usable():
            return self.milvus_terms.search(query_terms, k)
        return self.lexical.search(query_terms, k)  # the same ranking, while Milvus' terms lag

    def vocabulary_share(self, query_terms: list[str]) -> float:
        """Share of the query's terms that occur in the indexed chunks."""
        return self.lexical.vocabulary_share(query_terms) if query_terms else 0.0

    # ---------- writing (the caller holds the write lock) ----------
    def write(self, batch: Batch) -> Written:
        """Store a batch (replacing articles with the same ids) in one transaction, then bring the
        derived vector indexes up to date."""
        docs = [list(c.terms) for c in batch.chunks]

        def lexical(db: sqlite3.Connection, chunk_ids: list[int], removed: list[int]) -> None:
            self.lexical.remove(removed)
            self.lexical.add(list(zip(chunk_ids, docs, strict=True)))

        with self.guard():
            written = self.records.write(batch, on_write=lexical)
            self._after_write()
        return written

    def remove(self, article_ids: Sequence[str]) -> Written:
        """Remove articles (unknown ids are ignored) in one transaction."""
        with self.guard():
            written = self.records.remove(
                article_ids, on_write=lambda db, _, removed: self.lexical.remove(removed)
            )
            self._after_write()
        return written

    def _after_write(self) -> None:
        """Catch the derived indexes up and write their snapshots when they lag enough."""
        self.refresh()
        for vectors in self.vectors.values():
            vectors.save()

    def save(self, force: bool = True) -> None:
        """Write the derived indexes' snapshots (now, or only where they lag enough)."""
        for vectors in self.vectors.values():
            vectors.save(force=force)

    # ---------- checking and repairing ----------
    def problems(self) -> list[str]:
        """Everything `newsbot check` finds wrong; empty when the index is sound."""
        try:
            damage = self.records.integrity()
            if damage:
                return damage  # the derived indexes cannot be checked against a damaged file
            found = self.records.problems()
        except sqlite3.DatabaseError as exc:
            return [str(self.records.damaged(exc))]
        found += self.lexical.check()
        for vectors in self.vectors.values():
            found += vectors.check()
        if self.milvus_terms is not None:
            found += self.milvus_terms.check(self.records.counts()[1])
        return found

    def check(self) -> None:
        """Fail fast when the store itself cannot be read (derived parts repair themselves)."""
        with self.guard():
            self.records.counts()

    def repair(self, progress: Callable[[str], None] = lambda _: None) -> list[str]:
        """Re-embed damaged stored vectors from the stored text, rebuild the derived indexes."""
        done = []
        for kind in KINDS:
            bad = self.records.bad_vectors(kind)
            if bad:
                progress(f"re-embedding {len(bad)} damaged {kind} vectors")
                self.records.replace_vectors(kind, bad, embed_stored(self.records, kind, bad, self.embedder))
                done.append(f"re-embedded {len(bad)} {kind} vectors")
        progress("rebuilding the lexical index")
        with self.records.transaction():
            rebuild_lexical(self.records, self.lexical)
        done.append("rebuilt the lexical index")
        for kind, vectors in self.vectors.items():
            progress(f"rebuilding the {kind} vectors")
            vectors.rebuild()
            done.append(f"rebuilt the {kind} vector index ({len(vectors)} vectors)")
        if self.milvus_terms is not None and self.milvus_terms.check(self.records.counts()[1]):
            self.milvus_terms.reset()  # written whole by the push that ends this write
        self.refresh()
        return done

    def close(self) -> None:
        """Close the store (and the Milvus connection)."""
        if self.milvus is not None:
            self.milvus.close()
        self.records.close()
