"""What a shared archive keeps in Milvus besides the vectors: self-contained chunk and sentence rows
(text and the article's metadata beside each vector) and the article records a replica rebuilds its
record store from.

- `{prefix}_chunk` / `{prefix}_sentence`: id, vector, text, article_id, title, date, source, url,
  lang, the commit at which the row was written and (chunks) the first and last sentence id. These
  display fields are cut to fit Milvus' VARCHAR limit (65,535 bytes); the exact values are in the
  records.
- `{prefix}_articles`: one row per part of an article's record (record_log.records as JSON, split in
  parts of at most 16,000 characters, so at most 64,000 bytes): key "{sha1(id)}:{part}", akey, the
  article id, part, parts, commit, data. A removed article leaves a tombstone: part 0 with parts 0.

Every row carries a commit. A record row has the commit the push brings the archive to; a chunk or
sentence row the commit that added its id in the record store (a row pushed again because only its
display fields changed, a merged source, keeps it, so a replica searching the rows up to its own
commit never loses it meanwhile). The push publishes its commit in the meta collection last; a
replica pulls the records with a commit after its own and up to the published one. Rows of an
unfinished push (a later commit) are ignored until it is published; re-pushing is idempotent
(upserts by key and id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.store.record_log import PulledArticle

if TYPE_CHECKING:
    from retrieval.store.milvus import MilvusStore
    from retrieval.store.records import RecordStore

ARTICLES = "articles"
PART_CHARS = 16_000  # at most 4 bytes a character: a part stays under the 65,535-byte VARCHAR limit
UPSERT_ROWS = 500
PULL_ARTICLES = 200  # articles whose vectors are fetched in one query
# display fields of the chunk and sentence rows: (name, max bytes)
TEXT_FIELDS = (
    ("text", 65_535),
    ("article_id", 4_096),
    ("title", 4_096),
    ("date", 64),
    ("source", 4_096),
    ("url", 8_192),
    ("lang", 32),
)
INT_FIELDS = {"chunk": ("commit", "first_sentence", "last_sentence"), "sentence": ("commit",)}


def cut(value: object, limit: int) -> str:
    """A value as text of at most `limit` UTF-8 bytes (cut on a character boundary)."""
    text = "" if value is None else str(value)
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


# ---------- schemas ----------
def add_row_fields(schema: Any, kind: str, milvus: Any) -> None:
    """The display fields of a chunk or sentence collection (after id and vector)."""
    for name, limit in TEXT_FIELDS:
        schema.add_field(name, milvus.DataType.VARCHAR, max_length=limit)
    for name in INT_FIELDS[kind]:
        schema.add_field(name, milvus.DataType.INT64)


def ensure_articles(store: MilvusStore) -> str:
    """The article records collection (created when missing); its name."""
    name = store.collection(ARTICLES)
    client = store.client
    if client.has_collection(name):
        client.load_collection(name)
        return name
    from retrieval.store.milvus import _META_DIM, _pymilvus

    milvus = _pymilvus()
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", milvus.DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("akey", milvus.DataType.VARCHAR, max_length=40)
    schema.add_field("article_id", milvus.DataType.VARCHAR, max_length=4_096)
    for field in ("part", "parts", "commit"):
        schema.add_field(field, milvus.DataType.INT64)
    schema.add_field("data", milvus.DataType.VARCHAR, max_length=65_535)
    schema.add_field("dummy", milvus.DataType.FLOAT_VECTOR, dim=_META_DIM)
    index = client.prepare_index_params()
    index.add_index("dummy", index_type="FLAT", metric_type="L2")
    store._create(name, schema, index)
    return name


def akey(article_id: str) -> str:
    """The fixed-width key of an article id."""
    return hashlib.sha1(article_id.encode("utf-8")).hexdigest()


# ---------- rows ----------
def vector_rows(
    source: object, kind: str, ids: Sequence[int] | np.ndarray, vectors: np.ndarray, commit: int
) -> list[dict]:
    """Chunk or sentence rows for Milvus: id, vector, display fields, and the commit that added the
    id in the record store (`commit` for a source that is not a record store, a test's fake, which
    also gives empty display fields)."""
    found = _describe(source, kind, [int(i) for i in ids])
    rows = []
    for i, vector in zip(ids, np.asarray(vectors, dtype=np.float32), strict=True):
        row: dict[str, Any] = {"id": int(i), "vector": vector.tolist()}
        values = found.get(int(i), {})
        for name, limit in TEXT_FIELDS:
            row[name] = cut(values.get(name, ""), limit)
        for name in INT_FIELDS[kind]:
            row[name] = int(values.get(name, 0))
        row["commit"] = int(values.get("added") or commit)
        rows.append(row)
    return rows


def _describe(source: object, kind: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each row's display fields and the commit that added it, read from the record store."""
    from retrieval.store.records import RecordStore
    from retrieval.store.sqlutil import batches, marks

    if not isinstance(source, RecordStore) or not ids:
        return {}
    links = ", c.first_sentence, c.last_sentence" if kind == "chunk" else ""
    table = "chunks" if kind == "chunk" else "sentences"
    out: dict[int, dict[str, Any]] = {}
    for part in batches(ids):
        rows = source.db.execute(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start), a.id, a.title, a.date, a.source, "
            f"json_extract(a.meta, '$.url'), a.lang, v.added{links} FROM {table} c "
            f"JOIN articles a ON a.id = c.article_id LEFT JOIN {kind}_vectors v ON v.id = c.id "
            f"WHERE c.id IN ({marks(len(part))})",
            part,
        )
        for r in rows:
            names = ("text", "article_id", "title", "date", "source", "url", "lang", "added")
            values = dict(zip(names, r[1:9], strict=True))
            if kind == "chunk":
                values.update(first_sentence=r[9], last_sentence=r[10])
            out[int(r[0])] = values
    return out


def record_rows(article_id: str, record: dict | None, commit: int) -> list[dict]:
    """An article's record as rows of the articles collection (a tombstone when None)."""
    from retrieval.store.milvus import _META_DIM

    key = akey(article_id)
    if record is None:
        pieces, parts = [json.dumps({"removed": article_id}, ensure_ascii=False)], 0
    else:
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        pieces = [data[start : start + PART_CHARS] for start in range(0, len(data), PART_CHARS)] or [""]
        parts = len(pieces)
    return [
        {
            "key": f"{key}:{n}",
            "akey": key,
            "article_id": cut(article_id, 4_096),
            "part": n,
            "parts": parts,
            "commit": int(commit),
            "data": piece,
            "dummy": [0.0] * _META_DIM,
        }
        for n, piece in enumerate(pieces)
    ]


# ---------- pushing ----------
def push(store: MilvusStore, records: RecordStore, since: int, target: int, renew=lambda: None) -> int:
    """Bring the archive's rows from the store's commit `since` to `target`: removed vectors
    deleted, changed articles' records (or tombstones, stamped `target`) and their chunk and sentence
    rows (each stamped with the commit that added it) upserted. Does not publish the commit (the
    caller does, last). Returns the number of articles sent. `renew` is called between requests
    (the writer lease)."""
    from retrieval.store.milvus import DELETE_IDS

    client = store.client
    name = ensure_articles(store)
    for kind in ("chunk", "sentence"):
        store.ensure(kind)
    full = since <= 0
    changed = sorted(set(records.hashes())) if full else records.changed_articles_since(since)
    for kind in ("chunk", "sentence"):
        removed = [int(i) for i in records.removed_since(kind, since)] if not full else []
        for start in range(0, len(removed), DELETE_IDS):
            client.delete(store.collection(kind), ids=removed[start : start + DELETE_IDS])
            renew()
    pending = {kind: set(records.added_ids_since(kind, since)) for kind in ("chunk", "sentence")}
    for start in range(0, len(changed), PULL_ARTICLES):
        part = changed[start : start + PULL_ARTICLES]
        found = records.article_records(part)
        for kind in ("chunk", "sentence"):  # the articles' rows first: records name their ids
            ids = sorted({int(r[0]) for article in found.values() for r in article[f"{kind}s"]})
            _push_vectors(store, records, kind, ids, target, renew)
            pending[kind].difference_update(ids)
        _push_records(store, name, part, found, target, renew)
    for kind, rest in pending.items():  # rows of no changed article (none unless the log was cut)
        _push_vectors(store, records, kind, sorted(rest), target, renew)
    if store.lite_engine:
        for kind in ("chunk", "sentence", ARTICLES):
            client.flush(store.collection(kind))
    return len(changed)


def _push_records(
    store: MilvusStore, name: str, part: list[str], found: dict[str, dict], target: int, renew
) -> None:
    """Upsert the records (or tombstones) of some articles, deleting parts they no longer have."""
    made = {a: record_rows(a, found.get(a), target) for a in part}
    by_parts: dict[int, list[str]] = {}
    for a in part:
        by_parts.setdefault(len(made[a]), []).append(akey(a))
    for parts, keys in by_parts.items():
        store.client.delete(name, filter=f"akey in {json.dumps(keys)} and part >= {parts}")
    rows = [row for a in part for row in made[a]]
    for begin in range(0, len(rows), UPSERT_ROWS):
        store.client.upsert(name, rows[begin : begin + UPSERT_ROWS])
        renew()


def _push_vectors(
    store: MilvusStore, records: RecordStore, kind: str, ids: list[int], target: int, renew
) -> None:
    """Upsert chunk or sentence rows (vector and display fields) by id, in batches."""
    from retrieval.store.milvus import UPSERT_ROWS as VECTOR_ROWS

    for start in range(0, len(ids), VECTOR_ROWS):
        part = ids[start : start + VECTOR_ROWS]
        vectors = records.vectors_of(kind, part)
        store.client.upsert(store.collection(kind), vector_rows(records, kind, part, vectors, target))
        renew()


# ---------- pulling ----------
def pull(store: MilvusStore, since: int, upto: int, dim: int) -> Iterator[PulledArticle]:
    """The articles changed in the archive after commit `since` up to `upto`, each complete with
    its vectors; an article whose parts or vectors are not all there (a later push is rewriting
    it) is left for a later pull, which that push's commit brings."""
    name = ensure_articles(store)
    for kind in ("chunk", "sentence"):
        store.ensure(kind)
    groups: dict[str, list[dict]] = {}
    for row in _query_all(store, name, f"commit > {since} and commit <= {upto}"):
        groups.setdefault(str(row["akey"]), []).append(row)
    complete = [a for a in (_assemble(rows) for rows in groups.values()) if a is not None]
    for start in range(0, len(complete), PULL_ARTICLES):
        part = complete[start : start + PULL_ARTICLES]
        vectors = {
            kind: _vectors(
                store, kind, [int(r[0]) for a in part if a.record for r in a.record[f"{kind}s"]], dim
            )
            for kind in ("chunk", "sentence")
        }
        for article in part:
            if article.record is not None:
                chunks = _take(vectors["chunk"], article.record["chunks"])
                sentences = _take(vectors["sentence"], article.record["sentences"])
                if chunks is None or sentences is None:
                    continue
                article.chunk_vectors, article.sentence_vectors = chunks, sentences
            yield article


def _assemble(rows: list[dict]) -> PulledArticle | None:
    """One article from its rows of the newest commit among them: a record, a tombstone, or None
    when that commit's parts are incomplete (rows of older commits are leftovers of longer records)."""
    newest = max(int(r["commit"]) for r in rows)
    rows = sorted((r for r in rows if int(r["commit"]) == newest), key=lambda r: int(r["part"]))
    parts = int(rows[0]["parts"])
    if parts == 0:
        return PulledArticle(str(json.loads(rows[0]["data"])["removed"]), None)
    if [int(r["part"]) for r in rows] != list(range(parts)):
        return None
    record = json.loads("".join(str(r["data"]) for r in rows))
    return PulledArticle(str(record["article"][0]), record)


def _take(found: dict[int, np.ndarray], rows: list[list]) -> dict[int, np.ndarray] | None:
    """The vectors of the rows' ids, or None when one is missing."""
    ids = [int(r[0]) for r in rows]
    if any(i not in found for i in ids):
        return None
    return {i: found[i] for i in ids}


def _vectors(store: MilvusStore, kind: str, ids: list[int], dim: int) -> dict[int, np.ndarray]:
    """Vectors by id from a chunk or sentence collection."""
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), 1_000):
        part = ids[start : start + 1_000]
        rows = store.client.query(
            store.collection(kind), filter=f"id in {part}", output_fields=["id", "vector"], limit=len(part)
        )
        for r in rows:
            out[int(r["id"])] = np.asarray(r["vector"], dtype=np.float32).reshape(dim)
    return out


def _query_all(store: MilvusStore, name: str, where: str) -> Iterator[dict]:
    """Every row a filter selects, all fields but the dummy vector (an iterator: no result limit)."""
    fields = ["key", "akey", "part", "parts", "commit", "data"]
    iterator = store.client.query_iterator(name, batch_size=1_000, filter=where, output_fields=fields)
    try:
        while True:
            batch = iterator.next()
            if not batch:
                return
            yield from batch
    finally:
        iterator.close()
