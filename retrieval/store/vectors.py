"""The derived FAISS vector index over one kind of the record store's vectors ("chunk", "sentence").

The record store (SQLite) is the truth: it holds every vector and a commit number. A `FaissVectors`
is a snapshot of one kind's vectors on disk (`{kind}.faiss` and its sidecar `{kind}.json`), tagged
with the store's id and commit, and brought up to date from the store when it lags: the ids
removed since the snapshot's commit are removed, the rows added since are added. It never needs
the original sources; a snapshot that fails any check when opened is rebuilt from the store.

Two tiers, chosen by size:
- "flat": exact inner product over float16 rows (`IndexIDMap2(IndexScalarQuantizer(QT_fp16))`)
  while the kind has at most `exact_max` vectors. The store keeps float16, so this holds the stored
  values exactly, with half the memory and half the memory traffic per search of float32;
- "ivf": an inverted file with PQ codes above it (72 bytes a 512-d vector with its id, no float32),
  searched in `nprobe` lists for max(refine * k, REFINE_PER_MILLION * count / 1M) candidates that
  are then re-scored exactly with the store's own vectors, so the scores returned are exact inner
  products.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

import numpy as np

from retrieval.errors import IndexCorruptError, IndexWriteError, NewsbotError
from retrieval.store.records import KINDS, NORM_RANGE

log = logging.getLogger(__name__)

FORMAT = 1
FLAT, IVF = "flat", "ivf"
FLAT_FACTORY = "IDMap2,SQfp16"
# Snapshots are rewritten once this many changes (added + removed) have been applied since the last
# one, or this share of the index: adding k vectors then costs O(k) amortised.
SAVE_MIN_LAG = 2_000
SAVE_LAG_SHARE = 0.10
# The ivf tier is retrained (rebuilt) once the kind has grown this many times since training, and
# goes back to the flat tier when it has shrunk to half of exact_max.
RETRAIN_GROWTH = 4
# ivf tier parameters, chosen by measurement on clustered 512-d unit vectors (2,000 centroids, top-1
# cosine 0.72, top-10 0.69; 2 busy cores). 1M: IVF1024,PQ64 trained on 65,536 rows in ~70 s, 32
# lists searched, 200 candidates re-scored for k=10: recall@10 0.98, p50 2-7 ms; trained at 250k
# (IVF512) and grown to 1M: 0.97. 2.5M: 200 candidates give 0.94, 400 give 0.976: PQ's ranking
# errors grow with density, so the candidates do too (REFINE_PER_MILLION per million vectors, at
# least REFINE per result wanted). Lists: one per sqrt(count), at most NLIST_MAX.
REFINE = 10
REFINE_PER_MILLION = 200
NLIST_PER_SQRT = 1.0
NLIST_MAX = 1024
NPROBE = 32
TRAIN_SIZE = 65_536
# Fewer training points per centroid than this and FAISS's k-means warns (and degrades).
_MIN_POINTS_PER_CENTROID = 39
# Below this many vectors an ivf index cannot be trained (16 PQ centroids need 39 points each).
_IVF_MIN_ROWS = _MIN_POINTS_PER_CENTROID * 16
_CATCH_UP_ROUNDS = 4
_READ_RETRIES = 3
_NORM_BLOCK = 65_536
_IO_BLOCK = 1 << 20
_PARALLEL_MIN_ROWS = 20_000


@runtime_checkable
class VectorSource(Protocol):
    """What a derived vector index reads from the record store."""

    @property
    def store_id(self) -> str:
        """Random id made when the store was created."""
        ...

    def commit(self) -> int:
        """The store's current commit number (0 = empty)."""
        ...

    def count(self, kind: str) -> int:
        """Rows of that kind now stored."""
        ...

    def added_since(
        self, kind: str, commit: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids int64 (n,), vectors float32 (n, dim)) of rows added after `commit` that still exist,
        in batches."""
        ...

    def removed_since(self, kind: str, commit: int) -> np.ndarray:
        """int64 ids removed after `commit`."""
        ...

    def vectors_of(self, kind: str, ids: Sequence[int]) -> np.ndarray:
        """float32 (len(ids), dim), same order; exact stored vectors. An id no longer stored
        raises KeyError (or comes back as a row of NaN): the index then catches up and retries."""
        ...

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """Up to n stored vectors, float32, for training."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """A vector index derived from the record store (FAISS now; Milvus plugs into the same seam)."""

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest stored vectors by inner product: (id, score) best first."""
        ...

    def stored_vectors(self, ids: Sequence[int]) -> np.ndarray | None:
        """The stored vectors of `ids` (float32 rows) when the index holds them in memory exactly,
        else None (the caller reads the record store)."""
        ...

    def refresh(self) -> None:
        """Catch up with the store's latest commit (cheap when nothing changed)."""
        ...

    def __len__(self) -> int:
        """Vectors searchable now."""
        ...

    def check(self) -> list[str]:
        """Problems found, one line each; empty when the index is sound."""
        ...

    def rebuild(self) -> None:
        """Rebuild from the store and write the snapshot."""
        ...

    def save(self, force: bool = False) -> bool:
        """Write the snapshot when forced or when it lags enough; whether it wrote."""
        ...


@dataclass(frozen=True)
class IvfParams:
    """Shape of an ivf-tier index: lists, PQ segments and bits, lists searched, training rows."""

    nlist: int
    m: int
    nbits: int
    nprobe: int
    train_size: int

    @property
    def factory(self) -> str:
        """The FAISS index_factory string."""
        return f"IVF{self.nlist},PQ{self.m}x{self.nbits}"


def ivf_params(count: int, dim: int, available: int | None = None) -> IvfParams:
    """The ivf tier's parameters for `count` vectors of `dim`, trained on at most `available` rows."""
    nlist = _power_of_two(NLIST_PER_SQRT * math.sqrt(max(count, 1)), 16, NLIST_MAX)
    train_size = min(count, TRAIN_SIZE)
    if available is not None:
        train_size = min(train_size, available)
    while nlist > 1 and train_size < _MIN_POINTS_PER_CENTROID * nlist:
        nlist //= 2
    nbits = 8
    while nbits > 4 and train_size < _MIN_POINTS_PER_CENTROID * (1 << nbits):
        nbits -= 1
    nprobe = min(nlist, NPROBE)
    return IvfParams(nlist, _pq_segments(dim), nbits, nprobe, max(train_size, 1))


def _power_of_two(value: float, low: int, high: int) -> int:
    """The power of two nearest to value (in log scale), clipped to [low, high]."""
    return int(min(high, max(low, 2 ** round(math.log2(max(value, 1.0))))))


def _pq_segments(dim: int) -> int:
    """PQ sub-quantizers: dim / 8 (one byte per 8 dimensions), or the nearest divisor of dim below."""
    m = max(1, dim // 8)
    while dim % m:
        m -= 1
    return m


# ---------- FAISS threads ----------
_thread_state = threading.local()


@lru_cache(maxsize=1)
def _faiss() -> Any:
    """The faiss module (imported on first use)."""
    import faiss

    return faiss


def _single_threaded() -> Any:
    """faiss with one OpenMP thread for this Python thread (searches: threads cost more than they
    save for one query). OpenMP's setting is per thread, so each thread sets it once."""
    faiss = _faiss()
    if not getattr(_thread_state, "single", False):
        faiss.omp_set_num_threads(1)
        _thread_state.single = True
    return faiss


@contextlib.contextmanager
def _build_threads(rows: int) -> Iterator[Any]:
    """faiss with every core for training on or adding `rows` rows when that is enough work to
    pay for them (small jobs run faster on one thread, above all on a busy machine); one thread
    again afterwards."""
    faiss = _single_threaded()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    faiss.omp_set_num_threads(cores if rows >= _PARALLEL_MIN_ROWS else 1)
    try:
        yield faiss
    finally:
        faiss.omp_set_num_threads(1)


# ---------- snapshots on disk ----------
class _BadSnapshot(Exception):
    """A snapshot on disk that cannot be used; the message is the reason."""


class _TornSnapshot(_BadSnapshot):
    """The .faiss file does not match its sidecar: maybe bad, maybe caught between two writes."""


@dataclass
class _Loaded:
    """An index read from disk with its sidecar."""

    index: Any
    meta: dict[str, Any]


def _crc32_of(handle: BinaryIO) -> int:
    """CRC-32 of a file's bytes from its current position to the end."""
    crc = 0
    while block := handle.read(_IO_BLOCK):
        crc = zlib.crc32(block, crc)
    return crc


def _fsync_directory(directory: Path) -> None:
    """Make renames in the folder durable (no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temporaries(directory: Path, prefix: str) -> None:
    """Delete temporary files left by writers that no longer run (`.{prefix}.{pid}.tmp`)."""
    for path in directory.glob(f".{prefix}.*.tmp"):
        pid = path.name[len(prefix) + 2 : -len(".tmp")]
        if pid.isdigit() and not _process_alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FaissVectors:
    """One kind's vectors in a FAISS index derived from the record store; see the module docstring.

    Lazy: nothing is read until the first search, refresh, len, save or check. Not thread-safe: a
    process that searches from several threads while refreshing holds its own lock around them.
    """

    def __init__(
        self, directory: Path, kind: str, dim: int, source: VectorSource, *, exact_max: int = 200_000
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.directory = Path(directory)
        self.kind = kind
        self.dim = int(dim)
        self.source = source
        self.exact_max = int(exact_max)
        self.index_path = self.directory / f"{kind}.faiss"
        self.meta_path = self.directory / f"{kind}.json"
        self.refine, self.refine_per_million = REFINE, REFINE_PER_MILLION
        # What this instance did, for tests and reports.
        self.rebuilds = 0
        self.rows_added = 0
        self.snapshots_written = 0
        self._index: Any = None
        self._tier = FLAT
        self._trained_on = 0
        self._factory = FLAT_FACTORY
        self._nprobe: int | None = None
        self._commit = 0
        # True when rows added after _commit may already be in the index (the store moved while
        # catching up): the next catch-up then removes each added id before adding it again.
        self._fuzzy = False
        self._lag = 0  # changes applied since the snapshot on disk was written or read
        self._on_disk = False  # the snapshot on disk is an earlier state of this index
        # The flat tier's ids sorted, with their rows: built on first lookup, dropped on change.
        self._rows: tuple[np.ndarray, np.ndarray] | None = None

    # ---------- public API ----------
    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k stored vectors with the highest inner product with `query`: (id, score) best first.

        Flat tier: exact. ivf tier: max(refine * k, refine_per_million * count / 1M) candidates from
        `nprobe` lists, re-scored with the store's exact vectors, so the scores are exact inner
        products."""
        self._ensure()
        if k <= 0 or self._index.ntotal == 0:
            return []
        vector = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if vector.shape[1] != self.dim:
            raise ValueError(f"query has {vector.shape[1]} dimensions, the {self.kind} index {self.dim}")
        _single_threaded()
        if self._tier == FLAT:
            scores, ids = self._index.search(vector, min(k, self._index.ntotal))
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        return self._refined_search(vector, k)

    def stored_vectors(self, ids: Sequence[int]) -> np.ndarray | None:
        """The vectors of `ids` as float32 rows read from the exact tier's memory (the store's own
        float16 values, so equal to what the store returns); None in the approximate tier or when
        an id is not in the index."""
        self._ensure()
        if self._tier != FLAT or not len(ids) or not self._index.ntotal:
            return None
        faiss = _faiss()
        if self._rows is None:
            id_map = faiss.vector_to_array(self._index.id_map)
            order = np.argsort(id_map, kind="stable")
            self._rows = (id_map[order], order)
        sorted_ids, order = self._rows
        wanted = np.asarray(ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
        if not np.array_equal(sorted_ids[at], wanted):
            return None
        rows = _fp16_rows(faiss, faiss.downcast_index(self._index.index), self.dim)
        return _as_float32(rows[order[at]])

    def refresh(self) -> None:
        """Catch up with the store: one call to `source.commit()` when it has not moved."""
        if self._index is None:
            self._ensure()
        else:
            self._catch_up()

    def __len__(self) -> int:
        """Vectors searchable now."""
        self._ensure()
        return int(self._index.ntotal)

    @property
    def tier(self) -> str:
        """The tier in use, "flat" or "ivf" (loads the index)."""
        self._ensure()
        return self._tier

    @property
    def commit(self) -> int:
        """The store commit the index is up to date with (loads the index)."""
        self._ensure()
        return self._commit

    @property
    def nprobe(self) -> int | None:
        """Lists searched per query in the ivf tier (None in the flat tier)."""
        self._ensure()
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        """Search more or fewer lists (ivf tier); recorded in the next snapshot."""
        self._ensure()
        if self._tier == IVF:
            self._nprobe = int(value)
            self._index.nprobe = self._nprobe

    def save(self, force: bool = False) -> bool:
        """Catch up, then write the snapshot when forced, when there is none, or when the changes
        applied since the last one exceed max(SAVE_MIN_LAG, SAVE_LAG_SHARE * count). The writer
        calls this after each committed batch; readers never need to. Returns whether it wrote."""
        self.refresh()
        if self._fuzzy:
            log.debug("%s: the store moved while catching up; snapshot not written", self.index_path)
            return False
        threshold = max(SAVE_MIN_LAG, SAVE_LAG_SHARE * self._index.ntotal)
        if not force and self._on_disk and self._lag <= threshold:
            return False
        self._write_snapshot()
        return True

    def rebuild(self) -> None:
        """Rebuild from the store and write the snapshot (IndexWriteError when it cannot be)."""
        self._rebuild(None, write_errors="raise")

    def check(self) -> list[str]:
        """Problems with the snapshot on disk and its agreement with the store, one line each.

        Reads the snapshot afresh (a second copy in memory while this instance holds one), catches
        it up in memory and compares it with the store; repairs nothing (see `rebuild`)."""
        probe = FaissVectors(self.directory, self.kind, self.dim, self.source, exact_max=self.exact_max)
        try:
            probe._adopt(probe._load_snapshot(check_norms=False))
        except _BadSnapshot as bad:
            if not self.index_path.exists() and not self.meta_path.exists():
                return []  # not written yet (or deleted): built from the store on first use
            return [f"{self.index_path}: {bad}"]
        problems: list[str] = []
        probe._catch_up(problems=problems, verify=True)
        problems += [f"{self.index_path}: {p}" for p in probe._value_problems()]
        if not problems and self._index is None:
            self._take_state_of(probe)
        return problems

    # ---------- loading ----------
    def _ensure(self) -> None:
        """Load the snapshot (rebuilding it from the store when it fails a check), then catch up."""
        if self._index is not None:
            return
        try:
            loaded = self._load_snapshot()
        except _BadSnapshot as bad:
            if not self.index_path.exists() and not self.meta_path.exists():
                # never written (a new index) or deleted: built from the store, nothing was damaged
                log.info("%s: %s; building it from the record store", self.index_path, bad)
                self._rebuild(None)
            else:
                self._rebuild(str(bad))
            return
        self._adopt(loaded)
        self._catch_up(verify=True)

    def _adopt(self, loaded: _Loaded) -> None:
        """Use an index read from disk, in the state its sidecar describes."""
        meta = loaded.meta
        self._rows = None
        self._index, self._tier = loaded.index, meta["tier"]
        self._commit, self._trained_on = meta["commit"], meta["trained_on"]
        self._factory, self._nprobe = meta["factory"], meta["nprobe"]
        if self._tier == IVF:
            self._index.nprobe = self._nprobe
        self._fuzzy, self._lag, self._on_disk = False, 0, True

    def _take_state_of(self, other: FaissVectors) -> None:
        """Take over another instance's loaded index and bookkeeping."""
        self._rows = None
        for name in ("_index", "_tier", "_trained_on", "_factory", "_nprobe", "_commit", "_fuzzy"):
            setattr(self, name, getattr(other, name))
        self._lag, self._on_disk = other._lag, other._on_disk

    def _load_snapshot(self, *, check_norms: bool = True) -> _Loaded:
        """Read and verify the snapshot; _BadSnapshot with the reason when it cannot be used. A
        checksum mismatch is retried (a writer may be between replacing the file and its sidecar)."""
        for attempt in range(_READ_RETRIES):
            try:
                loaded = self._read_verified()
                break
            except _TornSnapshot:
                if attempt == _READ_RETRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
        if check_norms and (problems := self._value_problems(loaded.index, loaded.meta["tier"])):
            raise _BadSnapshot(problems[0])
        return loaded

    def _read_verified(self) -> _Loaded:
        """One attempt at reading the sidecar and the index it describes, checking each field."""
        if not self.index_path.exists():
            raise _BadSnapshot("missing")
        meta = self._read_sidecar()
        store_commit = self.source.commit()
        if meta["commit"] > store_commit:
            raise _BadSnapshot(
                f"snapshot of commit {meta['commit']} is newer than the store ({store_commit})"
            )
        try:
            with open(self.index_path, "rb") as handle:
                if _crc32_of(handle) != meta["crc32"]:
                    raise _TornSnapshot("checksum does not match its sidecar (damaged file)")
                handle.seek(0)
                faiss = _faiss()
                index = faiss.read_index(faiss.PyCallbackIOReader(handle.read, _IO_BLOCK))
        except OSError as exc:
            raise _BadSnapshot(f"cannot read ({exc.strerror or exc})") from exc
        except RuntimeError as exc:
            raise _BadSnapshot(f"not a FAISS index ({str(exc).splitlines()[0]})") from exc
        self._verify_index(index, meta)
        return _Loaded(index, meta)

    def _read_sidecar(self) -> dict[str, Any]:
        """The sidecar's fields, each checked for type and agreement with this index."""
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise _BadSnapshot(f"its sidecar {self.meta_path.name} is missing") from exc
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise _BadSnapshot(f"its sidecar {self.meta_path.name} is unreadable ({exc})") from exc
        if not isinstance(meta, dict):
            raise _BadSnapshot(f"its sidecar {self.meta_path.name} is not a JSON object")
        expected = {"format": FORMAT, "kind": self.kind, "dim": self.dim, "store_id": self.source.store_id}
        for field, value in expected.items():
            if meta.get(field) != value:
                raise _BadSnapshot(f"sidecar {field} is {meta.get(field)!r}, expected {value!r}")
        for field in ("commit", "count", "crc32", "trained_on"):
            if not isinstance(meta.get(field), int) or isinstance(meta[field], bool) or meta[field] < 0:
                raise _BadSnapshot(f"sidecar {field} is {meta.get(field)!r}, not a count")
        if meta.get("tier") not in (FLAT, IVF) or not isinstance(meta.get("factory"), str):
            raise _BadSnapshot(f"sidecar tier/factory {meta.get('tier')!r}/{meta.get('factory')!r} unknown")
        nprobe = meta.get("nprobe")
        if meta["tier"] == IVF and (not isinstance(nprobe, int) or nprobe < 1):
            raise _BadSnapshot(f"sidecar nprobe is {nprobe!r}")
        return meta

    def _verify_index(self, index: Any, meta: dict[str, Any]) -> None:
        """The index read agrees with its sidecar: dimension, size and tier."""
        faiss = _faiss()
        if index.d != self.dim:
            raise _BadSnapshot(f"index has dimension {index.d}, expected {self.dim}")
        if index.ntotal != meta["count"]:
            raise _BadSnapshot(f"index holds {index.ntotal} vectors, its sidecar says {meta['count']}")
        if meta["tier"] == FLAT and meta["factory"] != FLAT_FACTORY:
            raise _BadSnapshot(f"written as {meta['factory']}, this newsbot's flat tier is {FLAT_FACTORY}")
        flat = isinstance(index, faiss.IndexIDMap2) and _is_fp16(faiss, faiss.downcast_index(index.index))
        if (meta["tier"] == FLAT) != flat or (meta["tier"] == IVF and not isinstance(index, faiss.IndexIVF)):
            raise _BadSnapshot(f"index type {type(index).__name__} is not the {meta['tier']} tier")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise _BadSnapshot("index does not rank by inner product")

    def _value_problems(self, index: Any = None, tier: str | None = None) -> list[str]:
        """Stored values that cannot come from the encoder: flat-tier vectors (or ivf centroids)
        with a norm outside NORM_RANGE or not finite."""
        index = self._index if index is None else index
        tier = self._tier if tier is None else tier
        faiss = _faiss()
        if tier == FLAT:
            inner = faiss.downcast_index(index.index)
            rows = _fp16_rows(faiss, inner, self.dim)
            ids = faiss.rev_swig_ptr(index.id_map.data(), index.id_map.size()) if inner.ntotal else None
            what, low = "vectors", NORM_RANGE[0]
        else:  # a centroid is a mean of unit vectors: at most 1, but it may be short
            quantizer = faiss.downcast_index(faiss.extract_index_ivf(index).quantizer)
            rows = _float_rows(faiss, quantizer.get_xb(), quantizer.ntotal, self.dim)
            ids, what, low = None, "list centroids", 0.0
        bad, example = _bad_norms(rows, low, NORM_RANGE[1])
        if not bad:
            return []
        which = f"id {int(ids[example[0]])}" if ids is not None else f"row {example[0]}"
        return [
            f"{bad} {what} have a norm outside [{low}, {NORM_RANGE[1]}] "
            f"(e.g. {which}: {example[1]:.3g}); damaged values"
        ]

    # ---------- catching up ----------
    def _catch_up(
        self, *, problems: list[str] | None = None, may_rebuild: bool = True, verify: bool = False
    ) -> None:
        """Bring the index to the store's commit: the ids removed since, then the rows added since.

        When the store moves meanwhile, another round follows (at most _CATCH_UP_ROUNDS). A size that
        disagrees with the store (compared after any change, and always with `verify`) or a tier
        that no longer fits leads to a rebuild; with `problems` given, the disagreement is recorded
        there instead and nothing is rebuilt."""
        for _ in range(_CATCH_UP_ROUNDS):
            target = self.source.commit()
            settled = target == self._commit and not self._fuzzy
            if settled and not verify:
                return
            if target < self._commit:
                self._disagree(f"its commit {self._commit} is newer than the store's ({target})", problems)
                return
            count = self.source.count(self.kind)
            change = self._tier_change(count)
            if change and problems is not None:
                return  # the next open switches tiers; a check does not build a second tier
            if change and may_rebuild:
                log.info("%s: %s", self.index_path, change)
                self._rebuild(None)
                return
            if not settled:
                self._apply_changes(since=self._commit, dedupe=self._fuzzy)
            moved = self.source.commit() != target
            if not settled:  # rows added after target may be in the index when the store moved
                self._commit, self._fuzzy = target, moved
            if moved:
                continue
            if self._index.ntotal != count:
                self._disagree(
                    f"{self._index.ntotal} vectors after catching up to commit {target}, "
                    f"the store has {count}",
                    problems,
                    may_rebuild,
                )
            return

    def _disagree(self, reason: str, problems: list[str] | None, may_rebuild: bool = True) -> None:
        """Record a disagreement with the store (check), or rebuild with a warning."""
        if problems is not None:
            problems.append(f"{self.index_path}: {reason}")
        elif may_rebuild:
            self._rebuild(reason)
        else:
            log.warning("%s: %s", self.index_path, reason)

    def _wants_ivf(self, count: int) -> bool:
        """Whether `count` vectors belong in the ivf tier."""
        return count > self.exact_max and count >= _IVF_MIN_ROWS

    def _tier_change(self, count: int) -> str | None:
        """Why `count` vectors need another tier or a retrained one (None when the tier fits)."""
        if self._tier == FLAT and self._wants_ivf(count):
            return f"{count} vectors exceed exact search's {self.exact_max}; building the ivf tier"
        if self._tier == IVF and count > RETRAIN_GROWTH * self._trained_on:
            return f"{count} vectors, {RETRAIN_GROWTH}x more than trained on; retraining the ivf tier"
        if self._tier == IVF and count <= self.exact_max // 2:
            return f"{count} vectors; back to exact search"
        return None

    def _apply_changes(self, *, since: int, dedupe: bool) -> None:
        """Remove the ids removed after `since`, then add the rows added after it (each id removed
        first when `dedupe`, so a row already present is not added twice)."""
        self._rows = None
        removed = np.asarray(self.source.removed_since(self.kind, since), dtype=np.int64)
        if len(removed) and self._index.ntotal:
            with _build_threads(self._index.ntotal):
                self._index.remove_ids(np.ascontiguousarray(removed))
            self._lag += len(removed)
        for ids, vectors in self.source.added_since(self.kind, since):
            if not len(ids):
                continue
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            with _build_threads(len(ids)):
                if dedupe and self._index.ntotal:
                    self._index.remove_ids(ids)
                self._index.add_with_ids(self._checked(vectors, len(ids)), ids)
            self.rows_added += len(ids)
            self._lag += len(ids)

    def _checked(self, vectors: np.ndarray, rows: int) -> np.ndarray:
        """The store's vectors as contiguous float32 (rows, dim), or IndexCorruptError."""
        array = np.ascontiguousarray(vectors, dtype=np.float32)
        if array.shape != (rows, self.dim):
            raise IndexCorruptError(
                f"the store's {self.kind} vectors have shape {array.shape}, expected ({rows}, {self.dim}); "
                "the store was written with another embedder"
            )
        return array

    # ---------- rebuilding ----------
    def _rebuild(self, reason: str | None, *, write_errors: str = "warn") -> None:
        """A new index from the store's vectors in the tier its size calls for, written to disk."""
        if reason:
            log.warning("%s: %s; rebuilding it from the record store", self.index_path, reason)
        self._index, self._rows = None, None  # free the old one before building the new one
        count = self.source.count(self.kind)
        if self._wants_ivf(count):
            self._new_ivf(count)
        else:
            self._new_flat()
        self._commit, self._fuzzy, self._lag, self._on_disk = 0, False, 0, False
        self._catch_up(may_rebuild=False)
        self.rebuilds += 1
        try:
            self._write_snapshot()
        except NewsbotError as exc:
            if write_errors == "raise":
                raise
            log.warning("%s", exc)

    def _new_flat(self) -> None:
        """An empty exact index."""
        faiss = _faiss()
        fp16, inner_product = faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        inner = faiss.IndexScalarQuantizer(self.dim, fp16, inner_product)
        self._index, self._rows = faiss.IndexIDMap2(inner), None
        self._tier, self._trained_on, self._factory, self._nprobe = FLAT, 0, FLAT_FACTORY, None

    def _new_ivf(self, count: int) -> None:
        """An empty ivf index trained on a sample of the store's vectors."""
        wanted = ivf_params(count, self.dim)
        sample = self._checked_sample(wanted.train_size)
        if len(sample) < _IVF_MIN_ROWS:
            log.warning(
                "%s: the store gave %d vectors to train on; exact search", self.index_path, len(sample)
            )
            self._new_flat()
            return
        params = ivf_params(count, self.dim, available=len(sample))
        started = time.monotonic()
        with _build_threads(params.train_size) as faiss:
            index = faiss.index_factory(self.dim, params.factory, faiss.METRIC_INNER_PRODUCT)
            # index_factory turns on polysemous training (Hamming filtering, unused here): it costs
            # more than the rest of training.
            index.do_polysemous_training = False
            index.train(sample[: params.train_size])
        index.nprobe = params.nprobe
        log.info(
            "%s: trained %s on %d of %d vectors in %.1f s",
            self.index_path, params.factory, min(len(sample), params.train_size), count,
            time.monotonic() - started,
        )  # fmt: skip
        self._index, self._tier, self._trained_on = index, IVF, count
        self._factory, self._nprobe = params.factory, params.nprobe

    def _checked_sample(self, n: int) -> np.ndarray:
        """Up to n of the store's vectors for training, as contiguous float32."""
        sample = np.asarray(self.source.sample(self.kind, n, seed=0), dtype=np.float32)
        if not sample.size:
            sample = sample.reshape(0, self.dim)
        return self._checked(sample, len(sample))

    # ---------- searching the ivf tier ----------
    def _candidates(self, k: int) -> int:
        """How many ivf candidates to re-score for the k best."""
        total = int(self._index.ntotal)
        by_size = math.ceil(self.refine_per_million * total / 1_000_000)
        return min(total, max(k, self.refine * k, by_size))

    def _refined_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """ivf candidates re-scored with the store's exact vectors; the k best. A candidate the
        store has removed since the last catch-up (KeyError) makes it catch up and search again."""
        for attempt in range(2):
            wanted = self._candidates(k)
            _, found = self._index.search(vector, wanted)
            ids = found[0][found[0] >= 0]
            if not len(ids):
                return []
            try:
                exact = np.asarray(self.source.vectors_of(self.kind, ids.tolist()), dtype=np.float32)
                break
            except KeyError:
                if attempt:
                    raise
                self._catch_up()
        scores = exact @ vector[0]
        keep = np.isfinite(scores)  # a row the store no longer has may come back as NaN
        ids, scores = ids[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    # ---------- writing ----------
    def _write_snapshot(self) -> None:
        """Write the index, then its sidecar, each to a temporary file in the same folder, flushed,
        fsynced and renamed over the old one (IndexWriteError when that fails)."""
        faiss = _faiss()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _remove_stale_temporaries(self.directory, self.index_path.name)
            _remove_stale_temporaries(self.directory, self.meta_path.name)
            with _atomic_file(self.index_path) as handle:
                writer = _ChecksummedWriter(handle)
                faiss.write_index(self._index, faiss.PyCallbackIOWriter(writer.write, _IO_BLOCK))
            crc = writer.crc
            meta = {
                "format": FORMAT, "store_id": self.source.store_id, "commit": self._commit,
                "count": int(self._index.ntotal), "crc32": crc, "kind": self.kind, "dim": self.dim,
                "tier": self._tier, "factory": self._factory, "nprobe": self._nprobe,
                "trained_on": self._trained_on,
            }  # fmt: skip
            with _atomic_file(self.meta_path) as handle:
                handle.write(json.dumps(meta, indent=1).encode("utf-8"))
            _fsync_directory(self.directory)
        except OSError as exc:
            raise IndexWriteError(f"{self.index_path}: cannot write the vector index ({exc})") from exc
        self._lag, self._on_disk = 0, True
        self.snapshots_written += 1


class _ChecksummedWriter:
    """Writes blocks to a file and keeps the CRC-32 of everything written."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.crc = 0

    def write(self, block: bytes) -> int:
        """Write one block and fold it into the checksum."""
        self.crc = zlib.crc32(block, self.crc)
        return self.handle.write(block)


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A temporary file next to `path` that replaces it, flushed and fsynced, when the block ends
    without an error (and is deleted when it does not)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _float_rows(faiss: Any, pointer: Any, rows: int, dim: int) -> np.ndarray:
    """A float32 (rows, dim) view of FAISS-owned memory (no copy; valid until the index changes)."""
    if not rows:
        return np.zeros((0, dim), dtype=np.float32)
    return faiss.rev_swig_ptr(pointer, rows * dim).reshape(rows, dim)


def _is_fp16(faiss: Any, index: Any) -> bool:
    """Whether `index` is a float16 scalar quantizer (the flat tier's storage)."""
    return isinstance(index, faiss.IndexScalarQuantizer) and index.sq.qtype == faiss.ScalarQuantizer.QT_fp16


def _fp16_rows(faiss: Any, index: Any, dim: int) -> np.ndarray:
    """A float16 (rows, dim) view of a float16 scalar quantizer's codes (no copy; valid until the
    index changes)."""
    if not index.ntotal:
        return np.zeros((0, dim), dtype=np.float16)
    codes = faiss.rev_swig_ptr(index.codes.data(), index.ntotal * dim * 2)
    return codes.view(np.float16).reshape(index.ntotal, dim)


@functools.cache
def _fp16_table() -> np.ndarray:
    """Every float16 bit pattern's float32 value (256 KiB)."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def _as_float32(rows: np.ndarray) -> np.ndarray:
    """Float16 rows as float32 (a table lookup: twice as fast as numpy's conversion)."""
    return np.take(_fp16_table(), rows.view(np.uint16))


def _bad_norms(rows: np.ndarray, low_norm: float, high_norm: float) -> tuple[int, tuple[int, float]]:
    """How many rows have a norm outside [low_norm, high_norm] (or not finite), and the first
    (row, norm)."""
    low, high = low_norm**2, high_norm**2
    bad, example = 0, (0, 0.0)
    for start in range(0, len(rows), _NORM_BLOCK):
        block = rows[start : start + _NORM_BLOCK].astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            squares = np.einsum("ij,ij->i", block, block)
        wrong = ~((squares >= low) & (squares <= high))
        if wrong.any():
            if not bad:
                first = int(np.argmax(wrong))
                example = (start + first, float(np.sqrt(squares[first])))
            bad += int(wrong.sum())
    return bad, example
