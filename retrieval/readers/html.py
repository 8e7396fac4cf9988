"""Web pages (.html/.htm) as articles: the main text and metadata found by trafilatura.

The text is the article body only (no navigation, ads, comments, related-article lists), its
paragraphs separated by blank lines; the title, author, site name, canonical URL and date come
from the page's metadata (JSON-LD, Open Graph, <meta>, <time>) as trafilatura reads it; the
title shown on the page (its <h1>) is preferred when it agrees with the metadata's title. The date
is htmldate's (through trafilatura, original_date: the publication date from the metadata, the URL
or the page, not the modified one), else the article's own JSON-LD datePublished/dateCreated or
article:published_time (see `hints`): measured on saved pages, taking those first gives more wrong
dates (where the two differ by a day, htmldate's is mostly the local date the page shows and theirs
is in UTC). The language comes from the page's `lang` attribute or Content-Language, else it is
guessed from the text. A page whose extracted text holds no running prose (a section front, a
list of teasers, an error page) has no article: `PageError` says so and the page is skipped
instead of being indexed as boilerplate.

Bytes are decoded by a byte-order mark, else as UTF-8 when they are valid UTF-8 (text in a
single-byte charset with non-ASCII letters practically never is, whatever a page declares), else by
the page's declared charset (a <meta charset> or http-equiv Content-Type in its first 4 KB;
ISO-8859-1 and ASCII read as windows-1252, as browsers do), else by charset detection.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from retrieval.langdetect import normalized_lang
from retrieval.readers.dates import DateError, iso_date

# A page's running prose: sentences (at least 25 characters on one line up to a full stop, with
# several words or in a script written without spaces) that add up to this many characters.
MIN_PROSE_CHARS = 200
# Full stops include the Devanagari danda, the Armenian, Ethiopic and Urdu full stops and the
# Arabic question mark.
_SENTENCE = re.compile(r"[^\n.!?。！？।։።۔؟]{24,}[.!?。！？।։።۔؟]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# A page with more NUL characters than this share is binary data; fewer are dropped.
_MAX_NUL_SHARE = 0.01
# Separators between a page title and the site name ("Title - Site", "Site | Title").
_TITLE_PARTS = re.compile(r"\s+[-|–—│·:»]{1,2}\s+")
_HEAD_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.\-]+)""")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Labels browsers read as windows-1252 (the WHATWG Encoding standard).
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii", "cp1252"}
# Characters a title is read without: soft hyphens, zero-width spaces and joiners, byte-order marks.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# <meta> properties naming an article's publication time, best first.
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "og:published_time")
# A JSON-LD "@type" of an article (NewsArticle, BlogPosting, ReportageNewsArticle, Report, ...).
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|Report)$")
_WORD = re.compile(r"\w+")
_OPENING_QUOTES = "\"'„“«»‘‚"
# A longer title (a page's heading, a plain-text article's first line, a JSONL title) is not
# taken as is: shortened at a word (documents.shorten) or refused as a heading.
MAX_TITLE_CHARS = 300
# The share of words (Dice) a heading and the metadata's title have in common to be the same title.
MIN_WORDS_SHARED = 0.6


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


@dataclass
class Hints:
    """What the page itself says of its article, before trafilatura reads it: its <title>, its
    <h1> headings (each as the texts of its elements), the JSON-LD article's headline and
    publication dates (datePublished, then dateCreated) and the article:published_time <meta>."""

    head_title: str = ""
    h1: list[list[str]] = field(default_factory=list)
    headline: str = ""
    published: list[str] = field(default_factory=list)


def hints(tree: Any) -> Hints:
    """The title and date hints of a parsed page."""
    found = Hints(head_title=clean_text(tree.findtext(".//head/title") or ""))
    found.h1 = [parts for parts in (_text_parts(h) for h in tree.iter("h1")) if parts]
    article = _jsonld_article(tree)
    found.headline = clean_text(str(article.get("headline") or ""))
    dates = (article.get("datePublished"), article.get("dateCreated"))
    found.published = [v for v in dates if isinstance(v, str)]
    metas = {(m.get("property") or m.get("name") or "").lower(): m.get("content") for m in tree.iter("meta")}
    found.published += [metas[k] for k in _PUBLISHED_META if isinstance(metas.get(k), str)]
    return found


def _text_parts(element: Any) -> list[str]:
    """The texts of an element and its children (a kicker, the headline, a logo), the empty ones
    left out and their spaces kept."""
    return [str(t) for t in element.itertext() if str(t).strip()]


def clean_text(text: str) -> str:
    """Text without soft hyphens or zero-width characters, its whitespace runs one space."""
    return " ".join(text.translate(_INVISIBLE).split())


def _jsonld_article(tree: Any) -> dict[str, Any]:
    """The first article (NewsArticle, BlogPosting, ...) in the page's JSON-LD, or {}."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        article = next(_articles(data), None)
        if article is not None:
            return article
    return {}


def _articles(data: Any, depth: int = 0) -> Any:
    """The JSON-LD objects of an article type in a JSON value, in document order."""
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data:
            yield from _articles(item, depth + 1)
    elif isinstance(data, dict):
        types = data.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and _ARTICLE_TYPE.search(t) for t in types):
            yield data
        yield from _articles(data.get("@graph"), depth + 1)


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


def choose_title(title: str, found: Hints, site: str, host: str) -> str:
    """The article's title as the page shows it: the first <h1> that agrees with the metadata's
    title (the JSON-LD headline, else trafilatura's) without a part naming the site (a logo link in
    it), else the metadata's title without the site's name. An
    <h1> that holds the metadata's title and more has a kicker or section run into it ("Politics |
    Title", "Investitionen in IT-Sicherheit Cyber-Angriffe: ..."): the metadata's title is taken."""
    meta = found.headline or title or found.head_title
    names = _names(site, host)
    for parts in found.h1:
        h1 = _heading(parts, names)
        if len(h1) <= MAX_TITLE_CHARS and _squash(h1) not in names and agrees(h1, meta):
            if meta.casefold() in h1.casefold() and len(h1) > len(meta):
                break
            return h1
    return _title(title or found.headline, found.head_title, site, host)


def _heading(parts: list[str], names: set[str]) -> str:
    """A heading's text from the texts of its elements, without a first or last one that names the
    site (a logo link); where two elements meet without a space between words, one is put."""
    if len(parts) > 1 and _is_site(parts[-1], names):
        parts = parts[:-1]
    if len(parts) > 1 and _is_site(parts[0], names):
        parts = parts[1:]
    text = ""
    for part in parts:
        if text and not text[-1].isspace() and (part[0].isalnum() or part[0] in _OPENING_QUOTES):
            text += " "
        text += part
    return clean_text(text)


def agrees(shown: str, meta: str) -> bool:
    """Whether a heading is the article's title as the metadata gives it: the same, one within the
    other (a kicker or site name added, at least half of the longer), or most words in common (a
    site name and section added to a short title, a teaser's wording)."""
    a, b = shown.casefold(), meta.casefold()
    if not a or not b:
        return False
    if (a in b or b in a) and min(len(a), len(b)) >= 0.5 * max(len(a), len(b)):
        return True
    wa, wb = set(_WORD.findall(a)), set(_WORD.findall(b))
    return bool(wa and wb) and 2 * len(wa & wb) / (len(wa) + len(wb)) >= MIN_WORDS_SHARED


def _title(title: str, head_title: str, site: str, host: str) -> str:
    """The article's title: trafilatura's (the one <h1>, Open Graph or other metadata, else a part
    of the <title>) without the site's name; where that part was the site's name ("Der Standard"
    of "Der Standard - Wien baut die U5"), the rest of the <title>."""
    seps = list(_TITLE_PARTS.finditer(head_title))
    if seps and title == head_title[: seps[0].start()] and _squash(title) in _names(site, host):
        return _clean_title(head_title[seps[0].end() :], site, host)
    return _clean_title(title, site, host)


def _clean_title(title: str, site: str, host: str) -> str:
    """The title without the site's name after or before it ("Title - Der Standard", "Title | St.
    Galler Tagblatt" on tagblatt.ch), and without what follows the name ("Title - WSVN 7News |
    Miami News, Weather")."""
    names = _names(site, host)
    seps = list(_TITLE_PARTS.finditer(title))
    if not seps or not names:
        return title
    starts = [0] + [m.end() for m in seps]
    ends = [m.start() for m in seps] + [len(title)]
    for i in range(1, len(starts)):
        if _is_site(title[starts[i] : ends[i]], names):
            return title[: ends[i - 1]]
    if _is_site(title[: ends[0]], names):
        return title[starts[1] :]
    return title


def _is_site(part: str, names: set[str]) -> bool:
    """Whether a part of a title names the site: one of its names, or mostly one of them (a name of
    at least four letters within it, or it within a name)."""
    squashed = _squash(part)
    if squashed in names:
        return True
    within = (n for n in names if len(n) >= 4 and n in squashed)
    return any(len(n) >= 0.4 * len(squashed) for n in within) or (
        len(squashed) >= 4 and any(squashed in n for n in names)
    )


def _names(site: str, host: str) -> set[str]:
    """The site's names as `_squash` compares them."""
    return {_squash(n) for n in (site, host) if n} - {""}


def _squash(name: str) -> str:
    """A name compared without case, spaces, dots or 'www.' ("derStandard.at" ~ "der standard")."""
    name = name.casefold().removeprefix("www.")
    return re.sub(r"[\W_]+", "", name.rsplit(".", 1)[0] if re.search(r"\.[a-z]{2,6}$", name) else name)


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
    page.date = choose_date([doc.date, *found.published], today, page.notes)
    return page


def choose_date(candidates: list[Any], today: dt.date | None, notes: list[str]) -> str:
    """The first candidate that is a valid date, as an ISO date; the reason in `notes` when none
    is and the last one was refused ("" when there was no date at all)."""
    problem = ""
    for value in candidates:
        try:
            date = iso_date(value, today)
        except DateError as exc:
            problem = f"date {exc}; left empty"
            continue
        if date:
            return date
    if problem:
        notes.append(problem)
    return ""


def domain(url: str) -> str:
    """The host of a URL without 'www.' ('' when there is none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")
