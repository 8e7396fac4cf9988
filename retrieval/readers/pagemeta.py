"""What a web page says of its article before trafilatura reads it (its <title>, <h1> headings,
JSON-LD article and <meta> times: `hints`), and the article's title chosen from them
(`choose_title`): the headline the page shows, without the site's name or a kicker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any

# Separators between a page title and the site name ("Title - Site", "Site | Title").
_TITLE_PARTS = re.compile(r"\s+[-|–—│·:»]{1,2}\s+")
# Characters a title is read without: soft hyphens, zero-width spaces and joiners, byte-order marks.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# <meta> properties naming an article's publication time, best first, and its modification time.
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "og:published_time")
_MODIFIED_META = ("article:modified_time", "og:article:modified_time", "og:updated_time")
# A JSON-LD "@type" of an article (NewsArticle, BlogPosting, ReportageNewsArticle, Report, ...).
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|Report)$")
_WORD = re.compile(r"\w+")
_OPENING_QUOTES = "\"'„“«»‘‚"
# A longer title (a page's heading, a plain-text article's first line, a JSONL title) is not
# taken as is: shortened at a word (documents.shorten) or refused as a heading.
MAX_TITLE_CHARS = 300
# The share of words (Dice) a heading and the metadata's title have in common to be the same title.
MIN_WORDS_SHARED = 0.6


@dataclass
class Hints:
    """What the page itself says of its article, before trafilatura reads it: its <title>, its
    <h1> headings (each as the texts of its elements), the JSON-LD article's headline and
    publication dates (datePublished, then dateCreated) and the article:published_time <meta>,
    and the times it was modified (JSON-LD dateModified, article:modified_time)."""

    head_title: str = ""
    h1: list[list[str]] = field(default_factory=list)
    headline: str = ""
    published: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)


def hints(tree: Any) -> Hints:
    """The title and date hints of a parsed page."""
    found = Hints(head_title=clean_text(tree.findtext(".//head/title") or ""))
    found.h1 = [parts for parts in (_text_parts(h) for h in tree.iter("h1")) if parts]
    article = _jsonld_article(tree)
    found.headline = clean_text(unescape(str(article.get("headline") or "")))
    dates = (article.get("datePublished"), article.get("dateCreated"))
    found.published = [v for v in dates if isinstance(v, str)]
    metas = {(m.get("property") or m.get("name") or "").lower(): m.get("content") for m in tree.iter("meta")}
    found.published += [metas[k] for k in _PUBLISHED_META if isinstance(metas.get(k), str)]
    found.modified = [v for v in (article.get("dateModified"),) if isinstance(v, str)]
    found.modified += [metas[k] for k in _MODIFIED_META if isinstance(metas.get(k), str)]
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


def choose_title(title: str, found: Hints, site: str, host: str) -> str:
    """The article's title as the page shows it: the first <h1> that agrees with the metadata's
    title (the JSON-LD headline, else trafilatura's) without a part naming the site (a logo link in
    it), else the metadata's title without the site's name. An <h1> that holds the metadata's title
    and more has a kicker or section run into it ("Politics | Title", "Investitionen in
    IT-Sicherheit Cyber-Angriffe: ..."): the metadata's title is taken (the JSON-LD headline where
    the kicker comes first, as trafilatura's title may be one with the kicker)."""
    meta = found.headline or title or found.head_title
    names = _names(site, host)
    for parts in found.h1:
        h1 = _heading(parts, names)
        if len(h1) <= MAX_TITLE_CHARS and _squash(h1) not in names and agrees(h1, meta):
            if meta.casefold() in h1.casefold() and len(h1) > len(meta):
                if _kicker_first(h1, meta, _clean_title(title, site, host)):
                    return _clean_title(meta, site, host)
                break
            return h1
    return _title(title or found.headline, found.head_title, site, host)


def _kicker_first(h1: str, meta: str, title: str) -> bool:
    """Whether an <h1> that holds the metadata's title has something before it (a kicker or
    section: "Politics | Title") that the page's other title does not have too."""
    shown = h1.casefold()
    return not shown.startswith(meta.casefold()) and title.casefold() != shown


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
