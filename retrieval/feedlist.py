"""The registered feeds and what `newsbot update` last saw of them, in one small SQLite file
beside the index folder (so that `index --rebuild` keeps it).

`feeds` holds each feed's URL and the validators of its last response (ETag, Last-Modified) for
a conditional GET; `entries` holds, per feed, each entry's key (its id or link) with a hash of
what the feed said about it, so an update knows which entries are new, changed or unchanged
without fetching their pages again. Every change is one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import InputError
from retrieval.readers.feeds import FeedEntry
from retrieval.readers.fetch import is_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, added TEXT NOT NULL, etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '', checked TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS entries (
    feed TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE, key TEXT NOT NULL,
    hash TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (feed, key));
"""


@dataclass(frozen=True)
class FeedRecord:
    """A registered feed: its URL, when it was added and how its last update went."""

    url: str
    added: str
    etag: str = ""
    last_modified: str = ""
    checked: str = ""
    status: str = ""


def entry_hash(entry: FeedEntry) -> str:
    """A hash of what the feed says about an entry (link, title, text, date, author)."""
    payload = json.dumps([entry.link, entry.title, entry.text, entry.date, entry.author], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_feed_url(url: str) -> str:
    """The URL stripped; InputError when it is no http(s) URL with a host."""
    url = url.strip()
    from urllib.parse import urlsplit

    if not is_url(url) or not urlsplit(url).hostname:
        raise InputError(f"{url!r} is not an http(s) URL of a feed")
    return url


class FeedList:
    """The registered feeds in `path` (created on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._db:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeedList:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add(self, urls: Iterable[str]) -> list[str]:
        """Register feeds; returns the URLs that were new."""
        urls = list(dict.fromkeys(check_feed_url(u) for u in urls))
        now = _now()
        with self._db:
            known = {r[0] for r in self._db.execute("SELECT url FROM feeds")}
            new = [u for u in urls if u not in known]
            self._db.executemany("INSERT INTO feeds (url, added) VALUES (?, ?)", [(u, now) for u in new])
        return new

    def remove(self, url: str) -> bool:
        """Unregister a feed (its articles stay indexed); whether it was registered."""
        with self._db:
            return self._db.execute("DELETE FROM feeds WHERE url = ?", (url.strip(),)).rowcount > 0

    def feeds(self) -> list[FeedRecord]:
        """The registered feeds in the order they were added."""
        rows = self._db.execute(
            "SELECT url, added, etag, last_modified, checked, status FROM feeds ORDER BY added, rowid"
        )
        return [FeedRecord(*row) for row in rows]

    def seen(self, url: str) -> dict[str, str]:
        """Entry key -> hash of what the feed last said about it."""
        return dict(self._db.execute("SELECT key, hash FROM entries WHERE feed = ?", (url,)))

    def record(
        self,
        url: str,
        *,
        status: str,
        etag: str | None = None,
        last_modified: str | None = None,
        entries: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Store an update's outcome: its status, the response's validators (None: unchanged) and
        the entries indexed (key, hash, article id), in one transaction."""
        with self._db:
            self._db.execute("UPDATE feeds SET checked = ?, status = ? WHERE url = ?", (_now(), status, url))
            if etag is not None or last_modified is not None:
                self._db.execute(
                    "UPDATE feeds SET etag = ?, last_modified = ? WHERE url = ?",
                    (etag or "", last_modified or "", url),
                )
            self._db.executemany(
                "INSERT OR REPLACE INTO entries (feed, key, hash, article_id) VALUES (?, ?, ?, ?)",
                [(url, key, h, article_id) for key, h, article_id in entries],
            )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
