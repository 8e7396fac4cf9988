"""What a title or date the web-page reader gives is, where it is not the one a set expects.

Sets of saved pages disagree on conventions (which of a page's two headlines is "the" title,
whether a kicker belongs to it, whether a page's date is the day it was published or last
modified, in local time or UTC), and some expected values contradict the page. Each miss gets a
kind, decided from the page itself; "wrong" is what remains.

Titles (both folded by the caller): a kicker before it on one side only; a site or section name
after it in the reference only (the reader's with one is wrong); another title the page gives its
article (the reader's is one its metadata states, the expected one another it states or its
<h1>); a reference found nowhere in the saved page (neither in its HTML, entities decoded, nor
in its text, whitespace aside: written from another version of the page) where the reader's is a
title the page states or shows; else wrong.

Dates: the reference took the page's modified date where the reader gives its published one; the
reference has day and month swapped against the date the page's metadata writes, or the page
writes day first with dots ("06.01.2026", which no convention reads month first); both are the day
of the same published time, one in the page's own offset and the other in UTC; else wrong (among
them a reference date the page does not state at all, kept wrong: it cannot be checked here).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape

from retrieval.readers.dates import DateError, iso_date
from retrieval.readers.html import Page, decode_html, domain
from retrieval.readers.pagemeta import MAX_KICKER_WORDS, hints, titles_given

# The end of a kicker before a title ("Golem:", "Golem -", "Golem |"; not "MSV-" of a hyphenated
# word), and a separator before a site or section name after one (" - Golem.de", " | Politik",
# "--人民网").
_KICKER_END = re.compile(r"(?::|\s[-|/])$")
_SEPARATOR = re.compile(r"\s+[-|/]\s|--")


@dataclass
class Said:
    """What a saved page says of its article: titles its metadata states and its <h1> shows
    (folded with `fold`), its published and modified times as written, and its HTML."""

    stated: list[str]
    shown: list[str]
    published: list[str]
    modified: list[str]
    html: str = ""
    text: str = ""


def page_said(data: bytes, page: Page, fold: Callable[[str], str]) -> Said:
    """What a saved page says of its article's title and dates."""
    import trafilatura

    html = decode_html(data)[0]
    tree = trafilatura.load_html(html)
    stated, shown = titles_given(tree, page.source, domain(page.meta.get("url", "")))
    found = hints(tree)
    said = Said([fold(t) for t in stated], [fold(t) for t in shown], found.published, found.modified, html)
    said.text = _unspaced(fold(unescape(html).replace("\\/", "/")) + " " + fold(tree.text_content()))
    return said


def _unspaced(text: str) -> str:
    """Text without whitespace: a title split over elements ("NSF 2019<br>「...」") is still found."""
    return "".join(text.split())


def title_miss(got: str, want: str, said: Said) -> str:
    """What a title not equal to the expected one is (both folded)."""
    longer, shorter = (got, want) if len(got) > len(want) else (want, got)
    if shorter and longer.endswith(shorter):
        head = longer[: -len(shorter)].rstrip()
        if _KICKER_END.search(head) and len(head.split()) <= MAX_KICKER_WORDS + 1:
            return "kicker on one side"
    if got and want.startswith(got) and _SEPARATOR.match(want[len(got) :]):
        return "site or section name in the reference"
    if got in said.stated and (want in said.stated or want in said.shown):
        return "another title the page gives"
    if got in said.stated + said.shown and _unspaced(want) not in said.text:
        return "reference not in the saved page"
    return "wrong"


def date_miss(got: str, want: str, said: Said, dayfirst: bool) -> str:
    """What a date not equal to the expected one is (both ISO days; `got` may be '')."""
    if not got:
        return "wrong"
    published = {day for raw in said.published for day in _days(raw, dayfirst)}
    modified = {day for raw in said.modified for day in _days(raw, dayfirst)}
    if got in published and want in modified and want not in published:
        return "reference took the modified date"
    year, month, day = got.split("-")
    if want == f"{year}-{day}-{month}" and (got in published or f"{day}.{month}.{year}" in said.html):
        return "reference has day and month swapped"
    if any({got, want} <= set(_days(raw, dayfirst)) for raw in said.published):
        return "same time, local or UTC day"
    return "wrong"


def _days(raw: str, dayfirst: bool) -> list[str]:
    """The day a published or modified value is written with, then its UTC day when it has an
    offset that moves it to another day."""
    try:
        local = iso_date(raw, dayfirst=dayfirst)
    except DateError:
        return []
    from dateutil import parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown zone name is read as none
        try:
            moment = parser.parse(raw, dayfirst=dayfirst)
        except (ValueError, OverflowError):
            return [local]
    if moment.tzinfo is None:
        return [local]
    return list(dict.fromkeys([local, moment.astimezone(dt.UTC).date().isoformat()]))
