"""Where each stored article came from, and the fingerprints that find it again.

Every stored article has one row in `article_sources` for itself (source_id = its id) and one for
each duplicate merged into it (another file, page or feed entry with the same story): its id,
title, date, source (site) and canonical URL. `fingerprints` holds each article's normalised-text
hash and MinHash signature, `minhash_bands` its LSH band keys. All of it lives in the record store
and changes in the caller's transaction, with the articles.

Removing an id that is a merged duplicate drops that source only. Removing an article that still
has other sources keeps the article (text, chunks, vectors): the oldest remaining source takes its
place, with that source's id, title, date, site and URL. Only the last source removes the story.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_sources (
    source_id TEXT PRIMARY KEY, article_id TEXT NOT NULL, title TEXT NOT NULL DEFAULT '',
    date TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', url TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL, added REAL NOT NULL);
CREATE INDEX IF NOT EXISTS article_sources_by_article ON article_sources(article_id);
CREATE INDEX IF NOT EXISTS article_sources_by_url ON article_sources(url);
CREATE TABLE IF NOT EXISTS fingerprints (
    article_id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, signature BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS fingerprints_by_hash ON fingerprints(text_hash);
CREATE TABLE IF NOT EXISTS minhash_bands (
    band INTEGER NOT NULL, key INTEGER NOT NULL, article_id TEXT NOT NULL,
    PRIMARY KEY (band, key, article_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minhash_bands_by_article ON minhash_bands(article_id);
"""


@dataclass(frozen=True)
class SourceRow:
    """One source of a stored article: the input it was read from."""

    source_id: str
    article_id: str
    title: str = ""
    date: str = ""
    source: str = ""
    url: str = ""
    hash: str = ""  # the input's content hash (re-reading it unchanged is a no-op)

    def to_json(self) -> dict[str, str]:
        """The source as listed by `show --json` and `sources --json`."""
        return {
            "id": self.source_id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
        }


@dataclass(frozen=True)
class NewFingerprint:
    """An article's fingerprint to store: normalised-text hash, signature bytes, band keys (empty
    when the text is too short to match as a near duplicate)."""

    text_hash: str
    signature: bytes
    bands: tuple[int, ...]


def create(db: sqlite3.Connection) -> None:
    """The tables (inside the caller's transaction, or on their own)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def missing(db: sqlite3.Connection) -> bool:
    """Whether the store predates these tables."""
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='article_sources'").fetchone()
    return row is None


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: Sequence, size: int = 900):
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def insert_sources(db: sqlite3.Connection, rows: Sequence[SourceRow]) -> None:
    """Add (or move) sources; a source id already listed elsewhere moves to its new article."""
    now = time.time()
    db.executemany(
        "INSERT OR REPLACE INTO article_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.source_id, r.article_id, r.title, r.date, r.source, r.url, r.hash, now) for r in rows],
    )


def insert_fingerprints(db: sqlite3.Connection, items: Sequence[tuple[str, NewFingerprint]]) -> None:
    """Store articles' fingerprints and band keys (replacing earlier ones)."""
    drop_fingerprints(db, [a for a, _ in items])
    db.executemany(
        "INSERT INTO fingerprints VALUES (?, ?, ?)", [(a, f.text_hash, f.signature) for a, f in items]
    )
    db.executemany(
        "INSERT OR IGNORE INTO minhash_bands VALUES (?, ?, ?)",
        [(band, key, a) for a, f in items for band, key in enumerate(f.bands)],
    )


def drop_fingerprints(db: sqlite3.Connection, article_ids: Sequence[str]) -> None:
    """Forget articles' fingerprints."""
    for part in _chunks(article_ids):
        db.execute(f"DELETE FROM fingerprints WHERE article_id IN ({_marks(len(part))})", part)
        db.execute(f"DELETE FROM minhash_bands WHERE article_id IN ({_marks(len(part))})", part)


def sources_of(db: sqlite3.Connection, article_ids: Sequence[str]) -> dict[str, list[SourceRow]]:
    """Each article's sources, itself first then in the order they were added."""
    out: dict[str, list[SourceRow]] = {a: [] for a in article_ids}
    for part in _chunks(list(out)):
        rows = db.execute(
            "SELECT source_id, article_id, title, date, source, url, hash FROM article_sources "
            f"WHERE article_id IN ({_marks(len(part))}) ORDER BY source_id != article_id, added, source_id",
            part,
        )
        for r in rows:
            out[r[1]].append(SourceRow(*r))
    return out


def source_rows(db: sqlite3.Connection, source_ids: Sequence[str]) -> dict[str, SourceRow]:
    """Stored sources by their id (unknown ids are left out)."""
    out = {}
    for part in _chunks(list(source_ids)):
        rows = db.execute(
            "SELECT source_id, article_id, title, date, source, url, hash FROM article_sources "
            f"WHERE source_id IN ({_marks(len(part))})",
            part,
        )
        out.update({r[0]: SourceRow(*r) for r in rows})
    return out


def by_text_hash(db: sqlite3.Connection, hashes: Sequence[str]) -> dict[str, str]:
    """The stored article with each normalised-text hash."""
    out = {}
    for part in _chunks(list(hashes)):
        rows = db.execute(
            f"SELECT text_hash, MIN(article_id) FROM fingerprints WHERE text_hash IN ({_marks(len(part))}) "
            "GROUP BY text_hash",
            part,
        )
        out.update(dict(rows))
    return out


def by_url(db: sqlite3.Connection, urls: Sequence[str]) -> dict[str, str]:
    """The stored article a canonical URL is a source of."""
    out = {}
    wanted = [u for u in urls if u]
    for part in _chunks(wanted):
        rows = db.execute(
            "SELECT url, MIN(article_id) FROM article_sources "
            f"WHERE url IN ({_marks(len(part))}) GROUP BY url",
            part,
        )
        out.update(dict(rows))
    return out


def band_candidates(db: sqlite3.Connection, bands: Sequence[int]) -> dict[str, bytes]:
    """Stored articles sharing a band key with the given ones, with their signatures."""
    if not bands:
        return {}
    pairs = [v for band, key in enumerate(bands) for v in (band, key)]
    found = {
        r[0]
        for r in db.execute(
            f"WITH q(band, key) AS (VALUES {', '.join(['(?, ?)'] * len(bands))}) "
            "SELECT DISTINCT m.article_id FROM minhash_bands m JOIN q ON m.band = q.band AND m.key = q.key",
            pairs,
        )
    }
    out = {}
    for part in _chunks(sorted(found)):
        rows = db.execute(
            f"SELECT article_id, signature FROM fingerprints WHERE article_id IN ({_marks(len(part))})", part
        )
        out.update(dict(rows))
    return out


def detach(db: sqlite3.Connection, source_ids: Sequence[str]) -> None:
    """Drop sources by id."""
    for part in _chunks(list(source_ids)):
        db.execute(f"DELETE FROM article_sources WHERE source_id IN ({_marks(len(part))})", part)


def promote(db: sqlite3.Connection, article_id: str, heir: SourceRow) -> None:
    """Re-key a stored article to one of its remaining sources (its id, title, date, site, URL)."""
    row = db.execute("SELECT meta FROM articles WHERE id = ?", (article_id,)).fetchone()
    meta = json.loads(row[0] or "{}") if row else {}
    if heir.url:
        meta["url"] = heir.url
    else:
        meta.pop("url", None)
    db.execute(
        "UPDATE articles SET id = ?, title = ?, date = ?, source = ?, meta = ? WHERE id = ?",
        (
            heir.source_id,
            heir.title,
            heir.date,
            heir.source,
            json.dumps(meta, ensure_ascii=False),
            article_id,
        ),
    )
    for table, column in (
        ("chunks", "article_id"),
        ("sentences", "article_id"),
        ("fingerprints", "article_id"),
        ("minhash_bands", "article_id"),
        ("article_sources", "article_id"),
    ):
        db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (heir.source_id, article_id))


def removal_plan(
    db: sqlite3.Connection, ids: Sequence[str]
) -> tuple[list[str], list[str], dict[str, SourceRow]]:
    """How removing ids goes: (sources to detach, articles to delete, articles to re-key to an heir)."""
    detached, deleted, heirs = [], [], {}
    gone = set(ids)
    stored = {
        r[0]
        for part in _chunks(list(ids))
        for r in db.execute(f"SELECT id FROM articles WHERE id IN ({_marks(len(part))})", part)
    }
    rows = source_rows(db, ids)
    sources = sources_of(db, [i for i in dict.fromkeys(ids) if i in stored])
    for i in dict.fromkeys(ids):
        if i in rows and rows[i].article_id != i:
            detached.append(i)
            continue
        if i not in stored:
            continue
        rest = [s for s in sources[i] if s.source_id not in gone]
        detached.append(i)
        if rest:
            heirs[i] = rest[0]
        else:
            deleted.append(i)
    return detached, deleted, heirs


def orphans(db: sqlite3.Connection) -> int:
    """Source rows, fingerprints and band keys whose article is not stored (0 when sound)."""
    return sum(
        int(
            db.execute(
                f"SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS "
                "(SELECT 1 FROM articles a WHERE a.id = t.article_id)"
            ).fetchone()[0]
        )
        for table in ("article_sources", "fingerprints", "minhash_bands")
    )
