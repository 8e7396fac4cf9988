"""Plain-text rendering of answers and source lists for the terminal."""

from __future__ import annotations

import textwrap

import click

from retrieval.answering.types import Answer, Citation, bold_segments
from retrieval.index import ArticleSummary
from retrieval.readers.dates import display_date

TITLE_CHARS = 120


def citation_header(citation: Citation) -> str:
    """'[n] Title — 18 Sep 2015 — source' with the parts that are known (long titles shortened)."""
    title = citation.title if len(citation.title) <= TITLE_CHARS else citation.title[: TITLE_CHARS - 1] + "…"
    parts = [title] + [p for p in (display_date(citation.date), citation.source) if p]
    return f"[{citation.n}] " + " — ".join(parts)


def format_answer(answer: Answer, width: int = 100, bold: bool = False) -> str:
    """The answer text (its short answer first, in bold when `bold`: ANSI for a terminal; never
    with its `**` markers), then its sources, each as '[n] title — date — source' (the quotes are
    in the text already), then its note when something degraded."""
    return "\n".join([format_text(answer, width, bold), *answer_footer(answer, width)])


def format_text(answer: Answer, width: int = 100, bold: bool = False) -> str:
    """The answer text alone, wrapped, its short answer in ANSI bold when `bold`."""
    segments = bold_segments(answer.text)
    body = textwrap.fill("".join(piece for piece, _ in segments), width, break_on_hyphens=False)
    return _embolden(body, segments) if bold else body


def answer_footer(answer: Answer, width: int = 100) -> list[str]:
    """The lines under the answer text: a blank line and the sources, a blank line and the note
    (none when there is neither)."""
    lines = []
    if answer.citations:
        lines += ["", "Sources:" if answer.language != "de" else "Quellen:"]
        lines += [textwrap.fill(citation_header(c), width, subsequent_indent="    ")
                  for c in answer.citations]
    if answer.note:
        lines += ["", textwrap.fill(f"({answer.note})", width)]
    return lines


def _embolden(wrapped: str, segments: list[tuple[str, bool]]) -> str:
    """The wrapped text with the bold segments' characters in ANSI bold, line by line. Wrapping
    only changes whitespace, so the visible characters are matched up in order; a space is bold
    when the visible characters on both sides of it on its line are."""
    flags = iter([is_bold for piece, is_bold in segments for ch in piece if not ch.isspace()])
    lines = []
    for line in wrapped.split("\n"):
        visible = [next(flags, False) if not ch.isspace() else None for ch in line]
        marks = [_space_flag(visible, i) if flag is None else flag for i, flag in enumerate(visible)]
        runs, start = [], 0
        for end in range(1, len(line) + 1):
            if end == len(line) or marks[end] != marks[start]:
                piece = line[start:end]
                runs.append(click.style(piece, bold=True) if marks[start] else piece)
                start = end
        lines.append("".join(runs))
    return "\n".join(lines)


def _space_flag(visible: list[bool | None], i: int) -> bool:
    """Whether the whitespace at i lies inside a bold run (bold characters on both sides)."""
    before = next((f for f in reversed(visible[:i]) if f is not None), False)
    after = next((f for f in visible[i + 1:] if f is not None), False)
    return before and after


def format_sources(
    articles: list[ArticleSummary], total: int | None = None, chunks: int | None = None, offset: int = 0
) -> str:
    """A table of indexed articles: id, date (ISO), chunks, source, title; then how many there
    are (and which of them are shown, when `total` says the list is one page of more)."""
    total = len(articles) if total is None else total
    if not articles:
        return "No articles indexed." if not total else f"No articles on this page ({total} in all)."
    id_width = min(max(len(a.id) for a in articles), 40)
    source_width = min(max(6, *(len(a.source) for a in articles)), 24)
    rows = [f"{'id':<{id_width}}  {'date':<10}  {'chunks':>6}  {'source':<{source_width}}  title"]
    for a in articles:
        title = a.title if len(a.title) <= 70 else a.title[:69] + "…"
        source = a.source if len(a.source) <= source_width else a.source[: source_width - 1] + "…"
        date = a.date[:10] or "-"
        rows.append(f"{a.id:<{id_width}}  {date:<10}  {a.chunks:>6}  {source:<{source_width}}  {title}")
    chunks = sum(a.chunks for a in articles) if chunks is None else chunks
    shown = "" if len(articles) == total else f"; shown: {offset + 1}–{offset + len(articles)}"
    rows.append(f"{total} articles, {chunks} chunks{shown}")
    return "\n".join(rows)


def format_article(article) -> str:  # article: retrieval.documents.Article
    """One article for reading: its title, a line of date, source, language and id, its URL and
    author when known, then its text."""
    facts = [display_date(article.date), article.source, article.lang, f"id {article.id}"]
    lines = [article.display_title, " · ".join(f for f in facts if f)]
    lines += [f"{name}: {article.meta[name]}" for name in ("url", "author") if article.meta.get(name)]
    return "\n".join([*lines, "", article.text.strip()])
