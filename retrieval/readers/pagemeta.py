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
# Scripts written without spaces between words (Chinese, Japanese) and full-width punctuation.
_UNSPACED = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_OPENING_QUOTES = "\"'„“«»‘‚"
_QUOTES = {*_OPENING_QUOTES, "”", "’"}
# A heading's element of punctuation only (" – ", ":") and the most words of a kicker before a title.
_PUNCTUATION = re.compile(r"^[\W_]+$")
MAX_KICKER_WORDS = 5
# The most <time datetime> values of a page read (a long live blog has hundreds).
MAX_TIMES = 50
# The fewest words of a page's one <h1> taken as its title against the metadata's.
MIN_HEADING_WORDS = 3
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
    and the times it was modified (JSON-LD dateModified, article:modified_time), and the first
    MAX_TIMES datetime values of its <time> elements."""

    head_title: str = ""
    h1: list[list[str]] = field(default_factory=list)
    headline: str = ""
    published: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)


def hints(tree: Any) -> Hints:
    """The title and date hints of a parsed page."""
    found = Hints(head_title=clean_text(tree.findtext(".//head/title") or ""))
    headings = [h for h in tree.iter("h1") if not _in_navigation(h)]
    found.h1 = [parts for parts in (_text_parts(h) for h in headings) if parts]
    article = _jsonld_article(tree)
    found.headline = clean_text(unescape(str(article.get("headline") or "")))
    dates = (article.get("datePublished"), article.get("dateCreated"))
    found.published = [v for v in dates if isinstance(v, str)]
    metas = {(m.get("property") or m.get("name") or "").lower(): m.get("content") for m in tree.iter("meta")}
    found.published += [metas[k] for k in _PUBLISHED_META if isinstance(metas.get(k), str)]
    found.modified = [v for v in (article.get("dateModified"),) if isinstance(v, str)]
    found.modified += [metas[k] for k in _MODIFIED_META if isinstance(metas.get(k), str)]
    found.times = [str(t.get("datetime")).strip() for t in tree.iter("time") if t.get("datetime")][:MAX_TIMES]
    return found


def _in_navigation(element: Any) -> bool:
    """Whether an element is part of the page's navigation (inside <nav> or role="navigation": a
    breadcrumb trail ending in the article's name), not of its article."""
    return any(a.tag == "nav" or a.get("role") == "navigation" for a in element.iterancestors())


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
    it) and without a kicker, else the page's only <h1>, else the metadata's title without the
    site's name: the JSON-LD headline where the page has no <h1> of its own (<h1> headings in its
    navigation, a breadcrumb trail, are not read), else trafilatura's. An <h1> that holds the metadata's title
    and more has a kicker or section run into it ("Politics | Title", "Investitionen in
    IT-Sicherheit Cyber-Angriffe: ..."): the metadata's title is taken (the JSON-LD headline where
    the kicker comes first, as trafilatura's title may be one with the kicker)."""
    meta = found.headline or title or found.head_title
    names = _names(site, host)
    for parts in found.h1:
        for h1 in _headings(parts, names):
            if len(h1) <= MAX_TITLE_CHARS and _squash(h1) not in names and agrees(h1, meta):
                if meta.casefold() in h1.casefold() and len(h1) > len(meta):
                    if _kicker_first(h1, meta, _clean_title(title, site, host)):
                        return _clean_title(meta, site, host)
                    return _title(title or found.headline, found.head_title, site, host)
                return h1
    if found.headline and not _shown(found.h1, names):
        return _clean_title(found.headline, site, host)
    return _sole_heading(found.h1, names) or _title(title or found.headline, found.head_title, site, host)


def titles_given(tree: Any, site: str, host: str) -> tuple[list[str], list[str]]:
    """The titles a parsed page's metadata states for its article (JSON-LD headline, Open Graph and
    Twitter titles) and those it shows (its <h1> headings, whole and without a kicker, but not one
    that is the site's name), each without the site's name. For measuring: which of them a
    reference title is."""
    found, names = hints(tree), _names(site, host)
    metas = {(m.get("property") or m.get("name") or "").lower(): m.get("content") for m in tree.iter("meta")}
    stated = [found.headline, *(str(metas.get(key) or "") for key in ("og:title", "twitter:title"))]
    return _cleaned(stated, site, host), _cleaned(_shown(found.h1, names), site, host)


def _shown(h1s: list[list[str]], names: set[str]) -> list[str]:
    """The texts of a page's <h1> headings (whole and without a kicker), but not one that is the
    site's name."""
    return [h for parts in h1s for h in _headings(parts, names) if _squash(h) not in names]


def _cleaned(titles: list[str], site: str, host: str) -> list[str]:
    """Titles without the site's name, each once, empty ones left out."""
    return list(dict.fromkeys(_clean_title(clean_text(t), site, host) for t in titles if t.strip()))


def _sole_heading(h1s: list[list[str]], names: set[str]) -> str:
    """The page's one <h1> where it disagrees with the metadata's title (which is then mostly one
    written for search engines or for sharing: the <h1> is the title the reader sees), '' when the
    page has several, or one of fewer than MIN_HEADING_WORDS words or naming the site."""
    shown = [_headings(parts, names)[-1] for parts in h1s]
    shown = [text for text in shown if text and _squash(text) not in names]
    if len(shown) != 1 or len(shown[0]) > MAX_TITLE_CHARS or len(shown[0].split()) < MIN_HEADING_WORDS:
        return ""
    squashed = _squash(shown[0])
    return "" if any(len(n) >= 4 and squashed.startswith(n) for n in names) else shown[0]


def _kicker_first(h1: str, meta: str, title: str) -> bool:
    """Whether an <h1> that holds the metadata's title has something before it (a kicker or
    section: "Politics | Title") that the page's other title does not have too."""
    shown = h1.casefold()
    return not shown.startswith(meta.casefold()) and title.casefold() != shown


def _headings(parts: list[str], names: set[str]) -> list[str]:
    """A heading's text from the texts of its elements, without a first or last one that names the
    site (a logo link): without its kicker if it has one, then whole."""
    if len(parts) > 1 and _is_site(parts[-1], names):
        parts = parts[:-1]
    if len(parts) > 1 and _is_site(parts[0], names):
        parts = parts[1:]
    rest = _after_kicker(parts)
    return [_joined(rest), _joined(parts)] if rest else [_joined(parts)]


def _after_kicker(parts: list[str]) -> list[str]:
    """The elements of a heading after its kicker ("Nach Corona-Lockerungen | Autohäuser rechnen
    mit ...", "Klimaschutz | : | Bohren, bis es heiß wird"), [] when it has none: two texts, the
    first of at most MAX_KICKER_WORDS words not ending in a colon (a title "Tanz in der Lokremise:
    Mit allen Wassern gewaschen" keeps it), the second starting as a sentence does."""
    texts = [part.strip() for part in parts if part.strip()]
    words = [text for text in texts if not _PUNCTUATION.match(text)]
    if len(words) != 2 or texts[0] != words[0]:
        return []
    kicker, rest = words
    if kicker.endswith(":") or len(kicker.split()) > MAX_KICKER_WORDS:
        return []
    return [rest] if rest[0].isupper() or rest[0].isdigit() or rest[0] in _OPENING_QUOTES else []


def _joined(parts: list[str]) -> str:
    """The texts of a heading's elements as one; where two meet without a space between words, one
    is put (not between Chinese or Japanese characters, written without spaces)."""
    text = ""
    for part in parts:
        apart = (part[0].isalnum() or part[0] in _OPENING_QUOTES) and not _UNSPACED.match(part)
        if text and not text[-1].isspace() and not _UNSPACED.match(text[-1]) and apart:
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
    of "Der Standard - Wien baut die U5"), the rest of the <title>; where the metadata's title was
    cut at a quotation mark (an unescaped one in its JSON: 'Biden de "incapacitado"'), the <title>."""
    seps = list(_TITLE_PARTS.finditer(head_title))
    if seps and title == head_title[: seps[0].start()] and _squash(title) in _names(site, host):
        return _clean_title(head_title[seps[0].end() :], site, host)
    if title and head_title.startswith(title) and head_title[len(title) :][:2].strip()[:1] in _QUOTES:
        return _clean_title(head_title, site, host)
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
