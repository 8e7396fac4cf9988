"""`newsbot update`: fetch every registered feed and index what is new or changed.

Each feed is fetched with a conditional GET (its last ETag / Last-Modified); a 304 means nothing
changed. Otherwise its entries are compared by key (entry id, else link) and by a hash of what
the feed says about them with what the last update stored: only new and changed entries are
read (their full articles fetched when the feed carries a summary) and handed to the indexer,
which itself skips articles whose content hash is already stored. A feed that fails (network,
HTTP error, not a feed) is reported and the others still run; nothing already stored is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from retrieval.documents import Article, LoadResult, Problem
from retrieval.errors import NewsbotError
from retrieval.feedlist import FeedList, FeedRecord, entry_hash
from retrieval.readers.feeds import FeedError, kind_of, read_feed
from retrieval.readers.fetch import Fetcher, FetchError
from retrieval.readers.web import add_feed


@dataclass
class FeedReport:
    """What one update did with one feed; `error` says why the feed itself failed."""

    url: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    error: str = ""
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        if self.error:
            return f"{self.url}: failed: {self.error}"
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.url}: {self.new} new, {self.changed} changed, {self.unchanged} unchanged{failed}"


def update_feeds(
    feeds: FeedList, fetcher: Fetcher, index: Callable[[Sequence[Article]], object]
) -> list[FeedReport]:
    """Update every registered feed; `index` stores a feed's new and changed articles."""
    return [_update_one(record, feeds, fetcher, index) for record in feeds.feeds()]


def _update_one(
    record: FeedRecord, feeds: FeedList, fetcher: Fetcher, index: Callable[[Sequence[Article]], object]
) -> FeedReport:
    report = FeedReport(record.url)
    try:
        response = fetcher.fetch(record.url, etag=record.etag, last_modified=record.last_modified)
        if response.not_modified:
            report.unchanged = len(feeds.seen(record.url))
            feeds.record(record.url, status="not modified")
            return report
        if kind_of(response.data, response.content_type) != "feed":
            shown = response.content_type.split(";")[0] or "none"
            raise FeedError(f"not an RSS or Atom feed (Content-Type: {shown})")
        feed = read_feed(response.data, response.url, content_type=response.content_type)
    except (FetchError, FeedError) as exc:
        report.error = exc.reason if isinstance(exc, FetchError) else str(exc)
        feeds.record(record.url, status=f"failed: {report.error}")
        return report
    seen = feeds.seen(record.url)
    hashes = {e.key: entry_hash(e) for e in feed.entries}
    fresh = list({e.key: e for e in feed.entries if seen.get(e.key) != hashes[e.key]}.values())
    report.unchanged = len(hashes) - len(fresh)
    loaded = LoadResult()
    pairs = add_feed(record.url, feed, fresh, fetcher, loaded)
    report.problems = loaded.problems
    report.failed = len(fresh) - len(pairs)
    report.new = sum(1 for e, _ in pairs if e.key not in seen)
    report.changed = len(pairs) - report.new
    try:
        if loaded.articles:
            index(loaded.articles)
    except NewsbotError as exc:
        report.error = f"indexing failed: {exc}"
        feeds.record(record.url, status=f"failed: {report.error}")
        return report
    feeds.record(
        record.url,
        status="ok",
        etag=response.etag,
        last_modified=response.last_modified,
        entries=[(e.key, hashes[e.key], a.id) for e, a in pairs],
    )
    return report
