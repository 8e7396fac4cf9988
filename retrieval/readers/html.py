"""Web pages (.html/.htm) as articles: the main text and metadata found by trafilatura.

The text is the article body only (no navigation, ads, comments, related-article lists), its
paragraphs separated by blank lines; the title, author, site name, canonical URL and date come
from the page's metadata (JSON-LD, Open Graph, <meta>, <time>) as trafilatura reads it; the
title shown on the page (its <h1>, without a kicker) is preferred (readers/pagemeta.py). The date
is chosen between htmldate's (through trafilatura, original_date) and the article's own JSON-LD
datePublished/dateCreated or article:published_time (see `hints` and readers/pagedate.py). The
language comes from the page's `lang` attribute or Content-Language, else it is guessed from the
text. A page whose extracted text holds no running prose (a section front, a list of teasers, an
error page) has no article: `PageError` says so and the page is skipped
instead of being indexed as boilerplate.

Bytes are decoded by a byte-order mark, else as UTF-8 when they are valid UTF-8 (text in a
single-byte charset with non-ASCII letters practically never is, whatever a page declares), else by
the page's declared charset (a <meta charset> or http-equiv Content-Type in its first 4 KB;
ISO-8859-1 and ASCII read as windows-1252, as browsers do), else by charset detection.
"""

from __future__ import annotations

import codecs
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from retrieval.langdetect import normalized_lang
from retrieval.readers.pagedate import page_date
from retrieval.readers.pagemeta import MAX_TITLE_CHARS, Hints, agrees, choose_title, clean_text, hints

__all__ = ["MAX_TITLE_CHARS", "Page", "PageError", "agrees", "domain", "hints", "read_page"]

# A page's running prose: sentences (at least 25 characters on one line up to a full stop, with
# several words or in a script written without spaces) that add up to this many characters.
MIN_PROSE_CHARS = 200
# Full stops include the Devanagari danda, the Armenian, Ethiopic and Urdu full stops and the
# Arabic question mark.
_SENTENCE = re.compile(r"[^\n.!?。！？।։።۔؟]{24,}[.!?。！？।։።۔؟]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# A page with more NUL characters than this share is binary data; fewer are dropped.
_MAX_NUL_SHARE = 0.01
_HEAD_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.\-]+)""")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Labels browsers read as windows-1252 (the WHATWG Encoding standard).
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii", "cp1252"}


class PageError(ValueError):
    """A page that gives no article: not HTML, or no article text in it."""


@dataclass
class Page:
    """What a page holds: its article's fields, and notes on what could not be taken (a date)."""

    text: str
    title: str = ""
    date: str = ""
    source: str = ""
    lang: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def decode_html(data: bytes) -> tuple[str, str]:
    """The page's text and the encoding it was read with."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data[:_HEAD_BYTES])
    if declared:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # a wrong declaration: the bytes are guessed from below
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    guessed = _codec(best.encoding) if best is not None else None
    name = guessed or "cp1252"
    return data.decode(name, errors="replace"), name


def _declared_charset(head: bytes) -> str | None:
    """The Python codec of the charset the page declares, or None."""
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return _codec(match.group(1).decode("ascii", "replace")) if match else None


def _codec(label: str) -> str | None:
    """A Python codec name for an encoding label (None for an unknown one)."""
    label = label.strip().lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def read_page(data: bytes, today: dt.date | None = None) -> Page:
    """The article in a web page's bytes; PageError when there is none."""
    text, encoding = decode_html(data)
    if text.count("\x00") > _MAX_NUL_SHARE * len(text):
        raise PageError("not an HTML page (holds NUL bytes: binary data)")
    text = text.replace("\x00", "")
    if "<" not in text:
        raise PageError("not an HTML page (no markup)")
    doc, page_lang, found = _extract(text)
    body = _paragraphs(doc.text if doc is not None else "")
    if prose_chars(body) < MIN_PROSE_CHARS:
        what = f"{len(body)} characters of short lines" if body else "no text"
        raise PageError(f"no article in this page ({what}: navigation or teasers, no running text)")
    return _page(doc, body, (page_lang, found), encoding, today)


def _extract(text: str) -> tuple[Any, str, Hints]:
    """trafilatura's document (None when it finds nothing), the page's declared language and the
    page's own title and date hints."""
    import trafilatura

    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # failures are reported as problems
    tree = trafilatura.load_html(text)
    if tree is None:
        raise PageError("not an HTML page (no HTML document could be parsed)")
    lang = _page_language(tree)
    found = hints(tree)
    doc = trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    return doc, lang, found


def _page_language(tree: Any) -> str:
    """The language the page declares (<html lang>, Content-Language, og:locale), as 'de'."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            candidates.append(meta.get("content"))
    return next((lang for lang in map(normalized_lang, candidates) if lang), "")


def _paragraphs(text: str) -> str:
    """The extracted text with its paragraphs (trafilatura's lines) separated by blank lines."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n\n".join(line for line in lines if line)


def prose_chars(body: str) -> int:
    """How many characters of the text are in sentences (not in headlines, menus or link lists)."""
    return sum(
        len(m.group())
        for m in _SENTENCE.finditer(body)
        if m.group().count(" ") >= 3 or _CJK.search(m.group())
    )


def _page(doc: Any, body: str, head: tuple[str, Hints], encoding: str, today: dt.date | None) -> Page:
    """The page's fields from trafilatura's document, the page's declared language and its hints."""
    page_lang, found = head
    url = (doc.url or "").strip()
    host = domain(url) or (doc.hostname or "").strip()
    site = (doc.sitename or "").strip()
    page = Page(
        text=body,
        title=choose_title(clean_text(doc.title or ""), found, site, host),
        source=site or host,
        lang=page_lang,
    )
    page.meta = {k: v for k, v in (("url", url), ("author", (doc.author or "").strip())) if v}
    if encoding not in ("utf-8", "ascii"):
        page.meta["encoding"] = encoding
    dates = (found.published, found.modified)
    page.date = page_date(doc.date, *dates, page_lang, today, page.notes, found.times)
    return page


def domain(url: str) -> str:
    """The host of a URL without 'www.' ('' when there is none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")
