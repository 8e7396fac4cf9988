"""Plain-text rendering of answers and source lists for the terminal."""

from __future__ import annotations

import textwrap

import click

from retrieval.answering.types import Answer, Citation, split_short_answer
from retrieval.index import ArticleSummary

TITLE_CHARS = 120


def citation_header(citation: Citation) -> str:
    """'[n] Title — date — source' with the parts that are known (long titles shortened)."""
    title = citation.title if len(citation.title) <= TITLE_CHARS else citation.title[: TITLE_CHARS - 1] + "…"
    parts = [title] + [p for p in (citation.date, citation.source) if p]
    return f"[{citation.n}] " + " — ".join(parts)


def format_answer(answer: Answer, width: int = 100, bold: bool = False) -> str:
    """The answer text (its short answer first, in bold when `bold`: ANSI for a terminal), then
    its sources, each as '[n] title — date — source' (the quotes are in the text already)."""
    short, rest = split_short_answer(answer.text)
    body = textwrap.fill((short or "") + rest, width, break_on_hyphens=False)
    lines = [_bold_prefix(body, short) if short and bold else body]
    if answer.citations:
        lines += ["", "Sources:" if answer.language != "de" else "Quellen:"]
        lines += [textwrap.fill(citation_header(c), width, subsequent_indent="    ")
                  for c in answer.citations]
    return "\n".join(lines)


def _bold_prefix(wrapped: str, short: str) -> str:
    """The wrapped text with its first characters, those of `short`, styled bold line by line
    (wrapping only changed whitespace, so the short answer's other characters are counted)."""
    remaining = sum(1 for ch in short if not ch.isspace())
    lines = []
    for line in wrapped.split("\n"):
        end = 0
        while remaining and end < len(line):
            remaining -= not line[end].isspace()
            end += 1
        lines.append(click.style(line[:end], bold=True) + line[end:] if end else line)
    return "\n".join(lines)


def format_sources(articles: list[ArticleSummary]) -> str:
    """A table of indexed articles: id, date, chunks, title."""
    if not articles:
        return "No articles indexed."
    id_width = min(max(len(a.id) for a in articles), 40)
    rows = [f"{'id':<{id_width}}  {'date':<10}  {'chunks':>6}  title"]
    for a in articles:
        title = a.title if len(a.title) <= 70 else a.title[:69] + "…"
        rows.append(f"{a.id:<{id_width}}  {a.date or '-':<10}  {a.chunks:>6}  {title}")
    rows.append(f"{len(articles)} articles, {sum(a.chunks for a in articles)} chunks")
    return "\n".join(rows)
