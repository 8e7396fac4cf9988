"""Telegram HTML: answers, passages and source lists, escaped and split to fit a message."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlparse

from prompts import render
from retrieval.answering.types import Answer, Citation, bold_segments
from retrieval.index import ArticleSummary
from retrieval.readers.dates import display_date

MAX_MESSAGE = 4096  # telegram.constants.MessageLimit.MAX_TEXT_LENGTH, in UTF-16 code units
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|.", re.DOTALL)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")
_MARKUP = re.compile(r"<[^>]*>|&#?\w+;")
# Cut points, best first: after line breaks, after sentences (with their [n] markers), after words.
_BREAKS = (re.compile(r"\n+"),
           re.compile(r"(?<=[.!?…])[\"'”“»)]*(?:\s*\[\d+\])*\s+"),
           re.compile(r"\s+"))


def esc(text: str) -> str:
    """Text escaped for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def is_url(source: str) -> bool:
    """Whether an article's source is a web address."""
    parsed = urlparse(source.strip())
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in source.strip()


def source_html(source: str) -> str:
    """A source as a link (showing its host) when it is a URL, else as escaped text."""
    if is_url(source):
        url = source.strip()
        host = urlparse(url).netloc.removeprefix("www.")
        return f'<a href="{html.escape(url, quote=True)}">{esc(host)}</a>'
    return esc(source)


def shorten(text: str, width: int) -> str:
    """The text, cut at a word with '…' when longer than width."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    return text[: width - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _byline(title: str, date: str, source: str, width: int = 120) -> str:
    """'<b>Title</b> — date — source' with the parts that are known (long titles shortened)."""
    parts = [f"<b>{esc(shorten(title, width))}</b>"]
    parts += [p for p in (esc(display_date(date)), source_html(source)) if p]
    return " — ".join(parts)


def citation_line(citation: Citation) -> str:
    """One entry of an answer's source list."""
    return f"[{citation.n}] " + _byline(citation.title, citation.date, citation.source)


def answer_html(answer: Answer) -> str:
    """The answer text with its [n] markers (its short answer first, in bold), then its sources,
    each as '[n] title — date — source' (the quotes are in the text already), then its note in
    italics when something degraded."""
    lines = [text_html(answer.text)]
    if answer.citations:
        lines += ["", "<b>Quellen</b>" if answer.language == "de" else "<b>Sources</b>"]
        lines += [citation_line(c) for c in answer.citations]
    if answer.note:
        lines += ["", f"<i>{esc(answer.note)}</i>"]
    return "\n".join(lines)


def text_html(text: str) -> str:
    """An answer text escaped, its `**bold**` spans in bold."""
    return "".join(f"<b>{esc(piece)}</b>" if bold else esc(piece) for piece, bold in bold_segments(text))


def draft_html(draft: str) -> str:
    """What a streaming answer's message shows while the answer is written: the text so far, cut
    to one message ('' while there is nothing to show)."""
    parts = split_html(text_html(draft))
    return parts[0] if parts else ""


def button_label(citation: Citation, width: int = 40) -> str:
    """The text of a citation's button: '[n] Title', shortened."""
    return shorten(f"[{citation.n}] {citation.title}", width)


def passage_html(title: str, date: str, source: str, text: str, start: int, end: int) -> str:
    """A chunk of an article with the quoted part (text[start:end]) in bold, under its byline."""
    body = esc(text[:start]) + f"<b>{esc(text[start:end])}</b>" + esc(text[end:])
    return f"{_byline(title, date, source, 300)}\n<blockquote>{body.strip()}</blockquote>"


def sources_page_html(articles: Sequence[ArticleSummary], total: int, page: int,
                      per_page: int) -> tuple[str, int, int]:
    """One page of the article list (`articles` are that page's, of `total` in all), the page
    shown (clamped) and the number of pages."""
    if not total:
        return render("telegram_no_sources"), 0, 1
    pages = (total + per_page - 1) // per_page
    page = min(max(page, 0), pages - 1)
    first = page * per_page
    lines = [render("telegram_sources_header", articles=total, page=page + 1, pages=pages)]
    for number, article in enumerate(articles[:per_page], start=first + 1):
        lines.append(f"{number}. " + _byline(article.title or article.id, article.date,
                                             article.source, 80))
    return "\n".join(lines), page, pages


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Messages of at most `limit` units, cut at line, sentence or word ends, never in a tag.

    Tags open at a cut are closed at the end of one message and reopened in the next, so each
    message is valid HTML on its own.
    """
    parts: list[str] = []
    opened: list[tuple[str, str]] = []
    rest = text.strip()
    while rest:
        prefix = "".join(tag for _, tag in opened)
        if utf16_len(prefix + rest) <= limit:
            parts.append(prefix + rest)
            break
        cut, after = _best_cut(rest, opened, limit - utf16_len(prefix))
        parts.append(prefix + rest[:cut].rstrip() + _closers(after))
        opened, rest = after, rest[cut:].lstrip()
    return [part for part in parts if _MARKUP.sub("", part).strip()]


def _closers(opened: Sequence[tuple[str, str]]) -> str:
    """Closing tags for the open tags, innermost first."""
    return "".join(f"</{name}>" for name, _ in reversed(opened))


def _cut_points(text: str, opened: list[tuple[str, str]],
                budget: int) -> dict[int, list[tuple[str, str]]]:
    """Positions where text may be cut within the budget, with the tags open there."""
    stack = list(opened)
    points: dict[int, list[tuple[str, str]]] = {}
    units = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        units += utf16_len(token) if token.startswith(("<", "&")) else 1 + (ord(token) > 0xFFFF)
        if units > budget:
            break
        tag = _TAG.match(token)
        if tag and tag.group(1):
            names = [name for name, _ in stack]
            if tag.group(2) in names:
                del stack[len(names) - 1 - names[::-1].index(tag.group(2))]
        elif tag:
            stack.append((tag.group(2), token))
            continue  # never cut right after an opening tag
        if units + utf16_len(_closers(stack)) <= budget:
            points[match.end()] = list(stack)
    return points


def _best_cut(text: str, opened: list[tuple[str, str]],
              budget: int) -> tuple[int, list[tuple[str, str]]]:
    """Where to end this message: the latest good boundary, preferring the second half."""
    points = _cut_points(text, opened, budget)
    if not points:  # not even one character fits: cut after the first token anyway
        anywhere = _cut_points(text, opened, utf16_len(text) + utf16_len(_closers(opened)) + 4096)
        first = min(anywhere, default=len(text))
        return first, anywhere.get(first, [])
    last = max(points)
    ends = [[m.end() for m in rx.finditer(text, 0, last + 1)] for rx in _BREAKS]
    for floor in (last // 2, 0):
        for candidates in ends:
            good = [p for p in candidates if p > floor and p in points]
            if good:
                return good[-1], points[good[-1]]
    return last, points[last]


def visible_text(html_text: str) -> str:
    """The text a message shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", html_text))

