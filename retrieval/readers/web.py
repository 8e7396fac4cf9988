"""Articles from the web: URLs of pages and feeds, and feed files.

A fetched URL is a feed or a page by its Content-Type and its first bytes (`feeds.kind_of`); a
page is read by `html.read_page` with its URL as id basis and canonical URL when the page names
none; a feed gives one article per entry (`feeds.read_feed`), and an entry that carries only a
summary gets its full article from its link, fetched a few at a time; when that page cannot be
fetched or read, the summary is kept and the reason reported. Every failure is one `Problem`
naming the URL or file and what went wrong; the other inputs are still read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from retrieval.documents import MAX_TITLE_CHARS, Article, LoadResult, Problem, clean_text, shorten
from retrieval.langdetect import article_language
from retrieval.readers.feeds import Feed, FeedEntry, FeedError, kind_of, read_feed
from retrieval.readers.fetch import Fetcher, FetchError, Response, url_id
from retrieval.readers.html import Page, PageError, domain, read_page


def read_urls(urls: Sequence[str], fetcher: Fetcher, result: LoadResult) -> None:
    """Fetch the URLs (a few at a time) and add their articles, or their problems, to `result`."""
    for url, response in zip(urls, fetcher.fetch_all(list(urls)), strict=True):
        if isinstance(response, FetchError):
            result.problems.append(Problem(url, None, response.reason))
        else:
            read_response(url, response, fetcher, result)


def read_response(url: str, response: Response, fetcher: Fetcher, result: LoadResult) -> None:
    """Add what a fetched URL holds: a page's article or a feed's entries."""
    kind = kind_of(response.data, response.content_type)
    if kind == "feed":
        try:
            feed = read_feed(response.data, response.url, content_type=response.content_type)
        except FeedError as exc:
            result.problems.append(Problem(url, None, str(exc)))
            return
        add_feed(url, feed, feed.entries, fetcher, result)
    elif kind == "page":
        article = page_article(url, clean_text(url_id(response.url)), response.data, result, response.url)
        if article is not None:
            result.articles.append(article)
    else:
        shown = response.content_type.split(";")[0] or "none"
        result.problems.append(Problem(url, None, f"not an HTML page or a feed (Content-Type: {shown})"))


def read_feed_file(path: Path, data: bytes, fetcher: Callable[[], Fetcher], result: LoadResult) -> None:
    """Add the entries of a feed file; entries with only a summary are completed from their links
    (fetched by `fetcher()`, only asked for when there are such entries)."""
    try:
        feed = read_feed(data)
    except FeedError as exc:
        result.problems.append(Problem(path, None, str(exc)))
        return
    needed = any(not e.full and e.link for e in feed.entries)
    add_feed(path, feed, feed.entries, fetcher() if needed else None, result)


def add_feed(
    source: str | Path, feed: Feed, entries: Sequence[FeedEntry], fetcher: Fetcher | None, result: LoadResult
) -> list[tuple[FeedEntry, Article]]:
    """Add an article per entry (full articles fetched for summary-only entries) and return them."""
    result.problems.extend(Problem(source, None, note, kept=True) for note in feed.notes)
    links = list(dict.fromkeys(e.link for e in entries if not e.full and e.link))
    fetched: dict[str, Response | FetchError] = {}
    if links and fetcher is not None:
        fetched = dict(zip(links, fetcher.fetch_all(links), strict=True))
    out = []
    for entry in entries:
        page = _entry_page(entry, fetched.get(entry.link), result)
        article = entry_article(str(source), feed, entry, page)
        if article is None:
            result.problems.append(Problem(source, None, f"entry {entry.key}: no text; skipped"))
            continue
        result.problems.extend(Problem(entry.link or source, None, n, kept=True) for n in entry.notes)
        result.articles.append(article)
        out.append((entry, article))
    return out


def _entry_page(entry: FeedEntry, response: Response | FetchError | None, result: LoadResult) -> Page | None:
    """The page behind a summary-only entry; None (summary kept, reported) when it is not to be had."""
    if response is None:
        return None
    reason = ""
    if isinstance(response, FetchError):
        reason = response.reason
    elif kind_of(response.data, response.content_type) != "page":
        reason = "not an HTML page"
    else:
        try:
            return read_page(response.data)
        except PageError as exc:
            reason = str(exc)
    result.problems.append(Problem(entry.link, None, f"{reason}; the feed's summary kept", kept=True))
    return None


def entry_article(source: str, feed: Feed, entry: FeedEntry, page: Page | None) -> Article | None:
    """An entry's article: the page's text when its article was fetched, else the entry's own."""
    text = page.text if page is not None else entry.text
    if not text.strip():
        return None
    site = (page.source if page else "") or feed.title or domain(entry.link) or domain(feed.link)
    meta = dict(page.meta) if page else {}
    meta.update({k: v for k, v in (("url", entry.link), ("author", entry.author)) if v})
    meta.update({"feed": source, "entry_id": entry.key})
    if page is None and not entry.full:
        meta["summary_only"] = True
    basis = url_id(entry.link) if entry.link else f"{url_id(source) or source}#{entry.key}"
    return Article(
        id=clean_text(basis),
        text=clean_text(text),
        title=shorten(entry.title or (page.title if page else "") or text.split("\n", 1)[0], MAX_TITLE_CHARS),
        date=entry.date or (page.date if page else ""),
        source=site,
        lang=article_language(entry.lang or (page.lang if page else ""), text),
        meta=meta,
    )


def page_article(
    source: str | Path, article_id: str, data: bytes, result: LoadResult, url: str = ""
) -> Article | None:
    """A page's article (a fetched URL's or a file's; `url` the fetched page's final URL, kept in
    meta and its domain the source when the page names none), or None with the problem recorded
    against `source`."""
    try:
        page = read_page(data)
    except PageError as exc:
        result.problems.append(Problem(source, None, str(exc)))
        return None
    result.problems.extend(Problem(source, None, note, kept=True) for note in page.notes)
    meta = dict(page.meta)
    if url:
        meta.setdefault("url", url)
    return Article(
        id=article_id,
        text=page.text,
        title=shorten(page.title or page.text.split("\n", 1)[0], MAX_TITLE_CHARS),
        date=page.date,
        source=page.source or domain(url),
        lang=article_language(page.lang, page.text),
        meta=meta,
    )
