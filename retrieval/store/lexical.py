"""BM25 over chunks, kept inside the record store's SQLite database and updated in O(changed chunks).

Postings are segmented, LSM-style. Every `add` writes one new segment: for each distinct term of the
added chunks one row of packed arrays (chunk ids ascending, term frequencies, chunk lengths). When a
term has `FANOUT` rows of one level they are merged into one row of a higher level, dropping removed
chunks, so each posting is rewritten O(log N) times in all and an add costs O(k) amortised. A removal
writes a tombstone (`lexical_dead`) that hides the chunk's postings until a merge or `compact` drops
them. Every write runs inside the caller's transaction, so the lexical index commits (or rolls back)
together with the records it is derived from.

Scores equal bm25s 0.3's `BM25()` (method "lucene", k1=1.5, b=0.75) built over the live chunks: the
same float64 formula per posting rounded to float32, summed in float32 in query-term order (a repeated
query term counts each time it occurs, an unknown term is skipped).

A tombstone `(chunk_id, upto)` hides that chunk's postings in segments numbered <= `upto` (the newest
segment number at the time of the removal), so a chunk id that is added again after its removal is
live again in its new segment. Merged rows get a new segment number and never hold dead postings.

Queries score the rarest terms in full and look the common ones up only for the chunks that can still
reach the top k (exact, see `rank`); large rows stay decoded in a per-connection cache, which is safe
because a committed row never changes.

`postings` is a rowid table with a unique index on (term, segment), not a WITHOUT ROWID table keyed
by them: a WITHOUT ROWID B-tree reads the whole record of every large row its key comparisons touch
(measured at 1M chunks: 1.3 ms to list the segments of a common term, against 0.02 ms here), and its
file was 30% larger.
"""

from __future__ import annotations

import math
import os
import sqlite3
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain

import numpy as np

from retrieval.errors import IndexCorruptError
from retrieval.store.sqlutil import batches, marks

K1 = 1.5
B = 0.75
FANOUT = 8
# rebuild() cuts its input into segments of about this many terms
SEGMENT_TERMS = 2_000_000
# Problems reported by check() before it only counts the rest, and postings it checks at once
MAX_PROBLEMS = 20
CHECK_BATCH = 1_000_000
# Rows of at least this many postings are scored through a (tf, length) table
LUT_MIN = 256
# Rows of at least this many postings stay decoded in memory between queries (rows never change)
CACHE_MIN = 4096
# Postings scored in full while looking for a bound that rules out the remaining terms
PRUNE_MAX = 250_000
# Relative slack on score bounds, far above the float32 rounding of a sum of query terms
BOUND_SLACK = 1e-5

SCHEMA = """
CREATE TABLE IF NOT EXISTS postings(
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL,
    seg INTEGER NOT NULL,
    level INTEGER NOT NULL,
    n INTEGER NOT NULL,
    ids BLOB NOT NULL,
    tfs BLOB NOT NULL,
    lens BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS postings_term ON postings(term, seg);
CREATE TABLE IF NOT EXISTS lexical_docs(chunk_id INTEGER PRIMARY KEY, len INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_dead(chunk_id INTEGER PRIMARY KEY, upto INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_stats(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# packed widths: a blob's width is len(blob) // n
_ID_TYPES: dict[int, np.dtype] = {4: np.dtype("<i4"), 8: np.dtype("<i8")}
_TF_TYPES: dict[int, np.dtype] = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}
_LEN_TYPES: dict[int, np.dtype] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
_NONE = np.zeros(0, dtype=np.intp)
_LIMITS = {
    dtype: (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    for types in (_ID_TYPES, _TF_TYPES, _LEN_TYPES)
    for dtype in types.values()
}
# (chunk ids ascending, float32 contributions of one term)
Piece = tuple[np.ndarray, np.ndarray]
_INSERT_ROW = "INSERT INTO {table}(term, seg, level, n, ids, tfs, lens) VALUES (?, ?, ?, ?, ?, ?, ?)"
_STAGE_COLUMNS = "term TEXT, seg INTEGER, level INTEGER, n INTEGER, ids BLOB, tfs BLOB, lens BLOB"
_STAT_KEYS = ("docs", "length", "max_id", "next_seg", "epoch")


@dataclass(frozen=True)
class Postings:
    """Postings of one term: chunk ids, term frequencies and chunk lengths (aligned arrays)."""

    ids: np.ndarray
    tfs: np.ndarray
    lens: np.ndarray

    @property
    def size(self) -> int:
        """Number of postings."""
        return int(self.ids.size)

    def take(self, keep: np.ndarray) -> Postings:
        """The postings at `keep` (indices or a boolean mask)."""
        return Postings(self.ids[keep], self.tfs[keep], self.lens[keep])


@dataclass
class _Row:
    """One stored row of postings, decoded."""

    seg: int
    level: int
    postings: Postings


def _smallest(lo: int, hi: int, types: dict[int, np.dtype]) -> np.dtype:
    """The narrowest of `types` that holds every value in lo..hi."""
    for dtype in types.values():
        low, high = _LIMITS[dtype]
        if low <= lo and hi <= high:
            return dtype
    raise ValueError(f"values {lo}..{hi} do not fit a posting blob")


def pack(postings: Postings) -> tuple[bytes, bytes, bytes]:
    """The three blobs of a row (ids ascending), each in the narrowest width that holds it."""
    ids, tfs, lens = postings.ids, postings.tfs, postings.lens
    return (
        ids.astype(_smallest(int(ids[0]), int(ids[-1]), _ID_TYPES)).tobytes(),
        tfs.astype(_smallest(0, int(tfs.max()), _TF_TYPES)).tobytes(),
        lens.astype(_smallest(0, int(lens.max()), _LEN_TYPES)).tobytes(),
    )


def unpack(n: int, ids: object, tfs: object, lens: object) -> Postings | None:
    """Decode a row's blobs; None if they do not fit the row's length `n`."""
    arrays = []
    for blob, types in ((ids, _ID_TYPES), (tfs, _TF_TYPES), (lens, _LEN_TYPES)):
        if not isinstance(blob, bytes) or not isinstance(n, int) or n <= 0 or len(blob) % n:
            return None
        dtype = types.get(len(blob) // n)
        if dtype is None:
            return None
        arrays.append(np.frombuffer(blob, dtype=dtype))
    return Postings(*arrays)


def size_level(n: int) -> int:
    """The level of a row of n postings: floor(log_FANOUT(n)), so bulk rows skip the small merges."""
    level, limit = 0, FANOUT
    while n >= limit:
        level, limit = level + 1, limit * FANOUT
    return level


def idf(df: int, n_docs: int) -> np.float32:
    """bm25s' Lucene idf, computed in float64 and stored as float32 like bm25s does."""
    return np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)))


def bm25(tfs: np.ndarray, lens: np.ndarray, idf32: np.float32, avgdl: float) -> np.ndarray:
    """float32 BM25 contributions of a term with frequencies `tfs` in chunks of lengths `lens`, as bm25s."""
    tf = tfs.astype(np.float32)
    tfc = tf / (K1 * ((1 - B) + B * lens.astype(np.float64) / avgdl) + tf)
    return (idf32 * tfc).astype(np.float32)


def concat(parts: Sequence[Postings]) -> Postings:
    """All postings of `parts` in one Postings (in the given order)."""
    if len(parts) == 1:
        return parts[0]
    return Postings(
        np.concatenate([p.ids.astype(np.int64) for p in parts]),
        np.concatenate([p.tfs.astype(np.uint32) for p in parts]),
        np.concatenate([p.lens.astype(np.uint32) for p in parts]),
    )


@dataclass
class Segment:
    """The postings of a batch of chunks: row r (term `terms[r]`) holds positions starts[r]:starts[r+1]
    of `ids`, `tfs` and `lens`, ids ascending; plus the chunks' ids and lengths."""

    terms: list[str]
    starts: np.ndarray
    ids: np.ndarray
    tfs: np.ndarray
    lens: np.ndarray
    doc_ids: np.ndarray
    doc_lens: np.ndarray

    def rows(self, seg: int) -> list[tuple[str, int, int, int, bytes, bytes, bytes]]:
        """The rows to insert for segment `seg`, in term order, each array in its narrowest width."""
        if not self.terms:
            return []
        first, after = self.starts[:-1], self.starts[1:]
        widths = [
            self._narrowest(self.ids, self.ids[first], self.ids[after - 1], _ID_TYPES),
            self._narrowest(self.tfs, np.zeros_like(first), np.maximum.reduceat(self.tfs, first), _TF_TYPES),
            self._narrowest(
                self.lens, np.zeros_like(first), np.maximum.reduceat(self.lens, first), _LEN_TYPES
            ),
        ]
        bounds = zip(first.tolist(), after.tolist(), strict=True)
        return [
            (term, seg, size_level(b - a), b - a, *(w[r][a:b].tobytes() for w in widths))
            for r, (term, (a, b)) in enumerate(zip(self.terms, bounds, strict=True))
        ]

    @staticmethod
    def _narrowest(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, types: dict[int, np.dtype]) -> list:
        """Per row, `values` converted to the narrowest of `types` holding that row's lo..hi."""
        converted: dict[np.dtype, np.ndarray] = {}
        out = []
        for low, high in zip(lo.tolist(), hi.tolist(), strict=True):
            dtype = _smallest(low, high, types)
            if dtype not in converted:
                converted[dtype] = values.astype(dtype)  # rows needing wider types never read this one
            out.append(converted[dtype])
        return out


def segment(docs: Sequence[tuple[int, Sequence[str]]]) -> Segment:
    """The postings of `docs` (chunk id, terms), rows in term order."""
    order = sorted(range(len(docs)), key=lambda i: docs[i][0])
    doc_ids = np.fromiter((docs[i][0] for i in order), dtype=np.int64, count=len(docs))
    doc_lens = np.fromiter((len(docs[i][1]) for i in order), dtype=np.int64, count=len(docs))
    vocab: dict[str, int] = {}
    code = vocab.setdefault
    flat = array("q")
    for i in order:
        flat.extend([code(t, len(vocab)) for t in docs[i][1]])
    names = sorted(vocab)
    rank = np.empty(len(vocab), dtype=np.int64)
    rank[[vocab[t] for t in names]] = np.arange(len(names))
    n = len(docs)
    keys, tfs = np.unique(
        rank[np.frombuffer(flat, dtype=np.int64)] * n + np.repeat(np.arange(n, dtype=np.int64), doc_lens),
        return_counts=True,
    )
    term_of, doc_of = np.divmod(keys, n)
    starts = np.flatnonzero(np.diff(term_of, prepend=-1, append=-1))
    return Segment(names, starts, doc_ids[doc_of], tfs, doc_lens[doc_of], doc_ids, doc_lens)


def top_k(pieces: Sequence[Piece], k: int) -> list[tuple[int, float]]:
    """Sum float32 scores per id, piece by piece in the given order (ids ascending and distinct within a
    piece); the k best (id, score), ties by id, zero scores dropped."""
    pieces = [(ids, scores) for ids, scores in pieces if ids.size]
    if not pieces or k <= 0:
        return []
    total = sum(ids.size for ids, _ in pieces)
    lo = min(int(ids[0]) for ids, _ in pieces)
    hi = max(int(ids[-1]) for ids, _ in pieces)
    if hi - lo + 1 <= 4 * total + 1024:
        base = 0 if 0 <= lo <= hi - lo else lo
        acc = np.zeros(hi - base + 1, dtype=np.float32)
        for ids, scores in pieces:
            acc[ids if base == 0 else np.subtract(ids, base, dtype=np.intp)] += scores
        cand = np.flatnonzero(acc)
        return select(cand + base, acc[cand], k)
    cand, where = np.unique(np.concatenate([ids for ids, _ in pieces]), return_inverse=True)
    score = np.zeros(cand.size, dtype=np.float32)
    np.add.at(score, where, np.concatenate([s for _, s in pieces]))  # in order, like bm25s
    return select(cand, score, k)


def select(cand: np.ndarray, score: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (id, score) of aligned arrays, ties by id, zero scores dropped."""
    keep = score > 0
    cand, score = cand[keep], score[keep]
    if cand.size > k:
        kth = np.partition(score, cand.size - k)[cand.size - k]
        keep = score >= kth
        cand, score = cand[keep], score[keep]
    order = np.lexsort((cand, -score))[:k]
    return [(int(cand[i]), float(score[i])) for i in order]


def lookup(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices into `wanted`, positions in ascending `ids`) of the wanted ids that `ids` holds."""
    probe = wanted
    if ids.dtype.itemsize < wanted.dtype.itemsize:  # search in the row's own width, without a copy of it
        info = np.iinfo(ids.dtype)
        probe = np.clip(wanted, info.min, info.max).astype(ids.dtype)
    at = np.minimum(np.searchsorted(ids, probe), ids.size - 1)
    found = np.flatnonzero(ids[at] == wanted)  # compared in the wider type: clipped ids never match
    return found, at[found]


def use_table(postings: int, cells: int) -> bool:
    """Whether a row is scored through a (tf, length) table: it is large and the table much smaller."""
    return postings >= LUT_MIN and cells <= postings // 2


class Finder:
    """Finds a query's candidate chunk ids (ascending) in rows: by binary search when they are few
    compared with the row, else through a dense id -> candidate map gathered over the row."""

    MAP_MAX = 1 << 24

    def __init__(self, cand: np.ndarray) -> None:
        """A finder for the ascending ids `cand`."""
        self.cand = cand
        self.lo, self.hi = (int(cand[0]), int(cand[-1])) if cand.size else (0, -1)
        self.slot: np.ndarray | None = None

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(indices into the candidates, positions in ascending `ids`) of the candidates `ids` holds."""
        span = self.hi - self.lo + 1
        if not ids.size or self.cand.size * 20 < ids.size or span > self.MAP_MAX:
            return lookup(ids, self.cand) if ids.size and self.cand.size else (_NONE, _NONE)
        if self.slot is None:
            self.slot = np.full(span, -1, dtype=np.int32)
            self.slot[self.cand - self.lo] = np.arange(self.cand.size, dtype=np.int32)
        low, high = _LIMITS.get(ids.dtype, (-(1 << 63), (1 << 63) - 1))
        a = int(np.searchsorted(ids, max(self.lo, low)))
        b = int(np.searchsorted(ids, min(self.hi, high), side="right"))
        slot = self.slot[np.subtract(ids[a:b], self.lo, dtype=np.intp)]
        at = np.flatnonzero(slot >= 0)
        return slot[at].astype(np.intp), at + a


class ReadRow:
    """A stored row prepared for scoring: ids ascending, and how to score each posting.

    Large rows keep, instead of frequencies and lengths, one small index per posting into a table of
    (tf, length) cells, so scoring them is one gather from a table computed per query."""

    __slots__ = ("cells", "ids", "lens", "max_tf", "min_len", "nbytes", "seg", "tfs", "width")

    def __init__(self, seg: int, postings: Postings) -> None:
        """Prepare the row of segment `seg`."""
        self.seg, self.ids = seg, postings.ids
        self.max_tf = int(postings.tfs.max())
        self.min_len = int(postings.lens.min())
        self.width = int(postings.lens.max()) - self.min_len + 1
        self.cells: np.ndarray | None = None
        self.tfs: np.ndarray | None = postings.tfs
        self.lens: np.ndarray | None = postings.lens
        if use_table(postings.size, self.max_tf * self.width):
            cells = (postings.tfs.astype(np.int64) - 1) * self.width + (postings.lens - self.min_len)
            self.cells = cells.astype(np.uint16 if self.max_tf * self.width <= 1 << 16 else np.int32)
            self.tfs = self.lens = None
        self.nbytes = sum(a.nbytes for a in (self.ids, self.cells, self.tfs, self.lens) if a is not None)

    @property
    def size(self) -> int:
        """Number of postings."""
        return int(self.ids.size)

    def scores(self, idf32: np.float32, avgdl: float, at: np.ndarray | None = None) -> np.ndarray:
        """float32 contributions of the row's postings (only those at positions `at`, if given)."""
        if self.cells is None:
            assert self.tfs is not None and self.lens is not None
            if at is None:
                return bm25(self.tfs, self.lens, idf32, avgdl)
            return bm25(self.tfs[at], self.lens[at], idf32, avgdl)
        tf = np.repeat(np.arange(1, self.max_tf + 1), self.width)
        length = np.tile(np.arange(self.min_len, self.min_len + self.width), self.max_tf)
        table = bm25(tf, length, idf32, avgdl)
        return table[self.cells if at is None else self.cells[at]]

    def bound(self, idf32: np.float32, avgdl: float) -> float:
        """The largest contribution a posting of this row makes (highest tf in the shortest chunk)."""
        return float(bm25(np.array([self.max_tf]), np.array([self.min_len]), idf32, avgdl)[0])


@dataclass
class TermRows:
    """A query term's rows with the positions of their dead postings, and its statistics."""

    rows: list[tuple[ReadRow, np.ndarray]]
    df: int
    idf: np.float32
    bound: float

    @classmethod
    def of(cls, rows: list[tuple[ReadRow, np.ndarray]], n_docs: int, avgdl: float) -> TermRows | None:
        """The term's statistics over live postings; None if it has none."""
        df = sum(row.size - dead.size for row, dead in rows)
        if df <= 0:
            return None
        weight = idf(df, n_docs)
        return cls(rows, df, weight, max(row.bound(weight, avgdl) for row, _ in rows))

    def pieces(self, avgdl: float) -> list[Piece]:
        """(ids, float32 contributions) per row; dead postings contribute 0."""
        out = []
        for row, dead in self.rows:
            scores = row.scores(self.idf, avgdl)
            if dead.size:
                scores[dead] = 0
            out.append((row.ids, scores))
        return out

    def at(self, finder: Finder, avgdl: float) -> np.ndarray:
        """float32 contribution to each candidate of `finder` (0 where the term is absent)."""
        out = np.zeros(finder.cand.size, dtype=np.float32)
        for row, dead in self.rows:
            found, at = finder.find(row.ids)
            if dead.size:
                live = ~np.isin(at, dead)
                found, at = found[live], at[live]
            if found.size:
                out[found] = row.scores(self.idf, avgdl, at)
        return out


def rank(query: Sequence[str], terms: dict[str, TermRows], k: int, avgdl: float) -> list[tuple[int, float]]:
    """The k best chunks for `query` (repeats count, terms missing from `terms` are skipped).

    Terms are scored in full in order of their largest possible contribution; as soon as the k-th best
    partial score exceeds what all remaining terms together can add, the remaining (common) terms are
    only looked up for the chunks that can still make the top k, and those get their exact scores.
    Otherwise every term is scored in full. Either way the scores are bm25s' float32 sums."""
    known = [t for t in query if t in terms]
    if not known or k <= 0:
        return []
    times = Counter(known)
    order = sorted(times, key=lambda t: terms[t].bound * times[t], reverse=True)
    reach = [terms[t].bound * times[t] for t in order]
    rest = [sum(reach[i:]) for i in range(len(order) + 1)]
    full: dict[str, list[Piece]] = {}
    scored = 0
    for i, term in enumerate(order[:-1]):
        full[term] = terms[term].pieces(avgdl)
        scored += terms[term].df
        if scored > PRUNE_MAX:
            break
        cand = candidates([(p, times[t]) for t in order[: i + 1] for p in full[t]], k, rest[i + 1])
        if cand is not None:
            score = np.zeros(cand.size, dtype=np.float32)
            finder = Finder(cand)
            contribution = {t: terms[t].at(finder, avgdl) for t in order}
            for t in known:
                score += contribution[t]
            return select(cand, score, k)
    for term in order:
        if term not in full:
            full[term] = terms[term].pieces(avgdl)
    return top_k([piece for t in known for piece in full[t]], k)


def candidates(pieces: list[tuple[Piece, int]], k: int, rest: float) -> np.ndarray | None:
    """Chunk ids that can still reach the top k, if the k-th best partial score beats `rest` (the most
    the remaining terms can add); None if it does not."""
    ids = np.concatenate([ids for (ids, _), _ in pieces])
    if ids.size < k:
        return None
    partial_scores = np.concatenate([s.astype(np.float64) * times for (_, s), times in pieces])
    cand, where = np.unique(ids, return_inverse=True)
    partial = np.bincount(where, weights=partial_scores, minlength=cand.size)
    if cand.size < k:
        return None
    kth = np.partition(partial, cand.size - k)[cand.size - k]
    slack = rest * (1 + BOUND_SLACK)
    if kth <= 0 or slack >= kth:
        return None
    return cand[partial + slack >= kth]


def _new_version() -> int:
    """A random 62-bit version stamp (random so a rolled-back write can never be mistaken for another)."""
    return int.from_bytes(os.urandom(8), "little") >> 2


class LexicalStore:
    """Incremental BM25 over chunks in the tables of `SCHEMA`, on the record store's connection.

    `add`, `remove`, `compact` and `rebuild` write inside the caller's transaction (they start one
    with BEGIN IMMEDIATE if none is open, and never commit). Reads take one consistent snapshot, so
    another connection or process sees a writer's changes as soon as it commits.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        cache_mib: int = 128,
        committed_only: Callable[[], bool] | None = None,
    ) -> None:
        """A store on `db`, whose tables the record store created from `SCHEMA`; large rows read by
        queries stay decoded in a cache of up to `cache_mib` MiB (0 turns it off). `committed_only`
        tells whether a transaction the caller opened sees committed data only (a read snapshot that
        wrote nothing), so rows read in it may be cached too."""
        self._db = db
        self._committed_only = committed_only
        self._cache = _RowCache(cache_mib << 20)
        self._version: int | None = None
        self._stats = dict.fromkeys(_STAT_KEYS, 0)
        self._dead_ids = np.zeros(0, dtype=np.int64)
        self._dead_upto = np.zeros(0, dtype=np.int64)
        self._dead_max = -1
        self.rows_written = 0
        self.postings_written = 0

    # ---------- reading ----------
    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """BM25 over live chunks: (chunk id, score) best first, at most k, zero scores dropped."""
        if not terms or k <= 0:
            return []
        with self._snapshot() as committed:
            self._sync()
            n_docs = self._stats["docs"]
            if n_docs <= 0:
                return []
            avgdl = self._stats["length"] / n_docs
            found: dict[str, TermRows] = {}
            for term in dict.fromkeys(terms):
                rows = [(r, self._dead_positions(r.seg, r.ids)) for r in self._read_rows(term, committed)]
                stats = TermRows.of(rows, n_docs, avgdl) if rows else None
                if stats is not None:
                    found[term] = stats
        return rank(terms, found, k, avgdl)

    def vocabulary_share(self, terms: Sequence[str]) -> float:
        """Share of `terms` (repeats counted) that occur in a live chunk."""
        if not terms:
            return 0.0
        with self._snapshot():
            self._sync()
            known = {t: self._has_live(t) for t in set(terms)}
        return sum(known[t] for t in terms) / len(terms)

    def count(self) -> int:
        """Number of live chunks."""
        row = self._db.execute("SELECT value FROM lexical_stats WHERE key = 'docs'").fetchone()
        return int(row[0]) if row else 0

    def refresh(self) -> bool:
        """Re-read the statistics and tombstones if another writer changed them; True if it did."""
        with self._snapshot():
            return self._sync()

    def check(self) -> list[str]:
        """Problems found (empty if none): stats against lexical_docs, postings against live chunks."""
        with self._snapshot():
            self._sync()
            return _Checker(self).run()

    # ---------- writing ----------
    def add(self, docs: Iterable[tuple[int, Sequence[str]]]) -> None:
        """Index chunks given as (chunk id, terms); a chunk id that is live already is replaced."""
        batch = [(int(cid), terms) for cid, terms in docs]
        if not batch:
            return
        self._begin()
        self._sync()
        self._add(batch)
        self._save()

    def remove(self, chunk_ids: Iterable[int]) -> int:
        """Remove chunks by id (unknown ids are ignored); the number removed."""
        ids = sorted({int(i) for i in chunk_ids})
        if not ids:
            return 0
        self._begin()
        self._sync()
        removed = self._remove(ids)
        if removed:
            self._save()
        return removed

    def compact(self) -> None:
        """Merge every term's rows into one, dropping removed chunks; then no tombstone is needed."""
        self._begin()
        self._sync()
        self._merge_every_term()
        self._db.execute("DELETE FROM lexical_dead")
        self._set_dead(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self._save()

    def rebuild(self, docs: Iterable[tuple[int, Sequence[str]]]) -> None:
        """Drop everything and index `docs` afresh, in segments of about SEGMENT_TERMS terms."""
        self._begin()
        self._sync()
        for table in ("postings", "lexical_docs", "lexical_dead", "lexical_stats"):
            self._db.execute(f"DELETE FROM {table}")
        # segment numbers keep growing and the epoch changes, so no cached row is mistaken for a new one
        self._stats = {**dict.fromkeys(_STAT_KEYS, 0), "next_seg": self._stats["next_seg"]}
        self._set_dead(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        # segments are staged in a temporary table, so each final row is written to the file once
        self._db.execute(f"CREATE TEMP TABLE lexical_build({_STAGE_COLUMNS})")
        self._db.execute("CREATE INDEX temp.lexical_build_term ON lexical_build(term, seg)")
        try:
            batch: list[tuple[int, Sequence[str]]] = []
            size = 0
            for cid, terms in docs:
                batch.append((int(cid), terms))
                size += len(terms) + 1
                if size >= SEGMENT_TERMS:
                    self._stage(batch)
                    batch, size = [], 0
            if batch:
                self._stage(batch)
            self._unstage()
        finally:
            self._db.execute("DROP TABLE temp.lexical_build")
        self._save()

    def _stage(self, batch: list[tuple[int, Sequence[str]]]) -> None:
        """Write a segment of `batch` to the staging table, and the chunks to lexical_docs."""
        if len({cid for cid, _ in batch}) != len(batch):
            raise ValueError("a chunk id occurs twice in one rebuild")
        new = segment(batch)
        self._db.executemany(
            _INSERT_ROW.format(table="temp.lexical_build"),
            new.rows(self._allocate()),
        )
        self._insert_docs(new)

    def _unstage(self) -> None:
        """One row per term in `postings` from the staged segments, written in term order."""
        seg = self._allocate()
        rows: list[tuple[str, int, int, int, bytes, bytes, bytes]] = []
        group: list[Postings] = []
        current: str | None = None
        sql = "SELECT term, n, ids, tfs, lens FROM temp.lexical_build ORDER BY term, seg"
        for term, n, ids, tfs, lens in chain(self._db.execute(sql), [(None, 0, b"", b"", b"")]):
            if term != current and current is not None:
                merged = self._combine(current, group)
                rows.append((current, seg, size_level(merged.size), merged.size, *pack(merged)))
                self.postings_written += merged.size
                group = []
                if len(rows) >= 1000 or term is None:
                    self._db.executemany(
                        _INSERT_ROW.format(table="postings"),
                        rows,
                    )
                    self.rows_written += len(rows)
                    rows = []
            current = term
            staged = unpack(n, ids, tfs, lens) if term is not None else None
            if staged is not None:
                group.append(staged)

    # ---------- internals: transactions and cached state ----------
    @contextmanager
    def _snapshot(self) -> Iterator[bool]:
        """Run reads in one read transaction, or in the caller's if one is open; yields True when the
        reads see committed data only (our own transaction, or a caller's read snapshot as
        `committed_only` tells), which is what the row cache may keep."""
        if self._db.in_transaction:
            yield self._committed_only is not None and self._committed_only()
            return
        self._db.execute("BEGIN")
        try:
            yield True
        finally:
            self._db.execute("COMMIT")

    def _begin(self) -> None:
        """Make sure a write transaction is open (the caller commits or rolls it back)."""
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

    def _sync(self) -> bool:
        """Reload stats and tombstones when the stored version differs from the cached one."""
        row = self._db.execute("SELECT value FROM lexical_stats WHERE key = 'version'").fetchone()
        version = int(row[0]) if row else 0
        if version == self._version:
            return False
        stats = dict(self._db.execute("SELECT key, value FROM lexical_stats").fetchall())
        self._stats = {key: int(stats.get(key, 0)) for key in _STAT_KEYS}
        dead = np.array(
            self._db.execute("SELECT chunk_id, upto FROM lexical_dead ORDER BY chunk_id").fetchall(),
            dtype=np.int64,
        ).reshape(-1, 2)
        self._set_dead(dead[:, 0].copy(), dead[:, 1].copy())
        self._version = version
        return True

    def _save(self) -> None:
        """Write the cached stats with a new version stamp."""
        self._version = _new_version()
        if not self._stats["epoch"]:
            self._stats["epoch"] = _new_version()
        self._db.executemany(
            "INSERT OR REPLACE INTO lexical_stats(key, value) VALUES (?, ?)",
            [*self._stats.items(), ("version", self._version)],
        )

    def _set_dead(self, ids: np.ndarray, upto: np.ndarray) -> None:
        """Cache tombstones: ids ascending with the newest segment each hides."""
        self._dead_ids, self._dead_upto = ids, upto
        self._dead_max = int(upto.max()) if upto.size else -1

    def _allocate(self) -> int:
        """A new segment number."""
        seg = self._stats["next_seg"]
        self._stats["next_seg"] = seg + 1
        return seg

    def _where(self) -> str:
        """The database file, for messages."""
        row = self._db.execute("PRAGMA database_list").fetchone()
        return (row[2] if row else "") or "the index database"

    # ---------- internals: postings ----------
    def _dead_positions(self, seg: int, ids: np.ndarray) -> np.ndarray:
        """Positions in a row's ascending `ids` whose chunk was removed after the row was written."""
        if seg > self._dead_max or not ids.size:
            return np.zeros(0, dtype=np.intp)
        dead, upto = self._dead_ids, self._dead_upto
        if ids.size <= dead.size:
            at = np.minimum(np.searchsorted(dead, ids), dead.size - 1)
            return np.flatnonzero((dead[at] == ids) & (upto[at] >= seg))
        at = np.searchsorted(ids, dead)
        inside = at < ids.size
        at, dead, upto = at[inside], dead[inside], upto[inside]
        return at[(ids[at] == dead) & (upto >= seg)]

    def _live(self, row: _Row) -> Postings:
        """The row's postings whose chunks are live."""
        gone = self._dead_positions(row.seg, row.postings.ids)
        if not gone.size:
            return row.postings
        keep = np.ones(row.postings.size, dtype=bool)
        keep[gone] = False
        return row.postings.take(keep)

    def _rows(self, term: str, segs: Sequence[int] | None = None) -> list[_Row]:
        """The stored rows of `term` (only segments `segs`, if given), decoded."""
        sql = "SELECT seg, level, n, ids, tfs, lens FROM postings WHERE term = ?"
        args: list[object] = [term]
        if segs is not None:
            sql += f" AND seg IN ({marks(len(segs))})"
            args += list(segs)
        rows = []
        for seg, level, n, ids, tfs, lens in self._db.execute(sql, args):
            postings = unpack(n, ids, tfs, lens)
            if postings is None:
                raise IndexCorruptError(
                    f"{self._where()}: the lexical postings of term {term!r} (segment {seg}) are damaged; "
                    "run 'newsbot repair'"
                )
            rows.append(_Row(seg, level, postings))
        return rows

    def _read_rows(self, term: str, cacheable: bool) -> list[ReadRow]:
        """`term`'s rows prepared for scoring; large committed rows come from (and go to) the cache."""
        if not cacheable or not self._cache.budget:
            return [ReadRow(r.seg, r.postings) for r in self._rows(term)]
        epoch = self._stats["epoch"]
        listed = self._db.execute("SELECT seg, n FROM postings WHERE term = ?", (term,)).fetchall()
        cached = [self._cache.get((epoch, term, seg)) if n >= CACHE_MIN else None for seg, n in listed]
        rows = [row for row in cached if row is not None]
        if len(rows) < len(listed):
            wanted = [seg for (seg, _), row in zip(listed, cached, strict=True) if row is None]
            for stored in self._rows(term, wanted if rows else None):
                row = ReadRow(stored.seg, stored.postings)
                if row.size >= CACHE_MIN:
                    self._cache.put((epoch, term, row.seg), row)
                rows.append(row)
        return rows

    def _has_live(self, term: str) -> bool:
        """Whether `term` has a live posting (reads ids only where tombstones could hide the whole row)."""
        for seg, n in self._db.execute("SELECT seg, n FROM postings WHERE term = ?", (term,)).fetchall():
            if n > 0 and (seg > self._dead_max or n > np.count_nonzero(self._dead_upto >= seg)):
                return True  # a tombstone hides at most one posting of a row
            row = self._db.execute(
                "SELECT ids FROM postings WHERE term = ? AND seg = ?", (term, seg)
            ).fetchone()
            width = len(row[0]) // n if n > 0 and len(row[0]) % n == 0 else 0
            if width in _ID_TYPES:
                ids = np.frombuffer(row[0], dtype=_ID_TYPES[width])
                if self._dead_positions(seg, ids).size < ids.size:
                    return True
        return False

    def _write(self, term: str, seg: int, level: int, postings: Postings) -> None:
        """Insert one row."""
        self._db.execute(
            _INSERT_ROW.format(table="postings"),
            (term, seg, level, postings.size, *pack(postings)),
        )
        self.rows_written += 1
        self.postings_written += postings.size

    def _add(self, batch: list[tuple[int, Sequence[str]]]) -> None:
        """Write one segment for `batch` and merge the rows of its terms that filled a level."""
        ids = [cid for cid, _ in batch]
        if len(set(ids)) != len(ids):
            raise ValueError("a chunk id occurs twice in one add")
        live = [
            int(r[0])
            for part in batches(ids)
            for r in self._db.execute(
                f"SELECT chunk_id FROM lexical_docs WHERE chunk_id IN ({marks(len(part))})", part
            )
        ]
        if live:
            self._remove(sorted(live))
        new = segment(batch)
        rows = new.rows(self._allocate())
        self._db.executemany(_INSERT_ROW.format(table="postings"), rows)
        self.rows_written += len(rows)
        self.postings_written += int(new.ids.size)
        self._insert_docs(new)
        for term in self._terms_with_full_levels(new.terms):
            self._merge_full_levels(term)

    def _insert_docs(self, new: Segment) -> None:
        """Record the chunks of a new segment in lexical_docs and the stats."""
        try:
            self._db.executemany(
                "INSERT INTO lexical_docs(chunk_id, len) VALUES (?, ?)",
                zip(new.doc_ids.tolist(), new.doc_lens.tolist(), strict=True),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"a chunk id occurs twice ({exc})") from exc
        self._stats["docs"] += int(new.doc_ids.size)
        self._stats["length"] += int(new.doc_lens.sum())
        self._stats["max_id"] = max(self._stats["max_id"], int(new.doc_ids.max()))

    def _remove(self, ids: Sequence[int]) -> int:
        """Tombstone the live chunks among ascending `ids`; the number removed."""
        found: list[tuple[int, int]] = []
        for part in batches(ids):
            where = f"chunk_id IN ({marks(len(part))})"
            found += self._db.execute(
                f"SELECT chunk_id, len FROM lexical_docs WHERE {where}", part
            ).fetchall()
            self._db.execute(f"DELETE FROM lexical_docs WHERE {where}", part)
        if not found:
            return 0
        upto = self._stats["next_seg"] - 1
        gone = np.array(sorted(cid for cid, _ in found), dtype=np.int64)
        self._db.executemany(
            "INSERT OR REPLACE INTO lexical_dead(chunk_id, upto) VALUES (?, ?)",
            [(int(cid), upto) for cid in gone],
        )
        kept = ~np.isin(self._dead_ids, gone)
        ids_all = np.concatenate((self._dead_ids[kept], gone))
        upto_all = np.concatenate((self._dead_upto[kept], np.full(gone.size, upto, dtype=np.int64)))
        order = np.argsort(ids_all, kind="stable")
        self._set_dead(ids_all[order], upto_all[order])
        self._stats["docs"] -= len(found)
        self._stats["length"] -= sum(length for _, length in found)
        return len(found)

    def _merge_every_term(self) -> None:
        """Leave one row per term, without dead postings (all merged rows share one new segment)."""
        seg = self._allocate()
        terms = self._db.execute("SELECT term, COUNT(*), MIN(seg) FROM postings GROUP BY term").fetchall()
        for term, rows, oldest in terms:
            if rows > 1 or oldest <= self._dead_max:
                self._merge(term, None, 0, seg)

    def _terms_with_full_levels(self, terms: Sequence[str]) -> list[str]:
        """Those of `terms` that have FANOUT rows of one level."""
        full: set[str] = set()
        for part in batches(terms):
            full.update(
                term
                for term, _ in self._db.execute(
                    f"SELECT term, level FROM postings WHERE term IN ({marks(len(part))}) "
                    "GROUP BY term, level HAVING COUNT(*) >= ?",
                    [*part, FANOUT],
                )
            )
        return sorted(full)

    def _merge_full_levels(self, term: str) -> None:
        """Merge `term`'s rows while some level holds FANOUT of them (lowest level first)."""
        while True:
            rows = self._db.execute("SELECT seg, level FROM postings WHERE term = ?", (term,)).fetchall()
            per_level = Counter(level for _, level in rows)
            full = [level for level, count in per_level.items() if count >= FANOUT]
            if not full:
                return
            level = min(full)
            self._merge(term, [seg for seg, lv in rows if lv == level], level + 1, self._allocate())

    def _combine(self, term: str, parts: Sequence[Postings]) -> Postings:
        """One row of `term` from the postings of several (ids ascending, each chunk once)."""
        merged = concat(parts)
        if len(parts) > 1:
            steps = np.diff(merged.ids)
            if np.any(steps <= 0):  # rows of chunks added in id order are already in order
                merged = merged.take(np.argsort(merged.ids, kind="stable"))
                steps = np.diff(merged.ids)
            if np.any(steps == 0):
                raise IndexCorruptError(
                    f"{self._where()}: term {term!r} has two live postings for one chunk; "
                    "run 'newsbot repair'"
                )
        return merged

    def _merge(self, term: str, segs: Sequence[int] | None, min_level: int, seg: int) -> None:
        """Replace `term`'s rows in `segs` (all if None) by one row of their live postings, ids ascending."""
        rows = self._rows(term, segs)
        parts = [p for p in (self._live(r) for r in rows) if p.size]
        merged = self._combine(term, parts) if parts else None
        if segs is None:
            self._db.execute("DELETE FROM postings WHERE term = ?", (term,))
        for part in batches([r.seg for r in rows] if segs is not None else []):
            self._db.execute(
                f"DELETE FROM postings WHERE term = ? AND seg IN ({marks(len(part))})",
                [term, *part],
            )
        if merged is not None:
            self._write(term, seg, max(min_level, size_level(merged.size)), merged)


class _RowCache:
    """Decoded rows by (epoch, term, segment), least recently used dropped beyond a byte budget.

    A committed row never changes: merges write new segment numbers, and segment numbers are never
    reused within an epoch (rebuild keeps them growing; wiped tables start a new epoch)."""

    def __init__(self, budget: int) -> None:
        """An empty cache of `budget` bytes."""
        self.budget = budget
        self.used = 0
        self.rows: OrderedDict[tuple[int, str, int], ReadRow] = OrderedDict()

    def get(self, key: tuple[int, str, int]) -> ReadRow | None:
        """The cached row, or None."""
        row = self.rows.get(key)
        if row is not None:
            self.rows.move_to_end(key)
        return row

    def put(self, key: tuple[int, str, int], row: ReadRow) -> None:
        """Keep `row`, dropping the least recently used rows beyond the budget."""
        if row.nbytes > self.budget // 4 or key in self.rows:
            return
        self.rows[key] = row
        self.used += row.nbytes
        while self.used > self.budget:
            _, old = self.rows.popitem(last=False)
            self.used -= old.nbytes


class _Checker:
    """One pass over the lexical tables, collecting what disagrees."""

    def __init__(self, store: LexicalStore) -> None:
        """A checker reading `store`'s tables in the snapshot the caller holds."""
        self.store = store
        self.db = store._db
        self.problems: list[str] = []
        self.extra = 0

    def report(self, message: str) -> None:
        """Note one problem (only the first MAX_PROBLEMS are kept in full)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
        else:
            self.extra += 1

    def run(self) -> list[str]:
        """All problems found."""
        docs = np.array(
            self.db.execute("SELECT chunk_id, len FROM lexical_docs ORDER BY chunk_id").fetchall(),
            dtype=np.int64,
        ).reshape(-1, 2)
        self.check_stats(docs)
        held = np.zeros(len(docs), dtype=np.int64)
        self.check_postings(docs, held)
        for i in np.flatnonzero(held != docs[:, 1]).tolist():
            self.report(f"lexical: chunk {docs[i, 0]} has {docs[i, 1]} terms but its postings hold {held[i]}")
        if self.extra:
            self.problems.append(f"lexical: ... and {self.extra} more problems")
        return self.problems

    def check_stats(self, docs: np.ndarray) -> None:
        """Stats agree with lexical_docs; segment numbers and tombstones are in range."""
        stats = self.store._stats
        if stats["docs"] != len(docs):
            self.report(f"lexical: stats count {stats['docs']} chunks, lexical_docs holds {len(docs)}")
        if stats["length"] != int(docs[:, 1].sum()):
            self.report(f"lexical: stats total length {stats['length']}, lexical_docs sum {docs[:, 1].sum()}")
        if len(docs) and stats["max_id"] < int(docs[:, 0].max()):
            self.report(f"lexical: stats max id {stats['max_id']} below chunk {docs[:, 0].max()}")
        top = self.db.execute("SELECT MAX(seg) FROM postings").fetchone()[0]
        if top is not None and top >= stats["next_seg"]:
            self.report(f"lexical: segment {top} is not below the next segment number {stats['next_seg']}")
        if self.store._dead_max >= stats["next_seg"]:
            self.report(f"lexical: a tombstone hides segment {self.store._dead_max}, not written yet")

    def check_postings(self, docs: np.ndarray, held: np.ndarray) -> None:
        """Every row decodes, ids ascend, live postings name live chunks with their lengths once per term.

        Rows are checked in batches of about CHECK_BATCH postings, cut only between terms."""
        batch: list[tuple[str, int, Postings]] = []
        size, last = 0, None
        sql = "SELECT term, seg, level, n, ids, tfs, lens FROM postings ORDER BY term, seg"
        for term, seg, level, n, ids, tfs, lens in self.db.execute(sql):
            if term != last and size >= CHECK_BATCH:
                self.check_batch(batch, docs, held)
                batch, size = [], 0
            last = term
            postings = unpack(n, ids, tfs, lens)
            if postings is None or level < 0:
                self.report(f"lexical: term {term!r} segment {seg}: damaged row")
                continue
            batch.append((term, seg, postings))
            size += postings.size
        if batch:
            self.check_batch(batch, docs, held)

    def check_batch(self, batch: list[tuple[str, int, Postings]], docs: np.ndarray, held: np.ndarray) -> None:
        """Check the rows of whole terms at once; add their live term frequencies to `held`."""
        sizes = np.array([p.size for _, _, p in batch])
        row = np.repeat(np.arange(len(batch)), sizes)
        ids = np.concatenate([p.ids.astype(np.int64) for _, _, p in batch])
        tfs = np.concatenate([p.tfs.astype(np.int64) for _, _, p in batch])
        lens = np.concatenate([p.lens.astype(np.int64) for _, _, p in batch])
        bad = np.flatnonzero((np.diff(ids) <= 0) & (row[1:] == row[:-1]))
        for r in np.unique(np.concatenate((row[bad], row[tfs == 0]))):
            self.report(f"lexical: term {batch[r][0]!r} segment {batch[r][1]}: ids not ascending or tf 0")
        live = ~self.dead(ids, np.repeat([seg for _, seg, _ in batch], sizes))
        row, ids, tfs, lens = row[live], ids[live], tfs[live], lens[live]
        term = np.unique([t for t, _, _ in batch], return_inverse=True)[1][row]
        order = np.lexsort((ids, term))
        twice = (np.diff(ids[order]) == 0) & (np.diff(term[order]) == 0)
        for r in np.unique(row[order][1:][twice]):
            self.report(f"lexical: term {batch[r][0]!r} has two live postings for one chunk")
        at = np.minimum(np.searchsorted(docs[:, 0], ids), max(len(docs) - 1, 0))
        known = docs[at, 0] == ids if len(docs) else np.zeros(ids.size, dtype=bool)
        unknown_rows, first = np.unique(row[~known], return_index=True)
        for r, cid in zip(unknown_rows.tolist(), ids[~known][first].tolist(), strict=True):
            self.report(
                f"lexical: term {batch[r][0]!r} segment {batch[r][1]}: posting of unknown chunk {cid}"
            )
        row, at, tfs, lens = row[known], at[known], tfs[known], lens[known]
        for r in np.unique(row[docs[at, 1] != lens]):
            self.report(f"lexical: term {batch[r][0]!r} segment {batch[r][1]}: a chunk length differs")
        held += np.bincount(at, weights=tfs, minlength=len(held)).astype(np.int64)

    def dead(self, ids: np.ndarray, segs: np.ndarray) -> np.ndarray:
        """Which postings (chunk id, segment) a tombstone hides."""
        dead, upto = self.store._dead_ids, self.store._dead_upto
        if not dead.size:
            return np.zeros(ids.size, dtype=bool)
        at = np.minimum(np.searchsorted(dead, ids), dead.size - 1)
        return (dead[at] == ids) & (upto[at] >= segs)
