"""The on-disk index: SQLite for articles and chunks, FAISS for vectors, BM25 for terms."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.documents import Article
from retrieval.embeddings import Embedder
from retrieval.errors import EmbedderMismatchError, IndexCorruptError, IndexMissingError

SCHEMA_VERSION = "2"
_DB = "newsbot.sqlite3"
_CHUNK_VECTORS = "chunks.faiss"
_SENTENCE_VECTORS = "sentences.faiss"
_BM25_DIR = "bm25"
# Vector searches over at least this many rows first scan a float16 copy (half the bytes: a flat
# scan is memory-bound) for _PREFILTER_FACTOR * k candidates, then rank those exactly.
_PREFILTER_MIN_ROWS = 8192
_PREFILTER_FACTOR = 4
# Bound on |q.v - q.fp16(v)| / (|q| |v|): float16 rounding (2**-11) plus both float32 sums' error.
_FP16_ERROR = 2.0**-11 + 2e-4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, date TEXT, source TEXT, lang TEXT, meta TEXT,
    text TEXT NOT NULL, hash TEXT NOT NULL, indexed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL, last_sentence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    terms TEXT NOT NULL DEFAULT '', cognates TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id);
"""


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk with what is needed to show and cite it."""

    id: int
    article_id: str
    ord: int
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True)
class SentenceRecord:
    """One sentence of an article, by offsets."""

    id: int
    article_id: str
    ord: int
    start: int
    end: int


@dataclass(frozen=True)
class SentenceTerms:
    """A sentence's lexical fingerprint: stemmed terms (both languages) and cognate keys."""

    terms: frozenset[str]
    cognates: frozenset[str]


@dataclass
class _ChunkTable:
    """Every chunk record in memory, with the lookups a question needs (built once per index state)."""

    records: dict[int, ChunkRecord]
    by_article: dict[str, list[int]]  # chunk ids per article, ascending
    owners: dict[int, list[int]]  # chunk ids containing each sentence id, ascending


@dataclass
class _Vectors:
    """A FAISS index's vectors in memory: id -> row, the float32 rows, and (lazily) a float16 copy."""

    row_of: dict[int, int]
    ids: np.ndarray  # stored id of each row
    matrix: np.ndarray  # (rows, dim) float32, the FAISS rows in order
    half: object | None = None  # faiss.IndexScalarQuantizer (fp16) over matrix
    max_norm: float = 0.0

    def prefiltered_search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Flat inner-product top-k (scores, ids) equal to a full FAISS scan, or None when the
        float16 pass cannot prove that its candidates hold the whole top-k.

        Every row outside the candidates scores at most the last candidate's float16 score plus
        the rounding bound; when that is below the k-th exact score, the top-k is among the
        candidates, which FAISS ranks with the same kernel and in the same row order.
        """
        import faiss

        if self.half is None:
            half = faiss.IndexScalarQuantizer(
                self.matrix.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
            half.add(self.matrix)
            self.half, self.max_norm = half, float(np.linalg.norm(self.matrix, axis=1).max())
        approx, rows = self.half.search(query, _PREFILTER_FACTOR * k)  # type: ignore[attr-defined]
        rows = np.sort(rows[0])
        exact = faiss.IndexFlatIP(self.matrix.shape[1])
        exact.add(self.matrix[rows])
        scores, found = exact.search(query, k)
        bound = float(np.linalg.norm(query)) * (self.max_norm * _FP16_ERROR + 1e-6)
        if not float(approx[0, -1]) + bound < float(scores[0, -1]):
            return None
        return scores, self.ids[rows[found]]


@dataclass
class IndexReport:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    sentences_embedded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ArticleSummary:
    """An indexed article as listed by `newsbot sources`."""

    id: str
    title: str
    date: str
    source: str
    chunks: int


@lru_cache(maxsize=1)
def _single_threaded_faiss() -> None:
    """Run FAISS searches on one thread (set once per process)."""
    import faiss

    faiss.omp_set_num_threads(1)


class NewsIndex:
    """Articles, chunks and sentences with their vectors and a BM25 index over chunks."""

    def __init__(
        self,
        directory: Path,
        embedder: Embedder,
        *,
        create: bool = False,
        chunk_sentences: int = 3,
        chunk_overlap: int = 1,
    ) -> None:
        self.directory = Path(directory)
        self.embedder = embedder
        if not create and not (self.directory / _DB).exists():
            raise IndexMissingError(f"no index in {self.directory}; run 'newsbot index PATH' first")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.directory / _DB)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(
                f"{self.directory / _DB}: cannot read the index ({exc}); "
                "delete the folder and run 'newsbot index PATH' again"
            ) from exc
        self._check_meta(chunk_sentences, chunk_overlap)
        self._chunk_vectors = None
        self._sentence_vectors = None
        self._bm25 = None
        self._bm25_ids: np.ndarray | None = None
        self._text_cache: dict[str, str] = {}
        self._in_memory: dict[str, _Vectors] = {}
        self._terms_cache: dict[int, SentenceTerms] = {}
        self._sentence_cache: dict[int, SentenceRecord] = {}
        self._chunk_table: _ChunkTable | None = None
        self._article_means: dict[str, tuple[np.ndarray, float]] = {}

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether an index has been created in the folder."""
        return (Path(directory) / _DB).exists()

    # ---------- metadata ----------
    def _check_meta(self, chunk_sentences: int, chunk_overlap: int) -> None:
        """Record or verify the embedder and chunking the index was built with."""
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if not meta:
            self._write_meta(chunk_sentences, chunk_overlap)
            return
        if meta.get("schema") != SCHEMA_VERSION:
            raise IndexCorruptError(
                f"{self.directory}: the index has format {meta.get('schema')}, this newsbot reads "
                f"{SCHEMA_VERSION}; rebuild it with 'newsbot index --rebuild PATH'"
            )
        if meta.get("embedder") != self.embedder.name or int(meta.get("dim", -1)) != self.embedder.dim:
            raise EmbedderMismatchError(
                f"the index in {self.directory} was built with embedder '{meta.get('embedder')}' "
                f"(dim {meta.get('dim')}), not '{self.embedder.name}'; use that embedder "
                "(NEWSBOT_EMBEDDER or --embedder) or rebuild with 'newsbot index --rebuild PATH'"
            )
        self.chunk_sentences = int(meta["chunk_sentences"])
        self.chunk_overlap = int(meta["chunk_overlap"])

    def _write_meta(self, chunk_sentences: int, chunk_overlap: int) -> None:
        """Store the build parameters."""
        rows = {
            "schema": SCHEMA_VERSION,
            "embedder": self.embedder.name,
            "dim": str(self.embedder.dim),
            "chunk_sentences": str(chunk_sentences),
            "chunk_overlap": str(chunk_overlap),
        }
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
        self.chunk_sentences, self.chunk_overlap = chunk_sentences, chunk_overlap

    # ---------- reading ----------
    def article(self, article_id: str) -> Article:
        """One article by id."""
        row = self._db.execute(
            "SELECT id, text, title, date, source, lang, meta FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            raise KeyError(article_id)
        return Article(
            id=row[0],
            text=row[1],
            title=row[2] or "",
            date=row[3] or "",
            source=row[4] or "",
            lang=row[5] or "",
            meta=json.loads(row[6] or "{}"),
        )

    def article_text(self, article_id: str) -> str:
        """An article's text, cached."""
        if article_id not in self._text_cache:
            row = self._db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()
            if row is None:
                raise KeyError(article_id)
            self._text_cache[article_id] = row[0]
        return self._text_cache[article_id]

    def articles(self) -> list[ArticleSummary]:
        """All indexed articles with their chunk counts, by date then id."""
        rows = self._db.execute(
            "SELECT a.id, a.title, a.date, a.source, COUNT(c.id) FROM articles a "
            "LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id ORDER BY a.date, a.id"
        )
        return [ArticleSummary(r[0], r[1] or "", r[2] or "", r[3] or "", r[4]) for r in rows]

    def counts(self) -> tuple[int, int]:
        """Number of articles and chunks."""
        articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return articles, chunks

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id (unknown ids are left out)."""
        records = self._chunks_loaded().records
        return {int(i): records[int(i)] for i in ids if int(i) in records}

    def sentences(self, ids: Sequence[int]) -> dict[int, SentenceRecord]:
        """Sentences by id, cached (unknown ids are left out)."""
        missing = [int(i) for i in ids if int(i) not in self._sentence_cache]
        for row in self._select("sentences", missing):
            self._sentence_cache[row[0]] = SentenceRecord(*row)
        return {int(i): self._sentence_cache[int(i)] for i in ids if int(i) in self._sentence_cache}

    def sentence_terms(self, ids: Sequence[int]) -> dict[int, SentenceTerms]:
        """Each sentence's stemmed terms and cognate keys (computed at indexing), cached."""
        ids = [int(i) for i in ids]
        cache = self._terms_cache
        missing = [i for i in ids if i not in cache]
        if missing:
            marks = ",".join("?" * len(missing))
            for sid, term_text, cognate_text in self._db.execute(
                f"SELECT id, terms, cognates FROM sentences WHERE id IN ({marks})", missing
            ):
                cache[sid] = SentenceTerms(frozenset(term_text.split()), frozenset(cognate_text.split()))
        return {i: cache[i] for i in ids if i in cache}

    def chunk_ids_of(self, article_ids: Sequence[str]) -> dict[str, list[int]]:
        """The chunk ids of each given article, ascending."""
        by_article = self._chunks_loaded().by_article
        return {a: list(by_article.get(a, ())) for a in article_ids}

    def sentence_owners(self, sentence_ids: Sequence[int]) -> dict[int, list[int]]:
        """For each sentence id, the chunks that contain it (ascending ids)."""
        owners = self._chunks_loaded().owners
        return {int(s): list(owners[int(s)]) for s in sentence_ids if int(s) in owners}

    def article_mean_vector(self, article_id: str) -> tuple[np.ndarray, float]:
        """The mean of an article's chunk vectors and its norm, cached."""
        if article_id not in self._article_means:
            chunk_ids = self._chunks_loaded().by_article.get(article_id, [])
            mean = self.chunk_vectors_of(chunk_ids).mean(axis=0)
            self._article_means[article_id] = (mean, float(np.linalg.norm(mean)))
        return self._article_means[article_id]

    def _chunks_loaded(self) -> _ChunkTable:
        """All chunk records and their lookups, read from SQLite once (cleared when the index changes)."""
        if self._chunk_table is None:
            table = _ChunkTable({}, {}, {})
            columns = "id, article_id, ord, start, end, first_sentence, last_sentence"
            for row in self._db.execute(f"SELECT {columns} FROM chunks ORDER BY id"):
                chunk = ChunkRecord(*row)
                table.records[chunk.id] = chunk
                table.by_article.setdefault(chunk.article_id, []).append(chunk.id)
                for sid in range(chunk.first_sentence, chunk.last_sentence + 1):
                    table.owners.setdefault(sid, []).append(chunk.id)
            self._chunk_table = table
        return self._chunk_table

    def _select(self, table: str, ids: Sequence[int]) -> list[tuple]:
        """Rows of `table` with the given ids."""
        if not ids:
            return []
        columns = (
            "id, article_id, ord, start, end, first_sentence, last_sentence"
            if table == "chunks"
            else "id, article_id, ord, start, end"
        )
        marks = ",".join("?" * len(ids))
        return self._db.execute(
            f"SELECT {columns} FROM {table} WHERE id IN ({marks})", [int(i) for i in ids]
        ).fetchall()

    # ---------- vectors ----------
    def sentence_vectors_of(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of the given sentences."""
        return self._rows(_SENTENCE_VECTORS, ids)

    def chunk_vectors_of(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of the given chunks."""
        return self._rows(_CHUNK_VECTORS, ids)

    def _rows(self, name: str, ids: Sequence[int]) -> np.ndarray:
        """Vectors by id, from the in-memory copy."""
        vectors = self._vectors_in_memory(name)
        return (
            vectors.matrix[[vectors.row_of[int(i)] for i in ids]]
            if len(ids)
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )

    def _vectors_in_memory(self, name: str) -> _Vectors:
        """A FAISS index's rows and ids in memory, with an id-to-row map, built once."""
        if name not in self._in_memory:
            index = self._vectors(name)
            import faiss

            stored_ids = faiss.vector_to_array(index.id_map)
            matrix = (
                index.index.reconstruct_n(0, index.ntotal)
                if index.ntotal
                else np.zeros((0, index.d), dtype=np.float32)
            )
            row_of = {int(i): n for n, i in enumerate(stored_ids)}
            self._in_memory[name] = _Vectors(row_of, stored_ids, matrix)
        return self._in_memory[name]

    def _vectors(self, name: str):  # -> faiss.Index
        """A FAISS index from disk (or a new empty one), loaded once."""
        attr = "_chunk_vectors" if name == _CHUNK_VECTORS else "_sentence_vectors"
        if getattr(self, attr) is None:
            import faiss

            path = self.directory / name
            if path.exists():
                try:
                    index = faiss.read_index(str(path))
                except RuntimeError as exc:
                    raise IndexCorruptError(
                        f"{path}: cannot read ({exc}); rebuild with 'newsbot index --rebuild PATH'"
                    ) from exc
            else:
                index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim))
            setattr(self, attr, index)
        return getattr(self, attr)

    def search_chunks(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Nearest chunks by inner product: (chunk id, score) best first."""
        return self._search(_CHUNK_VECTORS, vector, k)

    def search_sentences(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Nearest sentences by inner product: (sentence id, score) best first."""
        return self._search(_SENTENCE_VECTORS, vector, k)

    def _search(self, name: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top-k of one vector index (one thread: for a single query, threads cost more than
        they save); large indexes go through the float16 prefilter, with the same result."""
        index = self._vectors(name)
        if index.ntotal == 0:
            return []
        _single_threaded_faiss()
        query = vector.reshape(1, -1).astype(np.float32)
        k = min(k, index.ntotal)
        found = None
        if index.ntotal >= max(_PREFILTER_MIN_ROWS, 2 * _PREFILTER_FACTOR * k):
            found = self._vectors_in_memory(name).prefiltered_search(query, k)
        scores, ids = found if found is not None else index.search(query, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    # ---------- BM25 ----------
    def search_terms(self, query_terms: list[str], k: int) -> list[tuple[int, float]]:
        """BM25 over chunks: (chunk id, score) best first, zero scores dropped."""
        bm25, ids = self._bm25_index()
        if bm25 is None or not query_terms:
            return []
        known = [t for t in query_terms if t in bm25.vocab_dict]
        if not known:
            return []
        scores = bm25.get_scores(known)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def vocabulary_share(self, query_terms: list[str]) -> float:
        """Share of the query's terms that occur in the indexed chunks."""
        bm25, _ = self._bm25_index()
        if bm25 is None or not query_terms:
            return 0.0
        return sum(t in bm25.vocab_dict for t in query_terms) / len(query_terms)

    def _bm25_index(self):  # -> tuple[bm25s.BM25 | None, np.ndarray]
        """The BM25 index and its row-to-chunk-id map, loaded once."""
        if self._bm25 is None:
            path = self.directory / _BM25_DIR
            if not (path / "ids.npy").exists():
                return None, np.zeros(0, dtype=np.int64)
            import bm25s

            try:
                self._bm25 = bm25s.BM25.load(str(path), allow_pickle=False)
                self._bm25_ids = np.load(path / "ids.npy", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise IndexCorruptError(
                    f"{path}: cannot read the BM25 index ({exc}); rebuild with 'newsbot index --rebuild PATH'"
                ) from exc
        return self._bm25, self._bm25_ids

    def check(self) -> None:
        """Raise IndexCorruptError if the parts on disk disagree."""
        _, chunks = self.counts()
        sentences = self._db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
        if (
            self._vectors(_CHUNK_VECTORS).ntotal != chunks
            or self._vectors(_SENTENCE_VECTORS).ntotal != sentences
        ):
            raise IndexCorruptError(
                f"{self.directory}: vectors and chunks disagree; rebuild with 'newsbot index --rebuild PATH'"
            )

    # ---------- writing ----------
    def add(self, articles: Iterable[Article], *, progress: bool = True) -> IndexReport:
        """Index new and changed articles; unchanged ones are skipped (by content hash)."""
        from retrieval.ingest import plan_and_embed

        started = time.perf_counter()
        report = IndexReport()
        stored = dict(self._db.execute("SELECT id, hash FROM articles"))
        todo: dict[str, Article] = {}
        for article in articles:
            if stored.get(article.id) == article.content_hash:
                report.unchanged += 1
            else:
                todo[article.id] = article  # a later duplicate id wins
        if todo:
            embedded = plan_and_embed(
                list(todo.values()),
                self.embedder,
                self.chunk_sentences,
                self.chunk_overlap,
                progress=progress,
            )
            report.updated = sum(1 for a in todo if a in stored)
            report.added = len(todo) - report.updated
            report.chunks_embedded = len(embedded.chunk_vectors)
            report.sentences_embedded = len(embedded.sentence_vectors)
            self._write(todo, [a for a in todo if a in stored], embedded)
        report.seconds = time.perf_counter() - started
        return report

    def _write(self, todo: dict[str, Article], replaced: list[str], embedded) -> None:
        """Replace old rows and vectors with the new ones, files swapped in atomically."""
        chunk_index = self._vectors(_CHUNK_VECTORS)
        sentence_index = self._vectors(_SENTENCE_VECTORS)
        next_chunk = (self._db.execute("SELECT MAX(id) FROM chunks").fetchone()[0] or 0) + 1
        next_sentence = (self._db.execute("SELECT MAX(id) FROM sentences").fetchone()[0] or 0) + 1
        with self._db:
            self._delete_articles(replaced, chunk_index, sentence_index)
            for article in todo.values():
                self._db.execute(
                    "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article.id,
                        article.title,
                        article.date,
                        article.source,
                        article.lang,
                        json.dumps(article.meta, ensure_ascii=False, default=str),
                        article.text,
                        article.content_hash,
                        time.time(),
                    ),
                )
            sentence_ids = np.arange(next_sentence, next_sentence + len(embedded.sentences))
            self._db.executemany(
                "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (int(i), s.article_id, s.ord, s.start, s.end, s.terms, s.cognates)
                    for i, s in zip(sentence_ids, embedded.sentences, strict=True)
                ],
            )
            chunk_ids = np.arange(next_chunk, next_chunk + len(embedded.chunks))
            self._db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        int(i),
                        c.article_id,
                        c.ord,
                        c.start,
                        c.end,
                        int(sentence_ids[first]),
                        int(sentence_ids[last]),
                    )
                    for i, c, (first, last) in zip(
                        chunk_ids, embedded.chunks, embedded.chunk_sentence_ranges, strict=True
                    )
                ],
            )
            if len(chunk_ids):
                chunk_index.add_with_ids(embedded.chunk_vectors, chunk_ids.astype(np.int64))
            if len(sentence_ids):
                sentence_index.add_with_ids(embedded.sentence_vectors, sentence_ids.astype(np.int64))
            self._save_vectors()
            self._rebuild_bm25()
        self._clear_caches()

    def _clear_caches(self) -> None:
        """Forget everything read from the index files (after they change)."""
        self._text_cache.clear()
        self._in_memory.clear()
        self._terms_cache.clear()
        self._sentence_cache.clear()
        self._article_means.clear()
        self._chunk_table = None

    def _delete_articles(self, ids: list[str], chunk_index, sentence_index) -> None:
        """Drop the rows and vectors of the given articles (inside the open transaction)."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        chunk_ids = [
            r[0] for r in self._db.execute(f"SELECT id FROM chunks WHERE article_id IN ({marks})", ids)
        ]
        sentence_ids = [
            r[0] for r in self._db.execute(f"SELECT id FROM sentences WHERE article_id IN ({marks})", ids)
        ]
        chunk_index.remove_ids(np.array(chunk_ids, dtype=np.int64))
        sentence_index.remove_ids(np.array(sentence_ids, dtype=np.int64))
        for table in ("chunks", "sentences", "articles"):
            column = "id" if table == "articles" else "article_id"
            self._db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)

    def _save_vectors(self) -> None:
        """Write both FAISS indexes next to their final names, then swap them in."""
        import faiss

        for name in (_CHUNK_VECTORS, _SENTENCE_VECTORS):
            tmp = self.directory / f"{name}.tmp"
            faiss.write_index(self._vectors(name), str(tmp))
            os.replace(tmp, self.directory / name)

    def _rebuild_bm25(self) -> None:
        """BM25 over every chunk, written to a fresh folder and swapped in."""
        import logging
        import shutil

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        from retrieval.language import terms

        rows = self._db.execute(
            "SELECT c.id, c.start, c.end, a.lang, a.id FROM chunks c JOIN articles a "
            "ON a.id = c.article_id ORDER BY c.id"
        ).fetchall()
        corpus = [terms(self.article_text(r[4])[r[1] : r[2]], r[3] or "de") for r in rows]
        final = self.directory / _BM25_DIR
        tmp = self.directory / f"{_BM25_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if rows:
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
            bm25.save(str(tmp), allow_pickle=False)
            np.save(tmp / "ids.npy", np.array([r[0] for r in rows], dtype=np.int64), allow_pickle=False)
        else:
            tmp.mkdir()
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        self._bm25, self._bm25_ids = None, None

    def close(self) -> None:
        """Close the database."""
        self._db.close()
