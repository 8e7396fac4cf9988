"""Upgrading an index written by an earlier newsbot, in place, losing nothing indexed."""

from __future__ import annotations

import logging
import shutil
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.embeddings import Embedder, embed_sentences_and_chunks
from retrieval.store.lock import lock_path, write_lock
from retrieval.store.records import NORM_RANGE, SCHEMA_VERSION, RecordStore, SentenceRecord, as_blob

if TYPE_CHECKING:
    from retrieval.store.lexical import LexicalStore

log = logging.getLogger("newsbot.store")
# Schema 2 kept vectors in FAISS files and BM25 in a bm25s folder beside the database.
_V2_FILES = ("chunks.faiss", "sentences.faiss")
_V2_BM25 = "bm25"


def migrate_v2(store: RecordStore, embedder: Embedder) -> None:
    """Move a schema-2 index to the current schema: vectors into the store (read from the old FAISS
    files when they agree with the store, else embedded again from the stored text); the derived
    indexes are then built from the store on first use."""
    with write_lock(lock_path(store.directory)):
        store.meta = store._read_meta()  # another process may have migrated meanwhile
        if store.schema != "2":
            return
        log.warning(
            "%s: upgrading the index to format %s (nothing indexed is lost)", store.directory, SCHEMA_VERSION
        )
        with store.transaction():
            store.create_tables()
            for kind, table, file in (
                ("chunk", "chunks", _V2_FILES[0]),
                ("sentence", "sentences", _V2_FILES[1]),
            ):
                ids = [r[0] for r in store.db.execute(f"SELECT id FROM {table} ORDER BY id")]
                vectors = _old_vectors(store.directory / file, ids)
                if vectors is None:
                    log.warning("%s: unreadable or out of date; embedding the %ss again", file, kind)
                    vectors = embed_stored(store, kind, ids, embedder)
                store.db.executemany(
                    f"INSERT OR REPLACE INTO {kind}_vectors VALUES (?, 1, ?)",
                    [(i, as_blob(v)) for i, v in zip(ids, vectors, strict=True)],
                )
            _migrate_meta(store)
            from retrieval.store.lexical import LexicalStore

            rebuild_lexical(store, LexicalStore(store.db))
        for name in _V2_FILES:
            (store.directory / name).unlink(missing_ok=True)
        shutil.rmtree(store.directory / _V2_BM25, ignore_errors=True)
        store.dim = int(store.meta["dim"])


def rebuild_lexical(store: RecordStore, lexical: LexicalStore) -> None:
    """Index every stored chunk afresh in the lexical index (inside the caller's transaction)."""
    from retrieval.ingest import chunk_terms

    lexical.rebuild(
        (cid, chunk_terms(text, lang)) for rows in store.chunk_texts() for cid, text, lang in rows
    )


def _migrate_meta(store: RecordStore) -> None:
    """The meta rows of the current schema."""
    import uuid

    db = store.db
    next_chunk = (db.execute("SELECT MAX(id) FROM chunks").fetchone()[0] or 0) + 1
    next_sentence = (db.execute("SELECT MAX(id) FROM sentences").fetchone()[0] or 0) + 1
    span = db.execute("SELECT MAX(last_sentence - first_sentence + 1) FROM chunks").fetchone()[0] or 1
    store.set_meta(
        schema=SCHEMA_VERSION,
        store_id=uuid.uuid4().hex,
        commit="1",
        next_chunk=str(next_chunk),
        next_sentence=str(next_sentence),
        max_chunk_span=str(span),
    )


def _old_vectors(path: Path, ids: list[int]) -> np.ndarray | None:
    """The vectors of `ids` from a schema-2 FAISS file, or None when it cannot give them all."""
    import faiss

    if not path.exists():
        return None if ids else np.zeros((0, 1), dtype=np.float32)
    try:
        index: Any = faiss.read_index(str(path))
        stored = faiss.vector_to_array(index.id_map)
        if sorted(stored.tolist()) != ids:
            return None
        matrix = index.index.reconstruct_n(0, index.ntotal)
    except (RuntimeError, AttributeError):
        return None
    row = {int(i): n for n, i in enumerate(stored)}
    vectors = matrix[[row[i] for i in ids]] if ids else matrix
    norms = np.linalg.norm(vectors, axis=1)
    low, high = NORM_RANGE
    return vectors if bool(np.all((norms > low) & (norms < high))) else None


def embed_stored(store: RecordStore, kind: str, ids: list[int], embedder: Embedder) -> np.ndarray:
    """Vectors of stored rows embedded again from the stored article text (chunks composed from
    their sentences, as when they were indexed), in one call to the model."""
    if kind == "sentence":
        records = store.sentences(ids)
        texts = _texts(store, [records[i] for i in ids])
        return embedder.embed(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    if not ids:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    chunks = store.chunks(ids)
    wanted = sorted({s for c in chunks.values() for s in range(c.first_sentence, c.last_sentence + 1)})
    sentences = store.sentences(wanted)
    present = [s for s in wanted if s in sentences]  # ascending: a chunk's sentences are a run of it
    groups = [
        (bisect_left(present, chunks[i].first_sentence), bisect_right(present, chunks[i].last_sentence))
        for i in ids
    ]
    texts = _texts(store, [sentences[s] for s in present])
    vectors = embed_sentences_and_chunks(embedder, texts, groups)[1]
    return np.asarray(vectors, dtype=np.float32).reshape(-1, embedder.dim)


def _texts(store: RecordStore, sentences: list[SentenceRecord]) -> list[str]:
    """The sentences' texts, each article's text read once."""
    articles: dict[str, str] = {}
    out = []
    for s in sentences:
        if s.article_id not in articles:
            articles[s.article_id] = store.article_text(s.article_id)
        out.append(articles[s.article_id][s.start : s.end])
    return out
