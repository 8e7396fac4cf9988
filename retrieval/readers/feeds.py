"""RSS and Atom feeds read with feedparser: one entry per article.

An entry gives its id (the feed's guid/id, else its link), link, title, author and date (published,
else updated), and its text: the full content when the feed carries it (Atom <content>, RSS
content:encoded with running prose), else its summary, marked `full=False` so that the reader
fetches the article from the link. Whether bytes are a feed at all is decided by their
Content-Type and by sniffing the root element (`<rss>`, `<feed>`, `<rdf:RDF>`), not by feedparser,
which accepts almost anything.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any

from retrieval.langdetect import normalized_lang
from retrieval.readers.dates import DateError, iso_date
from retrieval.readers.html import MIN_PROSE_CHARS, prose_chars

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
_XML_TYPES = ("application/xml", "text/xml")
# The root element of a feed, after the XML declaration, comments, doctype and processing instructions.
_PROLOGUE = re.compile(
    rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)*", re.DOTALL | re.IGNORECASE
)
_FEED_ROOT = re.compile(rb"^<(?:[A-Za-z0-9_]+:)?(rss|feed|RDF)[\s>/]")
_HTML_ROOT = re.compile(rb"^<(?:html|head|body|!doctype\s+html)[\s>]", re.IGNORECASE)
_BLOCKS = (
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "tr",
    "section",
    "article",
)


class FeedError(ValueError):
    """Bytes that are no RSS or Atom feed."""


@dataclass
class FeedEntry:
    """One entry: its article's fields and whether `text` is the whole article."""

    key: str
    link: str
    title: str
    text: str
    full: bool
    date: str = ""
    author: str = ""
    lang: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Feed:
    """A feed's title, site link and entries."""

    title: str
    link: str
    entries: list[FeedEntry]
    notes: list[str] = field(default_factory=list)


def kind_of(data: bytes, content_type: str = "") -> str:
    """'feed', 'page' or '' (neither) for fetched or read bytes, by Content-Type and sniffing."""
    mime = content_type.split(";")[0].strip().lower()
    head = _PROLOGUE.sub(b"", _utf8_head(data[:8192]), count=1)[:512]
    if _FEED_ROOT.match(head):
        return "feed"
    if mime in ("text/html", "application/xhtml+xml") or _HTML_ROOT.match(head):
        return "page"
    if mime in _FEED_TYPES:
        return "feed"  # declared a feed: feedparser says whether it is one
    if not mime or mime in _XML_TYPES or mime.startswith("text/"):
        return "page" if b"<" in head else ""
    return ""


def _utf8_head(head: bytes) -> bytes:
    """The first bytes as UTF-8 for sniffing: UTF-16 and UTF-32 (with or without a byte-order
    mark, told by the NULs around '<') re-encoded, a UTF-8 byte-order mark dropped."""
    for prefix, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
        (b"\x00<", "utf-16-be"),
        (b"<\x00", "utf-16-le"),
    ):
        if head.startswith(prefix):
            return head.decode(codec, errors="ignore").encode("utf-8")
    return head.removeprefix(codecs.BOM_UTF8)


def read_feed(data: bytes, url: str = "", today: dt.date | None = None, content_type: str = "") -> Feed:
    """The feed's entries; FeedError when the bytes are no feed."""
    import feedparser

    if kind_of(data) != "feed":
        raise FeedError("not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root element)")
    mime = content_type.split(";")[0].strip().lower()
    headers = {"content-type": content_type if mime in _FEED_TYPES + _XML_TYPES else "application/xml"}
    if url:
        headers["content-location"] = url
    parsed = feedparser.parse(data, response_headers=headers)
    if not parsed.get("version") and parsed.get("bozo"):
        raise FeedError(f"not a readable feed ({_bozo(parsed)})")
    meta = parsed.get("feed", {})
    feed = Feed(title=_clean(meta.get("title", "")), link=meta.get("link", ""), entries=[])
    if parsed.get("bozo") and parsed.get("entries") and not _harmless(parsed.get("bozo_exception")):
        feed.notes.append(f"feed is not well-formed ({_bozo(parsed)}); read what could be read")
    lang = normalized_lang(meta.get("language", ""))
    for number, entry in enumerate(parsed.get("entries", []), 1):
        item = _entry(entry, lang, today)
        if item is None:
            feed.notes.append(f"entry {number} has no id, link or text; skipped")
            continue
        feed.entries.append(item)
    return feed


def _harmless(exc: object) -> bool:
    """Whether feedparser's complaint is about labels only (the encoding, the content type)."""
    return type(exc).__name__ in ("CharacterEncodingOverride", "NonXMLContentType")


def _bozo(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return str(getattr(exc, "getMessage", lambda: exc)()) if exc else "malformed"


def _entry(entry: Any, lang: str, today: dt.date | None) -> FeedEntry | None:
    """One entry's fields; None when it has neither an id or link nor any text."""
    link = (entry.get("link") or "").strip()
    content = " ".join(c.get("value", "") for c in entry.get("content", []) or [])
    content_text = html_text(content) if content else ""
    summary_text = html_text(entry.get("summary", "") or "")
    full = prose_chars(content_text) >= MIN_PROSE_CHARS
    text = content_text if full or len(content_text) > len(summary_text) else summary_text
    key = (entry.get("id") or link).strip()
    if not key and not text.strip():
        return None
    item = FeedEntry(
        key=key or _clean(entry.get("title", "")) or text[:80],
        link=link,
        title=_clean(entry.get("title", "")),
        text=text,
        full=full,
        author=_clean(entry.get("author", "")),
        lang=normalized_lang(entry.get("language", "")) or lang,
    )
    item.date = entry_date(entry, item.notes, today)
    return item


def entry_date(entry: Any, notes: list[str], today: dt.date | None) -> str:
    """The entry's ISO date: published, else updated, as written (feedparser's parse as fallback)."""
    for name in ("published", "updated", "created"):
        raw = (entry.get(name) or "").strip()
        if not raw:
            continue
        try:
            return iso_date(raw, today)
        except DateError as exc:
            parsed = entry.get(f"{name}_parsed")
            if parsed and "future" not in str(exc):
                try:
                    return iso_date(time.strftime("%Y-%m-%d", parsed), today)
                except DateError:
                    pass
            notes.append(f"date {exc}; left empty")
            return ""
    return ""


def html_text(markup: str) -> str:
    """The text of an HTML fragment, its paragraphs separated by blank lines."""
    if "<" not in markup:
        return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", markup) if p.strip())
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return " ".join(re.sub(r"<[^>]*>", " ", markup).split())
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for element in root.iter(*_BLOCKS):
        element.tail = "\n\n" + (element.tail or "")
    text = root.text_content()
    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())


def _clean(value: str) -> str:
    """A one-line field (title, author) without markup or extra spaces."""
    return " ".join(html_text(value).split()) if "<" in value else " ".join(value.split())
