"""Plain-text rendering of answers and source lists for the terminal."""

from __future__ import annotations

import textwrap

from retrieval.answering.types import Answer, Citation
from retrieval.index import ArticleSummary

TITLE_CHARS = 120


def citation_header(citation: Citation) -> str:
    """'[n] Title — date — source' with the parts that are known (long titles shortened)."""
    title = citation.title if len(citation.title) <= TITLE_CHARS else citation.title[: TITLE_CHARS - 1] + "…"
    parts = [title] + [p for p in (citation.date, citation.source) if p]
    return f"[{citation.n}] " + " — ".join(parts)


def format_answer(answer: Answer, width: int = 100) -> str:
    """The answer text, then its sources with the quoted sentences."""
    lines = [textwrap.fill(answer.text, width, break_on_hyphens=False)]
    if answer.citations:
        lines += ["", "Sources:" if answer.language != "de" else "Quellen:"]
        for citation in answer.citations:
            lines.append(textwrap.fill(citation_header(citation), width, subsequent_indent="    "))
            lines.append(textwrap.fill(f"„{citation.quote}“", width, initial_indent="    ",
                                       subsequent_indent="    ", break_on_hyphens=False))
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
