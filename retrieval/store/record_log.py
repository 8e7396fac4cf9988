"""The record store's side of a shared archive: which articles changed at which commit, each
article's full record as one JSON-able dict, and applying records pulled from the archive.

`article_log` lists, for every commit that changed an article (written, removed, re-keyed to an
heir, sources added or detached), that article's id, so a push sends exactly the articles that
changed since the archive's commit. A record holds everything the store keeps of one article:
its row, its sources, its fingerprint and band keys, its chunks (with their sentence links) and
its sentences (with their terms); the vectors travel in the chunk and sentence collections.
Applying records keeps their ids, so a replica's chunk and sentence ids equal the archive's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.store.sqlutil import batches, marks

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_log (article_id TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS article_log_by_commit ON article_log(at);
"""
RECORD_VERSION = 1


@dataclass
class PulledArticle:
    """One article as the archive has it: its record (None when it was removed) and the vectors of
    its chunks and sentences by id."""

    article_id: str
    record: dict | None
    chunk_vectors: dict[int, np.ndarray] = field(default_factory=dict)
    sentence_vectors: dict[int, np.ndarray] = field(default_factory=dict)


def create(db: sqlite3.Connection) -> None:
    """The log table (inside the caller's transaction, or on its own)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def missing(db: sqlite3.Connection) -> bool:
    """Whether the store predates the log."""
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='article_log'").fetchone()
    return row is None


def log(db: sqlite3.Connection, article_ids: Iterable[str], commit: int) -> None:
    """Note that these articles changed at `commit` (inside the caller's transaction)."""
    db.executemany("INSERT INTO article_log VALUES (?, ?)", [(a, commit) for a in dict.fromkeys(article_ids)])


def changed_since(db: sqlite3.Connection, commit: int) -> list[str]:
    """The ids of the articles changed after `commit`, sorted."""
    rows = db.execute("SELECT DISTINCT article_id FROM article_log WHERE at > ?", (commit,))
    return sorted(r[0] for r in rows)


def records(db: sqlite3.Connection, article_ids: Sequence[str]) -> dict[str, dict]:
    """The full record of each stored article of `article_ids` (absent ones are left out)."""
    out: dict[str, dict] = {}
    for part in batches(list(article_ids)):
        where = f"IN ({marks(len(part))})"
        for r in db.execute(
            "SELECT id, title, date, source, lang, meta, text, hash, indexed_at FROM articles "
            f"WHERE id {where}",
            part,
        ):
            out[r[0]] = {
                "v": RECORD_VERSION,
                "article": list(r),
                "sources": [],
                "fingerprint": None,
                "bands": [],
                "chunks": [],
                "sentences": [],
            }
        _gather(db, out, part, where)
    return out


def _gather(db: sqlite3.Connection, out: dict[str, dict], part: list[str], where: str) -> None:
    """Add the sources, fingerprints, band keys, chunks and sentences of `part` to their records."""
    reads = (
        (
            "sources",
            "SELECT article_id, source_id, title, date, source, url, hash, added FROM article_sources",
        ),
        ("fingerprint", "SELECT article_id, text_hash, hex(signature) FROM fingerprints"),
        ("bands", "SELECT article_id, band, key FROM minhash_bands"),
        ("chunks", "SELECT article_id, id, ord, start, end, first_sentence, last_sentence FROM chunks"),
        ("sentences", "SELECT article_id, id, ord, start, end, terms, cognates FROM sentences"),
    )
    for name, select in reads:
        for r in db.execute(f"{select} WHERE article_id {where} ORDER BY 2, 3", part):
            record = out.get(r[0])
            if record is None:
                continue
            if name == "fingerprint":
                record[name] = list(r[1:])
            else:
                record[name].append(list(r[1:]))


@dataclass
class Applied:
    """What applying pulled articles changed: chunk ids added, chunk ids removed."""

    chunk_ids: list[int] = field(default_factory=list)
    removed_chunk_ids: list[int] = field(default_factory=list)
    max_chunk: int = 0
    max_sentence: int = 0
    max_span: int = 1


def apply(db: sqlite3.Connection, pulled: Iterable[PulledArticle], commit: int, dim: int, as_blob) -> Applied:
    """Replace each pulled article's rows by its record, keeping the archive's ids (inside the
    caller's transaction); removed articles are deleted. Removed rows are logged at `commit`."""
    done = Applied()
    for item in pulled:
        _delete_article(db, item.article_id, commit, done)
        if item.record is None:
            continue
        _insert_record(db, item, commit, dim, as_blob, done)
        log(db, [item.article_id], commit)
    return done


def _delete_article(db: sqlite3.Connection, article_id: str, commit: int, done: Applied) -> None:
    """Delete an article and everything of it, logging its removed chunk and sentence ids."""
    for kind, table in (("chunk", "chunks"), ("sentence", "sentences")):
        ids = [r[0] for r in db.execute(f"SELECT id FROM {table} WHERE article_id = ?", (article_id,))]
        _drop_ids(db, kind, ids, commit, done)
    db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
    for table in ("article_sources", "fingerprints", "minhash_bands"):
        db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
    log(db, [article_id], commit)


def _drop_ids(db: sqlite3.Connection, kind: str, ids: list[int], commit: int, done: Applied) -> None:
    """Delete chunk or sentence rows (and vectors) by id, logging them as removed."""
    table = f"{kind}s"
    present = [
        r[0]
        for part in batches(ids)
        for r in db.execute(f"SELECT id FROM {table} WHERE id IN ({marks(len(part))})", part)
    ]
    if not present:
        return
    db.executemany("INSERT INTO removed VALUES (?, ?, ?)", [(kind, i, commit) for i in present])
    for part in batches(present):
        db.execute(f"DELETE FROM {table} WHERE id IN ({marks(len(part))})", part)
        db.execute(f"DELETE FROM {kind}_vectors WHERE id IN ({marks(len(part))})", part)
    if kind == "chunk":
        done.removed_chunk_ids.extend(present)


def _insert_record(
    db: sqlite3.Connection, item: PulledArticle, commit: int, dim: int, as_blob, done: Applied
) -> None:
    """Insert one record's rows with their ids and vectors."""
    record = item.record
    assert record is not None
    chunks, sentences = record["chunks"], record["sentences"]
    _drop_ids(db, "sentence", [int(s[0]) for s in sentences], commit, done)
    _drop_ids(db, "chunk", [int(c[0]) for c in chunks], commit, done)
    db.execute("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", record["article"])
    db.executemany(
        "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(s[0], item.article_id, s[1], s[2], s[3], s[4], s[5]) for s in sentences],
    )
    db.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(c[0], item.article_id, c[1], c[2], c[3], c[4], c[5]) for c in chunks],
    )
    for kind, rows, vectors in (
        ("sentence", sentences, item.sentence_vectors),
        ("chunk", chunks, item.chunk_vectors),
    ):
        db.executemany(
            f"INSERT INTO {kind}_vectors VALUES (?, ?, ?)",
            [(int(r[0]), commit, as_blob(np.asarray(vectors[int(r[0])]).reshape(dim))) for r in rows],
        )
    db.executemany(
        "INSERT OR REPLACE INTO article_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(s[0], item.article_id, *s[1:]) for s in record["sources"]],
    )
    if record["fingerprint"]:
        text_hash, signature = record["fingerprint"]
        db.execute(
            "INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?)",
            (item.article_id, text_hash, bytes.fromhex(signature)),
        )
    db.executemany(
        "INSERT OR IGNORE INTO minhash_bands VALUES (?, ?, ?)",
        [(b, k, item.article_id) for b, k in record["bands"]],
    )
    done.chunk_ids.extend(int(c[0]) for c in chunks)
    done.max_chunk = max([done.max_chunk, *(int(c[0]) for c in chunks)])
    done.max_sentence = max([done.max_sentence, *(int(s[0]) for s in sentences)])
    done.max_span = max([done.max_span, *(int(c[5]) - int(c[4]) + 1 for c in chunks)])
