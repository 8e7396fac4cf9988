"""Milvus as the derived vector index (`NEWSBOT_STORE=milvus`), behind the same seam as FAISS.

The SQLite record store stays the truth; each kind ("chunk", "sentence") is one Milvus collection
`{prefix}_{kind}` (int64 id, float vector, inner product; exact FLAT index unless NEWSBOT_MILVUS_INDEX
chooses HNSW or IVF_FLAT, see milvus_index.py), each row stamped with the store commit that added
it. Pushes (store/milvus_records.py, under the writer lease of store/replica.py) delete the ids
removed and upsert the rows added since the archive's commit; upserts and deletes are idempotent,
so a push killed midway is finished by the next one, and nothing the store committed is lost.
A third collection `{prefix}_meta` records the schema version, the
embedder and its dimension, the metric and index type, the record store's id and each kind's commit;
it is created on first use and checked on every start (another embedder, dimension or schema is an
`EmbedderMismatchError`/`IndexCorruptError`, not wrong answers).

The collections are a shared archive (schema 2): chunk and sentence rows carry their text and their
article's metadata, `{prefix}_articles` every article's full record (store/milvus_records.py), so
newsbots on other machines replicate it into their own record stores (store/replica.py decides
whether a store may follow the archive, pulls, and pushes under the writer lease). Used that way,
`MilvusVectors` only searches; store/replica.py writes the rows.

The URI is a file path ending in .db (milvus-lite, embedded, one process at a time) or an
http(s):// address of a Milvus standalone or cluster. pymilvus is imported on first use only. Calls
wait out a dropped connection for a bounded time (milvus_conn.py), then fail with one clear line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.errors import EmbedderMismatchError, IndexCorruptError, NewsbotError
from retrieval.store.milvus_conn import (
    MilvusConnectionLost,
    MilvusUnavailableError,
    RetryingClient,
    RetryPolicy,
    connect,
    safe_uri,
)
from retrieval.store.milvus_index import MilvusIndex
from retrieval.store.milvus_records import ARTICLES, add_row_fields
from retrieval.store.records import KINDS
from retrieval.store.vectors import VectorSource

if TYPE_CHECKING:
    from retrieval.store.replica import ArchiveSync

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"  # 2: texts, metadata and article records in the collections
METRIC = "IP"
UPSERT_ROWS = 2_000  # rows per request (a 512-d float32 row is 2 KB; gRPC messages stop at 64 MB)
DELETE_IDS = 10_000
TERMS = "terms"  # the chunk terms searched with Milvus' BM25 (retrieval/store/milvus_terms.py)
_META_DIM = 2  # every Milvus collection needs a vector field; the meta rows carry a dummy one


# milvus-lite serves each .db file from a gRPC server inside this process, which holds the file until
# it is released (or the process exits); the stores open on each file are counted to release it.
_lite_lock = threading.Lock()
_lite_open: Counter[str] = Counter()


@lru_cache(maxsize=1)
def _pymilvus() -> Any:
    """The pymilvus module (imported on first use; the `milvus` extra)."""
    try:
        import pymilvus
    except ImportError as exc:
        raise NewsbotError(
            "NEWSBOT_STORE=milvus needs the milvus extra: pip install 'newsbot[milvus]'"
        ) from exc
    # pymilvus logs each failed call with its traceback; the error is raised to us and reported once.
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


@contextlib.contextmanager
def _guarded(what: str) -> Iterator[None]:
    """Turn pymilvus' errors into one clear message (the token is never part of it)."""
    try:
        yield
    except MilvusConnectionLost as exc:  # the retries are spent: name what was being done
        raise MilvusUnavailableError(exc.during(what)) from exc
    except NewsbotError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("pymilvus", "grpc", "milvus_lite")):
            raise MilvusUnavailableError(f"Milvus failed while {what}: {_short(exc)}") from exc
        raise


def _short(exc: BaseException) -> str:
    """An exception's message on one line, cut short."""
    text = " ".join(str(exc).split())
    return text[:300]


@dataclass(frozen=True)
class MilvusTarget:
    """Where the collections live: URI, optional token, collection name prefix."""

    uri: str
    token: str = ""
    prefix: str = "newsbot"
    temporary: bool = False  # the collections are dropped on close (an evaluation's)
    bm25: bool = True  # chunk terms searched with Milvus' BM25 (false: the local lexical index)
    index: MilvusIndex = field(default_factory=MilvusIndex)  # index type and parameters, shards, replicas
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # how a dropped connection is waited out

    @property
    def is_lite(self) -> bool:
        """Whether the URI is a milvus-lite file (no server)."""
        return not self.uri.startswith(("http://", "https://", "tcp://", "grpc://"))

    def __repr__(self) -> str:  # the token stays out of logs and tracebacks
        return f"MilvusTarget(uri={safe_uri(self.uri)!r}, prefix={self.prefix!r})"


class MilvusStore:
    """The connection and the meta collection: created on first use, checked on every start."""

    def __init__(
        self, target: MilvusTarget, *, embedder: str, dim: int, store_id: str, check: bool = True
    ) -> None:
        """`check`: compare the meta collection with this newsbot's settings (not when the archive is
        about to be replaced, whatever schema or embedder it has)."""
        self.target = target
        self.embedder, self.dim, self.store_id = embedder, int(dim), store_id
        pymilvus = _pymilvus()
        try:
            with _guarded(f"connecting to {safe_uri(target.uri)}"):
                self.client: RetryingClient = connect(pymilvus, target.uri, target.token, target.retry)
        except MilvusUnavailableError as exc:
            if not target.is_lite:
                raise
            raise MilvusUnavailableError(
                f"{exc} (milvus-lite opens its file in one process at a time: is another newsbot "
                "using it? Several processes need a Milvus server)"
            ) from exc
        self._lite_path = _opened_lite(target)
        self.meta_name = f"{target.prefix}_meta"
        try:
            with _guarded("asking the server's version"):
                self.lite_engine = target.is_lite or str(self.client.get_server_version()).startswith(
                    "milvus_lite"
                )  # milvus-lite, embedded or served over TCP: one tokenizer, statistics per segment
            with _guarded("reading the meta collection"):
                self._check_meta(check)
        except BaseException:
            self.close()
            raise

    # ---------- meta ----------
    def wanted_meta(self) -> dict[str, str]:
        """What the meta collection must say for this newsbot and index."""
        return {
            "schema": SCHEMA_VERSION,
            "embedder": self.embedder,
            "dim": str(self.dim),
            "metric": METRIC,
            **self.target.index.meta(),
        }

    def _check_meta(self, check: bool = True) -> None:
        """Create the meta collection, or compare what it records with this newsbot's settings."""
        if not self.client.has_collection(self.meta_name):
            self.create_meta()
            return
        self._load(self.meta_name)  # collections come back released after a restart
        if not check:
            return
        found = self.get_meta()
        wanted = self.wanted_meta()
        where = f"the Milvus collections '{self.target.prefix}_*' at {safe_uri(self.target.uri)}"
        if found.get("schema") != wanted["schema"]:
            raise IndexCorruptError(
                f"{where} have schema {found.get('schema') or 'unknown'}, this newsbot reads "
                f"{SCHEMA_VERSION}; build them again from a complete store ('newsbot migrate --to "
                "milvus --drop') or choose another NEWSBOT_MILVUS_COLLECTION"
            )
        if (found.get("embedder"), found.get("dim")) != (wanted["embedder"], wanted["dim"]):
            raise EmbedderMismatchError(
                f"{where} were built with embedder '{found.get('embedder')}' (dim {found.get('dim')}), "
                f"not '{self.embedder}' (dim {self.dim}); use that embedder, another "
                "NEWSBOT_MILVUS_COLLECTION, or drop them"
            )
        if found.get("metric") != METRIC:
            raise IndexCorruptError(f"{where} use metric {found.get('metric')}, newsbot needs {METRIC}")
        self.target.index.check(found, where)
        # whether this store may use an archive built by another one is store/replica.py's decision

    def create_meta(self) -> None:
        """The key/value collection holding the schema, embedder and commits, for this store."""
        self._create_meta()
        self.put_meta({**self.wanted_meta(), "store_id": self.store_id})

    def _create_meta(self) -> None:
        """The key/value collection holding the schema, embedder and commits."""
        milvus = _pymilvus()
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", milvus.DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("value", milvus.DataType.VARCHAR, max_length=1024)
        schema.add_field("dummy", milvus.DataType.FLOAT_VECTOR, dim=_META_DIM)
        index = self.client.prepare_index_params()
        index.add_index("dummy", index_type="FLAT", metric_type="L2")
        self._create(self.meta_name, schema, index)

    def _create(self, name: str, schema: Any, index: Any) -> None:
        """Create a collection, its index (not waited for: milvus-lite cannot report its state) and
        load it."""
        options = self.target.index.create_options(self.target.is_lite)
        self.client.create_collection(name, schema=schema, consistency_level="Strong", **options)
        self.client.create_index(name, index, sync=False)
        self._load(name)

    def _load(self, name: str) -> None:
        """Load a collection (with NEWSBOT_MILVUS_REPLICAS replicas on a server)."""
        self.client.load_collection(name, **self.target.index.load_options(self.target.is_lite))

    def get_meta(self) -> dict[str, str]:
        """Every key/value pair of the meta collection."""
        return get_meta(self.client, self.meta_name)

    def put_meta(self, values: dict[str, str]) -> None:
        """Write key/value pairs into the meta collection."""
        rows = [{"key": k, "value": v, "dummy": [0.0] * _META_DIM} for k, v in values.items()]
        self.client.upsert(self.meta_name, rows)

    # ---------- kinds ----------
    def collection(self, kind: str) -> str:
        """The collection name of a kind."""
        return f"{self.target.prefix}_{kind}"

    def ensure(self, kind: str) -> None:
        """Create a kind's collection (id, vector, FLAT index, inner product) when missing."""
        name = self.collection(kind)
        if self.client.has_collection(name):
            self._check_collection(kind)
            self._load(name)
            return
        milvus = _pymilvus()
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", milvus.DataType.INT64, is_primary=True)
        schema.add_field("vector", milvus.DataType.FLOAT_VECTOR, dim=self.dim)
        add_row_fields(schema, kind, milvus)
        index = self.client.prepare_index_params()
        self.target.index.add_to(index, "vector", METRIC)
        self._create(name, schema, index)
        self.put_meta({f"{kind}_commit": "0"})

    def _check_collection(self, kind: str) -> None:
        """The collection's vector field has this embedder's dimension."""
        described = self.client.describe_collection(self.collection(kind))
        dims = [int(f.get("params", {}).get("dim", -1)) for f in described["fields"] if f["name"] == "vector"]
        if dims != [self.dim]:
            raise EmbedderMismatchError(
                f"the Milvus collection '{self.collection(kind)}' holds vectors of dim {dims}, "
                f"the embedder '{self.embedder}' makes {self.dim}"
            )

    def drop(self, kind: str) -> None:
        """Drop a kind's collection (rebuilt from the store on next use)."""
        name = self.collection(kind)
        if self.client.has_collection(name):
            self.client.drop_collection(name)
        self.put_meta({f"{kind}_commit": "0"})

    def drop_all(self) -> None:
        """Drop every collection with this prefix (a temporary eval collection, `migrate --drop`)."""
        with _guarded("dropping the collections"):
            for name in [*(self.collection(k) for k in (*KINDS, TERMS, ARTICLES)), self.meta_name]:
                if self.client.has_collection(name):
                    self.client.drop_collection(name)

    def close(self) -> None:
        """Close the connection (dropping the collections first when they are temporary)."""
        if self.target.temporary:
            with contextlib.suppress(NewsbotError):
                self.drop_all()
        with contextlib.suppress(Exception):
            self.client.close()
        if self._lite_path:
            _closed_lite(self._lite_path)
            self._lite_path = ""


def get_meta(client: Any, name: str) -> dict[str, str]:
    """Every key/value pair of a meta collection."""
    rows = client.query(name, filter='key != ""', output_fields=["key", "value"])
    return {str(r["key"]): str(r["value"]) for r in rows}


def _opened_lite(target: MilvusTarget) -> str:
    """Count one more store on a milvus-lite file; its absolute path ("" for a server)."""
    if not target.is_lite:
        return ""
    path = os.path.abspath(target.uri)
    with _lite_lock:
        _lite_open[path] += 1
    return path


def _closed_lite(path: str) -> None:
    """Count one store less on a milvus-lite file, releasing the file after the last one."""
    with _lite_lock:
        _lite_open[path] -= 1
        last = _lite_open[path] <= 0
        if last:
            del _lite_open[path]
    if last:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(path)


def drop_collections(target: MilvusTarget) -> None:
    """Drop the collections with the target's prefix, whatever they hold (unchecked)."""
    with _guarded(f"connecting to {safe_uri(target.uri)}"):
        client = connect(_pymilvus(), target.uri, target.token, target.retry)
    path = _opened_lite(target)
    try:
        with _guarded("dropping the collections"):
            names = [f"{target.prefix}_{k}" for k in (*KINDS, TERMS, ARTICLES, "meta")]
            for name in names:
                if client.has_collection(name):
                    client.drop_collection(name)
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if path:
            _closed_lite(path)


class MilvusVectors:
    """One kind's vectors in the shared archive (a `VectorIndex`). It only searches: the rows are
    written by pushes under the writer lease of `archive` (store/replica.py, store/milvus_records.py),
    and a search sees the rows up to the record store's commit."""

    def __init__(
        self, store: MilvusStore, kind: str, source: VectorSource, *, archive: ArchiveSync | None = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.store, self.kind, self.source = store, kind, source
        self.name = store.collection(kind)
        self.dim = store.dim
        self.rebuilds = 0
        self.archive = archive
        self._ensured = False
        self._commit = 0

    # ---------- VectorIndex ----------
    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k stored vectors with the highest inner product with `query` (exact): (id, score)."""
        self._ensure()
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(f"query has {vector.shape[0]} dimensions, the {self.kind} index {self.dim}")
        if k <= 0:
            return []
        with _guarded(f"searching {self.name}"):
            hits = self.store.client.search(
                self.name,
                data=[vector.tolist()],
                limit=int(k),
                anns_field="vector",
                search_params=self.store.target.index.search_params(METRIC, int(k)),
                filter=f"commit <= {self._commit}",  # rows a later push wrote are not in this store yet
                output_fields=[],
            )
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def stored_vectors(self, ids: Sequence[int]) -> np.ndarray | None:
        """None: the caller reads the record store's exact vectors."""
        return None

    def refresh(self) -> None:
        """Search up to the record store's latest commit."""
        self._ensure()

    def __len__(self) -> int:
        """Rows in the collection."""
        self._ensure()
        return self._count()

    @property
    def commit(self) -> int:
        """The store commit searches see."""
        self._ensure()
        return self._commit

    def check(self) -> list[str]:
        """Disagreements between the collection and the store, one line each."""
        with _guarded(f"checking {self.name}"):
            self.store.ensure(self.kind)
            commit = self._stored_commit()
            target = self.source.commit()
            problems = []
            if commit > target:
                problems.append(f"{self.name}: its commit {commit} is newer than the store's ({target})")
            elif commit == target and self._count() != self.source.count(self.kind):
                problems.append(
                    f"{self.name}: {self._count()} vectors at commit {commit}, "
                    f"the store has {self.source.count(self.kind)}"
                )
        return problems

    def rebuild(self) -> None:
        """Push every article's rows to the archive again, under its writer lease. The collection is
        not dropped (its replicas search it); upserts are idempotent."""
        from retrieval.store import milvus_records
        from retrieval.store.records import RecordStore

        if self.archive is None or not isinstance(self.source, RecordStore):
            raise NewsbotError(f"rebuilding {self.name}: a shared archive is written by its record store")
        with _guarded(f"rebuilding {self.name}"), self.archive.holding():
            lease = self.archive.lease
            milvus_records.push(self.store, self.source, 0, self.source.commit(), renew=lease.renew)
            self.rebuilds += 1

    def save(self, force: bool = False) -> bool:
        """Milvus keeps every write: nothing to snapshot."""
        self.refresh()
        return False

    def _ensure(self) -> None:
        """Create the collection on first use; search up to the store's commit."""
        if not self._ensured:
            with _guarded(f"opening {self.name}"):
                self.store.ensure(self.kind)
            self._ensured = True
        self._commit = self.source.commit()

    def _stored_commit(self) -> int:
        """The commit the archive's last push recorded for this kind."""
        return int(self.store.get_meta().get(f"{self.kind}_commit", "0"))

    def _count(self) -> int:
        """Rows in the collection."""
        with _guarded(f"counting {self.name}"):
            rows = self.store.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

