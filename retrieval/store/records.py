"""The record store: articles, chunks, sentences and their vectors in SQLite (WAL) — the truth.

Every write is one transaction that bumps the store's commit number; rows remember the commit that
added them and removals are logged with theirs, so the derived indexes (vectors, and anything else
kept beside the store) catch up from any earlier commit without re-reading sources.
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.documents import Article
from retrieval.errors import IndexCorruptError, IndexMissingError
from retrieval.store import record_log
from retrieval.store import sources as src
from retrieval.store.sources import NewFingerprint, SourceRow
from retrieval.store.sqlutil import batches, marks

SCHEMA_VERSION = "3"
DB_NAME = "newsbot.sqlite3"
KINDS = ("chunk", "sentence")
# A stored vector is unit norm (USE); one outside this range is damage, not data.
NORM_RANGE = (0.5, 2.0)

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
CREATE INDEX IF NOT EXISTS chunks_by_first_sentence ON chunks(first_sentence);
CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id);
CREATE TABLE IF NOT EXISTS chunk_vectors (
    id INTEGER PRIMARY KEY, added INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sentence_vectors (
    id INTEGER PRIMARY KEY, added INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunk_vectors_by_commit ON chunk_vectors(added);
CREATE INDEX IF NOT EXISTS sentence_vectors_by_commit ON sentence_vectors(added);
CREATE TABLE IF NOT EXISTS removed (kind TEXT NOT NULL, id INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS removed_by_commit ON removed(kind, at);
"""
_VECTOR_TABLE = {"chunk": "chunk_vectors", "sentence": "sentence_vectors"}
_BUSY_MS = 60_000


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
class ArticleSummary:
    """An indexed article as listed by `newsbot sources`."""

    id: str
    title: str
    date: str
    source: str
    chunks: int
    lang: str = ""
    url: str = ""
    sources: tuple[SourceRow, ...] = ()  # every input the article was read from, itself first


@dataclass(frozen=True)
class SourceQuery:
    """Which indexed articles to list, in which order, and which page of them."""

    since: str = ""  # ISO date: articles dated on or after it (undated ones are left out)
    until: str = ""  # ISO date: on or before it
    grep: str = ""  # in the title or source, case-insensitive
    source: str = ""  # exactly this source, case-insensitive
    sort: str = "date"  # "date" (undated last) or "title"
    reverse: bool = False
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class SourcePage:
    """One page of listed articles, with how many articles (and their chunks) match in all."""

    articles: list[ArticleSummary]
    total: int
    chunks: int


_SORTS = {
    "date": ("a.date = '', a.date, a.id", "a.date = '', a.date DESC, a.id DESC"),
    "title": ("fold(a.title), a.id", "fold(a.title) DESC, a.id DESC"),
}


def _sql_fold(value: str | None) -> str | None:
    """`_fold` as an SQL function (NULL stays NULL)."""
    return _fold(value) if isinstance(value, str) else value


def _fold(value: str) -> str:
    """Text case-folded and without accents, for SQL comparisons and ordering ("Ärzte" sorts and
    matches as "arzte"; SQLite's own lower() knows ASCII only)."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class NewSentence:
    """A sentence to store (its id is given by the store)."""

    article_id: str
    ord: int
    start: int
    end: int
    terms: str = ""
    cognates: str = ""


@dataclass(frozen=True)
class NewChunk:
    """A chunk to store; its sentences are positions in the batch's sentence list."""

    article_id: str
    ord: int
    start: int
    end: int
    first: int
    last: int
    terms: tuple[str, ...]  # what the lexical index finds it by (computed while planning)


@dataclass
class Batch:
    """Articles with their sentences, chunks and vectors, written in one transaction."""

    articles: list[Article]
    sentences: list[NewSentence]
    chunks: list[NewChunk]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray
    fingerprints: list[NewFingerprint] = field(default_factory=list)  # one per article, or none
    sources: list[SourceRow] = field(default_factory=list)  # each article's row for itself, or none


@dataclass(frozen=True)
class Written:
    """What a committed batch changed: the new commit, the new rows, the replaced rows."""

    commit: int
    chunk_ids: list[int]
    removed_chunk_ids: list[int]


def as_blob(vector: np.ndarray) -> bytes:
    """A vector as stored: float16 bytes."""
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored vectors as a float32 (n, dim) matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), dim).astype(np.float32)


def connect(path: Path, *, timeout_ms: int = _BUSY_MS) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, full sync."""
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout_ms / 1000, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=OFF")
    db.create_function("fold", 1, _sql_fold, deterministic=True)
    return db


class RecordStore:
    """The articles, chunks, sentences and vectors of one index: the source of truth."""

    def __init__(self, directory: Path, *, create: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        if not create and not self.path.exists():
            raise IndexMissingError(f"no index in {self.directory}; run 'newsbot index PATH' first")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._read_changes: int | None = None  # total_changes when reading() began its snapshot
        try:
            self.db = connect(self.path)
            self.meta = self._read_meta()
            if self.meta and src.missing(self.db):
                with self.transaction():
                    src.create(self.db)
            if self.meta and record_log.missing(self.db):
                with self.transaction():
                    record_log.create(self.db)
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from exc
        self.dim = int(self.meta.get("dim", 0))

    # ---------- opening ----------
    def damaged(self, exc: Exception) -> IndexCorruptError:
        """The error for an unreadable store file."""
        return IndexCorruptError(
            f"{self.path}: the article store is damaged ({exc}); restore it from a backup, or "
            "delete the folder and index the articles again"
        )

    def _read_meta(self) -> dict[str, str]:
        """The meta table (empty for a new store)."""
        exists = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        return dict(self.db.execute("SELECT key, value FROM meta")) if exists else {}

    @property
    def is_new(self) -> bool:
        """Whether the store has never been initialised."""
        return not self.meta

    @property
    def schema(self) -> str:
        """The schema version the file was written with ('' for a new store)."""
        return self.meta.get("schema", "")

    def initialise(self, params: dict[str, str]) -> None:
        """Create the tables and record the build parameters (embedder, dim, chunking)."""
        rows = {
            "schema": SCHEMA_VERSION,
            "store_id": uuid.uuid4().hex,
            "commit": "0",
            "next_chunk": "1",
            "next_sentence": "1",
            "max_chunk_span": "1",
            **params,
        }
        with self.transaction():
            self.create_tables()
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
        self.meta = self._read_meta()
        self.dim = int(self.meta["dim"])

    def create_tables(self) -> None:
        """Every table of the current schema, the lexical index's included (inside the caller's
        transaction)."""
        from retrieval.store.lexical import SCHEMA as LEXICAL_SCHEMA

        schemas = (_SCHEMA, LEXICAL_SCHEMA, src.SCHEMA, record_log.SCHEMA)
        for statement in ";".join(schemas).split(";"):
            if statement.strip():
                self.db.execute(statement)

    def set_meta(self, **values: str) -> None:
        """Write meta values (inside the caller's transaction)."""
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        self.meta.update(values)

    # ---------- transactions ----------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed entirely or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A consistent read snapshot for the duration of the block (nested use is a no-op)."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        self._read_changes = self.db.total_changes
        try:
            yield
        finally:
            self._read_changes = None
            if self.db.in_transaction:
                self.db.execute("COMMIT")

    def in_read_snapshot(self) -> bool:
        """Whether the open transaction is a `reading()` snapshot that has written nothing, so what
        it reads is committed data (which caches of committed rows may keep)."""
        return (
            self._read_changes is not None
            and self.db.in_transaction
            and self.db.total_changes == self._read_changes
        )

    # ---------- the VectorSource protocol ----------
    @property
    def store_id(self) -> str:
        """The id made when the store was created (derived files carry it)."""
        return self.meta.get("store_id", "")

    def commit(self) -> int:
        """The current commit number, as other processes may have moved it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'commit'").fetchone()
        return int(row[0]) if row else 0

    def count(self, kind: str) -> int:
        """Stored vectors of a kind."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM {_VECTOR_TABLE[kind]}").fetchone()[0])

    def added_since(
        self, kind: str, commit: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 vectors) of the rows added after `commit` that still exist, in batches by id.

        Everything (commit before the oldest row): one pass in id order. Otherwise the ids come from
        the index on `added` (a filter on an id-ordered scan would read the whole table to find a
        few new rows), and their vectors by id range (or by id where the range is sparse)."""
        table = _VECTOR_TABLE[kind]
        oldest = self.db.execute(f"SELECT MIN(added) FROM {table}").fetchone()[0]
        if oldest is None:
            return
        if commit < oldest:
            yield from self._all_vectors(table, batch)
            return
        ids = self.added_ids_since(kind, commit)
        for start in range(0, len(ids), batch):
            part = ids[start : start + batch]
            if part[-1] - part[0] < 2 * len(part):
                rows = self.db.execute(
                    f"SELECT id, vec FROM {table} WHERE id BETWEEN ? AND ? AND added > ? ORDER BY id",
                    (part[0], part[-1], commit),
                ).fetchall()
            else:
                rows = sorted(self._by_ids(f"SELECT id, vec FROM {table}", part))
            yield np.array([r[0] for r in rows], dtype=np.int64), from_blobs([r[1] for r in rows], self.dim)

    def added_ids_since(self, kind: str, commit: int) -> list[int]:
        """Ids of the rows of a kind added after `commit` that still exist, ascending (no vectors read)."""
        table = _VECTOR_TABLE[kind]
        # no ORDER BY: with it SQLite scans the table in id order instead of using the index
        return sorted(r[0] for r in self.db.execute(f"SELECT id FROM {table} WHERE added > ?", (commit,)))

    def _all_vectors(self, table: str, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 vectors) of every row of a vector table, in batches by id."""
        last = -1
        while True:
            rows = self.db.execute(
                f"SELECT id, vec FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield np.array([r[0] for r in rows], dtype=np.int64), from_blobs([r[1] for r in rows], self.dim)

    def removed_since(self, kind: str, commit: int) -> np.ndarray:
        """Ids of the rows of a kind removed after `commit`."""
        rows = self.db.execute("SELECT id FROM removed WHERE kind = ? AND at > ?", (kind, commit))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors_of(self, kind: str, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors by id, in the order given (KeyError for an unknown id)."""
        wanted = [int(i) for i in ids]
        found = dict(self._by_ids(f"SELECT id, vec FROM {_VECTOR_TABLE[kind]}", wanted))
        missing = [i for i in wanted if i not in found]
        if missing:
            raise KeyError(f"no stored {kind} vector for ids {missing[:5]}")
        return from_blobs([found[i] for i in wanted], self.dim)

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """Up to n stored vectors, spread over the table (for training an approximate index)."""
        table = _VECTOR_TABLE[kind]
        total = self.count(kind)
        if total <= n:
            rows = self.db.execute(f"SELECT vec FROM {table}").fetchall()
        else:
            rng = np.random.default_rng(seed)
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM {table}")]
            chosen = sorted(int(i) for i in rng.choice(ids, size=n, replace=False))
            rows = [(v,) for _, v in self._by_ids(f"SELECT id, vec FROM {table}", chosen)]
        return from_blobs([r[0] for r in rows], self.dim)

    def _by_ids(self, select: str, ids: Sequence[int | str], column: str = "id") -> list[tuple]:
        """Rows of `select ... WHERE column IN (ids)`, in chunks that SQLite accepts."""
        out: list[tuple] = []
        for part in batches(ids):
            out.extend(self.db.execute(f"{select} WHERE {column} IN ({marks(len(part))})", part))
        return out

    # ---------- reading records ----------
    def article(self, article_id: str) -> Article:
        """One article by id (KeyError if absent)."""
        row = self.db.execute(
            "SELECT id, text, title, date, source, lang, meta FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            raise KeyError(article_id)
        meta = json.loads(row[6] or "{}")
        found = src.sources_of(self.db, [article_id])[article_id]
        if len(found) > 1:
            meta["sources"] = [s.to_json() for s in found]
        return Article(
            id=row[0],
            text=row[1],
            title=row[2] or "",
            date=row[3] or "",
            source=sites(row[4] or "", found),
            lang=row[5] or "",
            meta=meta,
        )

    # ---------- sources and fingerprints ----------
    def sources_of(self, article_ids: Sequence[str]) -> dict[str, list[SourceRow]]:
        """Each article's sources, itself first."""
        return src.sources_of(self.db, article_ids)

    def source_rows(self, source_ids: Sequence[str]) -> dict[str, SourceRow]:
        """Stored sources by id (an article's own id, or a merged duplicate's)."""
        return src.source_rows(self.db, source_ids)

    def articles_by_text_hash(self, hashes: Sequence[str]) -> dict[str, str]:
        """The stored article with each normalised-text hash."""
        return src.by_text_hash(self.db, hashes)

    def articles_by_url(self, urls: Sequence[str]) -> dict[str, str]:
        """The stored article each canonical URL is a source of."""
        return src.by_url(self.db, urls)

    def near_candidates(self, bands: Sequence[int]) -> dict[str, bytes]:
        """Stored articles sharing an LSH band key with a signature, with their signatures."""
        return src.band_candidates(self.db, bands)

    def add_sources(self, rows: Sequence[SourceRow]) -> int:
        """Merge duplicates into stored articles as further sources, in one transaction."""
        with self.transaction():
            commit = self.commit() + 1
            moved = src.source_rows(self.db, [r.source_id for r in rows]).values()
            record_log.log(self.db, [*(r.article_id for r in rows), *(r.article_id for r in moved)], commit)
            src.insert_sources(self.db, rows)
            self.set_meta(commit=str(commit))
        return commit

    def source_ids_from(self, site: str) -> list[str]:
        """The ids of every source from a site (any case, accents aside): merged duplicates' ids,
        and stored articles' own (also those stored before sources were recorded)."""
        rows = self.db.execute(
            "SELECT source_id FROM article_sources WHERE fold(source) = ? UNION "
            "SELECT id FROM articles WHERE fold(source) = ? "
            "AND id NOT IN (SELECT article_id FROM article_sources) ORDER BY 1",
            (_fold(site), _fold(site)),
        )
        return [r[0] for r in rows]

    def without_fingerprints(self, limit: int = 1000) -> list[Article]:
        """Up to `limit` stored articles that have no fingerprint yet (stored by an earlier
        release), as they were stored."""
        rows = self.db.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM fingerprints) "
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [self._stored_article(r[0]) for r in rows]

    def _stored_article(self, article_id: str) -> Article:
        """An article exactly as stored (no sources added)."""
        r = self.db.execute(
            "SELECT id, text, title, date, source, lang, meta FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return Article(r[0], r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "", json.loads(r[6] or "{}"))

    def add_fingerprints(self, items: Sequence[tuple[str, NewFingerprint]], own: Sequence[SourceRow]) -> None:
        """Record stored articles' fingerprints and their rows for themselves, in one transaction
        (no commit bump: nothing a reader sees changes)."""
        now = time.time()
        with self.transaction():
            src.insert_fingerprints(self.db, items)
            self.db.executemany(
                "INSERT OR IGNORE INTO article_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.source_id, r.article_id, r.title, r.date, r.source, r.url, r.hash, now) for r in own],
            )

    def known_ids(self, ids: Sequence[str]) -> list[str]:
        """The ids that name a stored article or one of its sources, in the order given."""
        stored = set(self.hashes(list(ids))) | set(self.source_rows(ids))
        return [i for i in dict.fromkeys(ids) if i in stored]

    def article_text(self, article_id: str) -> str:
        """An article's text (KeyError if absent)."""
        row = self.db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise KeyError(article_id)
        return str(row[0])

    def hashes(self, article_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Content hash of each stored article (of the given ones, or all)."""
        if article_ids is None:
            return dict(self.db.execute("SELECT id, hash FROM articles"))
        return dict(self._by_ids("SELECT id, hash FROM articles", list(article_ids)))

    def articles(self, query: SourceQuery | None = None) -> list[ArticleSummary]:
        """The articles a query selects (all by default: by date, undated last, then id), with their
        chunk counts."""
        query = query or SourceQuery()
        where, params = _where(query)
        ascending, descending = _SORTS[query.sort]
        rows = self.db.execute(
            "SELECT a.id, a.title, a.date, a.source, "
            "(SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.id), "
            "a.lang, json_extract(a.meta, '$.url') "
            f"FROM articles a{where} ORDER BY {descending if query.reverse else ascending} LIMIT ? OFFSET ?",
            [*params, -1 if query.limit is None else query.limit, query.offset],
        ).fetchall()
        found = src.sources_of(self.db, [r[0] for r in rows])
        return [
            ArticleSummary(
                r[0], r[1] or "", r[2] or "", sites(r[3] or "", found[r[0]]), r[4], r[5] or "",
                str(r[6] or ""), tuple(found[r[0]]),
            )
            for r in rows
        ]

    def source_page(self, query: SourceQuery) -> SourcePage:
        """The page of articles a query selects, and how many articles and chunks match in all."""
        where, params = _where(query)
        total, chunks = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM((SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.id)), 0) "
            f"FROM articles a{where}",
            params,
        ).fetchone()
        return SourcePage(self.articles(query), int(total), int(chunks))

    def counts(self) -> tuple[int, int]:
        """Number of articles and chunks."""
        articles = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(articles), int(chunks)

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunks by id (unknown ids are left out)."""
        columns = "id, article_id, ord, start, end, first_sentence, last_sentence"
        rows = self._by_ids(f"SELECT {columns} FROM chunks", [int(i) for i in ids])
        return {r[0]: ChunkRecord(*r) for r in rows}

    def sentences(self, ids: Sequence[int]) -> dict[int, SentenceRecord]:
        """Sentences by id (unknown ids are left out)."""
        rows = self._by_ids("SELECT id, article_id, ord, start, end FROM sentences", [int(i) for i in ids])
        return {r[0]: SentenceRecord(*r) for r in rows}

    def sentence_terms(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Each sentence's stored terms and cognate keys (space-separated)."""
        rows = self._by_ids("SELECT id, terms, cognates FROM sentences", [int(i) for i in ids])
        return {r[0]: (r[1], r[2]) for r in rows}

    def chunk_ids_of(self, article_ids: Sequence[str]) -> dict[str, list[int]]:
        """The chunk ids of each given article, ascending (an unknown article has none)."""
        out: dict[str, list[int]] = {a: [] for a in article_ids}
        rows = self._by_ids("SELECT article_id, id FROM chunks", list(out), column="article_id")
        for article_id, chunk_id in sorted(rows, key=lambda row: row[1]):
            out[article_id].append(chunk_id)
        return out

    def sentence_owners(self, sentence_ids: Sequence[int]) -> dict[int, list[int]]:
        """For each sentence, the chunks that contain it, ascending (left out when none). One
        indexed range query per sentence: SQLite scans the table for an OR of ranges."""
        span = int(self.meta.get("max_chunk_span", "1"))
        out: dict[int, list[int]] = {}
        for sid in dict.fromkeys(int(s) for s in sentence_ids):
            rows = self.db.execute(
                "SELECT id FROM chunks WHERE first_sentence BETWEEN ? AND ? AND last_sentence >= ? "
                "ORDER BY id",
                (sid - span + 1, sid, sid),
            ).fetchall()
            if rows:
                out[sid] = [r[0] for r in rows]
        return out

    def chunk_texts(self, after: int = 0, batch: int = 5_000) -> Iterator[list[tuple[int, str, str]]]:
        """(chunk id, chunk text, article language) of every chunk, in batches by id."""
        last = after
        while True:
            rows = self.db.execute(
                "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start), a.lang FROM chunks c "
                "JOIN articles a ON a.id = c.article_id WHERE c.id > ? ORDER BY c.id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(r[0], r[1], r[2] or "de") for r in rows]

    def chunk_texts_of(self, ids: Sequence[int]) -> list[tuple[int, str, str]]:
        """(chunk id, chunk text, article language) of the given chunks (unknown ids left out)."""
        rows = self._by_ids(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start), a.lang FROM chunks c "
            "JOIN articles a ON a.id = c.article_id",
            [int(i) for i in ids],
            column="c.id",
        )
        return [(r[0], r[1], r[2] or "de") for r in rows]

    # ---------- writing ----------
    def write(self, batch: Batch, on_write=None) -> Written:
        """Store a batch in one transaction, replacing stored articles with the same ids.

        `on_write(db, chunk_rows, removed_chunk_ids)` runs inside the transaction, so that stores
        kept in the same database (the lexical index) change with it or not at all."""
        with self.transaction():
            commit = self.commit() + 1
            removed = self._remove([a.id for a in batch.articles], commit)
            sentence_ids = self._insert_sentences(batch, commit)
            chunk_ids = self._insert_chunks(batch, sentence_ids, commit)
            self._insert_articles(batch.articles)
            src.insert_sources(self.db, batch.sources or [_own_source(a) for a in batch.articles])
            if batch.fingerprints:
                ids = [a.id for a in batch.articles]
                src.insert_fingerprints(self.db, list(zip(ids, batch.fingerprints, strict=True)))
            if on_write is not None:
                on_write(self.db, chunk_ids, removed)
            record_log.log(self.db, [a.id for a in batch.articles], commit)
            self.set_meta(commit=str(commit))
        return Written(commit, chunk_ids, removed)

    def remove(self, article_ids: Sequence[str], on_write=None) -> Written:
        """Remove articles with their chunks, sentences and vectors, in one transaction. An id
        that is a merged duplicate drops that source only; an article with other sources left is
        kept under the oldest of them (see store/sources.py)."""
        with self.transaction():
            commit = self.commit() + 1
            detached, deleted, heirs = src.removal_plan(self.db, list(article_ids))
            owners = [r.article_id for r in src.source_rows(self.db, detached).values()]
            touched = [*owners, *deleted, *heirs, *(h.source_id for h in heirs.values())]
            record_log.log(self.db, touched, commit)
            src.detach(self.db, detached)
            for old, heir in heirs.items():
                src.promote(self.db, old, heir)
            removed = self._remove(deleted, commit)
            src.drop_fingerprints(self.db, deleted)
            for part in batches(deleted):
                self.db.execute(f"DELETE FROM article_sources WHERE article_id IN ({marks(len(part))})", part)
            if on_write is not None:
                on_write(self.db, [], removed)
            self.set_meta(commit=str(commit))
        return Written(commit, [], removed)

    def _next_ids(self, key: str, n: int) -> int:
        """Reserve n ids of a kind (ids are never reused); return the first."""
        first = int(self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
        self.set_meta(**{key: str(first + n)})
        return first

    def _insert_sentences(self, batch: Batch, commit: int) -> list[int]:
        """Insert the batch's sentences and their vectors; return their ids."""
        first = self._next_ids("next_sentence", len(batch.sentences))
        ids = list(range(first, first + len(batch.sentences)))
        self.db.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, s.article_id, s.ord, s.start, s.end, s.terms, s.cognates)
                for i, s in zip(ids, batch.sentences, strict=True)
            ],
        )
        self._insert_vectors("sentence", ids, batch.sentence_vectors, commit)
        return ids

    def _insert_chunks(self, batch: Batch, sentence_ids: list[int], commit: int) -> list[int]:
        """Insert the batch's chunks and their vectors; return their ids."""
        first = self._next_ids("next_chunk", len(batch.chunks))
        ids = list(range(first, first + len(batch.chunks)))
        self.db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, c.article_id, c.ord, c.start, c.end, sentence_ids[c.first], sentence_ids[c.last])
                for i, c in zip(ids, batch.chunks, strict=True)
            ],
        )
        span = max((c.last - c.first + 1 for c in batch.chunks), default=1)
        if span > int(self.meta.get("max_chunk_span", "1")):
            self.set_meta(max_chunk_span=str(span))
        self._insert_vectors("chunk", ids, batch.chunk_vectors, commit)
        return ids

    def _insert_vectors(self, kind: str, ids: list[int], vectors: np.ndarray, commit: int) -> None:
        """Insert vectors, refusing any that are not finite or of the wrong width."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) and (vectors.shape != (len(ids), self.dim) or not np.isfinite(vectors).all()):
            raise ValueError(
                f"{kind} vectors of shape {vectors.shape} for {len(ids)} rows of width {self.dim}"
            )
        self.db.executemany(
            f"INSERT INTO {_VECTOR_TABLE[kind]} VALUES (?, ?, ?)",
            [(i, commit, as_blob(v)) for i, v in zip(ids, vectors, strict=True)],
        )

    def _insert_articles(self, articles: list[Article]) -> None:
        """Insert the article rows."""
        now = time.time()
        self.db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.title,
                    a.date,
                    a.source,
                    a.lang,
                    json.dumps(a.meta, ensure_ascii=False, default=str),
                    a.text,
                    a.content_hash,
                    now,
                )
                for a in articles
            ],
        )

    def _remove(self, article_ids: list[str], commit: int) -> list[int]:
        """Delete articles' rows and vectors, logging the removed ids; return the chunk ids."""
        removed_chunks: list[int] = []
        for part in batches(article_ids):
            where = f"IN ({marks(len(part))})"
            for kind, table in (("chunk", "chunks"), ("sentence", "sentences")):
                ids = [
                    r[0] for r in self.db.execute(f"SELECT id FROM {table} WHERE article_id {where}", part)
                ]
                if kind == "chunk":
                    removed_chunks.extend(ids)
                self.db.executemany("INSERT INTO removed VALUES (?, ?, ?)", [(kind, i, commit) for i in ids])
                self._delete_ids(_VECTOR_TABLE[kind], ids)
                self.db.execute(f"DELETE FROM {table} WHERE article_id {where}", part)
            self.db.execute(f"DELETE FROM articles WHERE id {where}", part)
        return removed_chunks

    def _delete_ids(self, table: str, ids: list[int]) -> None:
        """Delete rows by id."""
        self.db.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])

    # ---------- a shared archive (store/replica.py) ----------
    def changed_articles_since(self, commit: int) -> list[str]:
        """The ids of the articles written, removed or re-sourced after `commit`, sorted."""
        return record_log.changed_since(self.db, commit)

    def article_records(self, article_ids: Sequence[str]) -> dict[str, dict]:
        """Each stored article's full record (row, sources, fingerprint, chunks, sentences), as JSON."""
        return record_log.records(self.db, article_ids)

    def archive_state(self) -> tuple[str, int]:
        """The shared archive this store follows and the archive commit its content equals
        ("", 0 when it follows none), as other processes may have moved them."""
        keys = "('archive_id', 'archive_commit')"
        rows = dict(self.db.execute(f"SELECT key, value FROM meta WHERE key IN {keys}"))
        return rows.get("archive_id", ""), int(rows.get("archive_commit", "0"))

    def set_archive(self, archive_id: str, archive_commit: int, **params: str) -> None:
        """Record the archive this store follows and the commit it is level with (no commit bump)."""
        with self.transaction():
            self.set_meta(archive_id=archive_id, archive_commit=str(archive_commit), **params)
        if "dim" in params:
            self.dim = int(params["dim"])

    def apply_pulled(
        self, pulled: Iterable[record_log.PulledArticle], *, commit: int, archive_id: str, on_write=None
    ) -> Written:
        """Apply articles pulled from a shared archive in ONE transaction, keeping their ids: each
        replaces the stored article of its id (or removes it); the id counters move past the ids
        taken; the store's commit becomes the archive's `commit` (never lower than it was plus one).
        `on_write(db, chunk_ids, removed_chunk_ids)` runs inside the transaction (the lexical index)."""
        with self.transaction():
            followed, level = self.archive_state()
            if followed == archive_id and level >= commit:
                return Written(self.commit(), [], [])  # another process on this store pulled them
            archive_commit, commit = commit, max(commit, self.commit() + 1)
            done = record_log.apply(self.db, pulled, commit, self.dim, as_blob)
            for key, top in (("next_chunk", done.max_chunk), ("next_sentence", done.max_sentence)):
                if top + 1 > int(self.meta.get(key, "1")):
                    self.set_meta(**{key: str(top + 1)})
            if done.max_span > int(self.meta.get("max_chunk_span", "1")):
                self.set_meta(max_chunk_span=str(done.max_span))
            if on_write is not None:
                on_write(self.db, done.chunk_ids, done.removed_chunk_ids)
            self.set_meta(commit=str(commit), archive_id=archive_id, archive_commit=str(archive_commit))
        return Written(commit, done.chunk_ids, done.removed_chunk_ids)

    # ---------- checking ----------
    def integrity(self) -> list[str]:
        """What SQLite's own check finds wrong with the file (empty when it is sound)."""
        return [f"{self.path}: {r[0]}" for r in self.db.execute("PRAGMA quick_check") if r[0] != "ok"]

    def problems(self) -> list[str]:
        """What is wrong with the rows of a sound file (see `integrity`): sources of articles not
        stored, rows without vectors, bad vectors."""
        found = []
        orphans = src.orphans(self.db)
        if orphans:
            found.append(f"{self.path}: {orphans} sources or fingerprints of articles that are not stored")
        for kind in KINDS:
            table, vec = f"{kind}s", _VECTOR_TABLE[kind]
            missing = "SELECT COUNT(*) FROM {} a WHERE NOT EXISTS (SELECT 1 FROM {} b WHERE b.id = a.id)"
            rows = self.db.execute(missing.format(table, vec)).fetchone()[0]
            vectors_alone = self.db.execute(missing.format(vec, table)).fetchone()[0]
            if rows or vectors_alone:
                found.append(
                    f"{self.path}: {rows} {kind}s without a vector, {vectors_alone} vectors without a {kind}"
                )
            bad = self.bad_vectors(kind)
            if bad:
                found.append(f"{self.path}: {len(bad)} stored {kind} vectors are damaged (ids {bad[:5]}...)")
        return found

    def bad_vectors(self, kind: str) -> list[int]:
        """Ids of stored vectors that are not finite or far from unit length (bit rot)."""
        bad: list[int] = []
        for ids, vectors in self.added_since(kind, -1):
            norms = np.linalg.norm(vectors, axis=1)
            bad.extend(ids[~np.isfinite(norms) | (norms < NORM_RANGE[0]) | (norms > NORM_RANGE[1])].tolist())
        return bad

    def replace_vectors(self, kind: str, ids: list[int], vectors: np.ndarray) -> int:
        """Overwrite stored vectors (repair after re-embedding); logged as remove + add."""
        with self.transaction():
            commit = self.commit() + 1
            owners = self._by_ids(f"SELECT DISTINCT article_id FROM {kind}s", [int(i) for i in ids])
            record_log.log(self.db, [r[0] for r in owners], commit)  # a replica takes the new vectors
            self.db.executemany("INSERT INTO removed VALUES (?, ?, ?)", [(kind, i, commit) for i in ids])
            self._delete_ids(_VECTOR_TABLE[kind], ids)
            self._insert_vectors(kind, ids, vectors, commit)
            self.set_meta(commit=str(commit))
        return commit

    def close(self) -> None:
        """Fold the write-ahead log into the database file (when no reader needs it), then close."""
        try:
            if not self.db.in_transaction:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a reader holds it, or the file is damaged: closing is still right
        self.db.close()

    # ---------- light reads for time-bound search ----------
    def dates(self, ids: Sequence[str]) -> dict[str, str]:
        """The ISO date of each stored article of `ids` ('' when undated)."""
        return {i: d or "" for i, d in self._by_ids("SELECT id, date FROM articles", list(ids))}

    def ids_in(self, query: SourceQuery) -> list[str]:
        """The ids of the articles a query's filters select (no order, no limit)."""
        where, params = _where(query)
        return [r[0] for r in self.db.execute(f"SELECT a.id FROM articles a{where}", params)]


def _where(query: SourceQuery) -> tuple[str, list[str]]:
    """The SQL WHERE clause (with a leading space, or empty) and parameters of a query's filters."""
    clauses, params = [], []
    if query.since:
        clauses.append("a.date != '' AND substr(a.date, 1, 10) >= ?")
        params.append(query.since)
    if query.until:
        clauses.append("a.date != '' AND substr(a.date, 1, 10) <= ?")
        params.append(query.until)
    if query.grep:
        clauses.append("(instr(fold(a.title), ?) > 0 OR instr(fold(a.source), ?) > 0)")
        params += [_fold(query.grep)] * 2
    if query.source:
        clauses.append(
            "(fold(a.source) = ? OR EXISTS (SELECT 1 FROM article_sources s "
            "WHERE s.article_id = a.id AND fold(s.source) = ?))"
        )
        params += [_fold(query.source)] * 2
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def sites(own: str, found: Sequence[SourceRow]) -> str:
    """The article's source, followed by its merged duplicates' other sources (', ')."""
    names = dict.fromkeys(n for n in [own, *(s.source for s in found)] if n)
    return ", ".join(names)


def _own_source(article: Article) -> SourceRow:
    """An article's row for itself in its sources."""
    url = str(article.meta.get("url", "") or "")
    a = article
    return SourceRow(a.id, a.id, a.title, a.date, a.source, url, a.content_hash)
