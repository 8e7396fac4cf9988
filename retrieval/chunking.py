"""Sentence-aware chunking that keeps character offsets into the article."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Month names and their abbreviations: "am 3. Okt." and "18. September" do not end a sentence.
_MONTH_ABBREVIATIONS = frozenset("jan feb febr mär apr jun jul aug sep sept okt nov dez".split())
_MONTHS = _MONTH_ABBREVIATIONS | frozenset(
    "januar jänner februar märz april mai juni juli august september oktober november dezember".split()
)
# Words that end with a period without ending a sentence (compared lower-cased, no period).
_ABBREVIATIONS = _MONTH_ABBREVIATIONS | frozenset(
    """
    z b d h u a o ä s v g bzw usw etc vgl ca dr prof nr st sog inkl evtl ggf insb
    mio mrd tsd jh jhd abs art bd bsp dipl ing mag hr fr frl jr sr min max mind
    str tel zb dh ua ebd hrsg f ff gem allg ehem eigtl gegr verh geb gest ggü
    mr mrs ms vs no e.g i.e approx dept est fig gen gov lt col sgt capt cmdr
    mt ft inc ltd co corp univ
    """.split()
)
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace. It
# starts a run of punctuation and never backtracks into it, so a long run ("!!!…") is linear.
_CANDIDATE = re.compile(r"(?<![.!?…])[.!?…]++[\"'”“»«’)\]]*+(?=\s)")
_LAST_WORD = re.compile(r"(\w+)\W*$")
_WORD = re.compile(r"\w")
_FIRST_WORD = re.compile(r"\W*(\w+)")
# How far past a candidate end the next word is looked for: a bound, so that a long run without
# words after many candidate ends (". - . - . -") costs linear time, not quadratic.
_NEXT_WORD_CHARS = 100
# A line ending like this closes its sentence or introduces the next line (a quote, a list).
_LINE_END = re.compile(r"[.!?…:;][\"'”“»«’)\]]*\s*$")
# A longer "sentence" (a text without sentence ends, a table, a list) is cut at whitespace.
MAX_SENTENCE_CHARS = 600
# A first line up to this long is a headline (the title of a plain-text article): it ends there.
_HEADLINE_CHARS = 200


@dataclass(frozen=True)
class Span:
    """A piece of an article by character offsets: text == article[start:end]."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences of one article."""

    article_id: str
    ord: int
    start: int
    end: int
    sentences: tuple[Span, ...]

    def text(self, article_text: str) -> str:
        """The chunk's text, cut from its article."""
        return article_text[self.start : self.end]


def split_sentences(text: str, title: str = "") -> list[Span]:
    """Sentences of `text` as stripped spans, none longer than MAX_SENTENCE_CHARS.

    No sentence crosses a paragraph break: a blank line, the end of the first line when it is
    short or reads as `title` (the headline of a plain-text article), or any line break that
    does not read as a wrapped line (see `_wraps`).
    """
    spans: list[Span] = []
    for block_start, block_end in _blocks(text, title):
        start = block_start
        for match in _CANDIDATE.finditer(text, block_start, block_end):
            end = match.end()
            if _ends_sentence(text, start, end, match.start()):
                _add(spans, text, start, end)
                start = end
        _add(spans, text, start, block_end)
    return spans


def _blocks(text: str, title: str = "") -> list[tuple[int, int]]:
    """(start, end) of the stretches no sentence may cross: runs of lines joined by wraps."""
    lines = [m.span() for m in re.finditer(r"[^\n]+", text) if not m.group().isspace()]
    blocks: list[tuple[int, int]] = []
    block_start = 0
    for n, (start, _) in enumerate(lines):
        headline = n == 1 and _is_headline(text[lines[0][0] : lines[0][1]], title)
        if n == 0 or not _wraps(text, lines[n - 1], start, headline=headline):
            if n:
                blocks.append((block_start, lines[n - 1][1]))
            block_start = start
    if lines:
        blocks.append((block_start, lines[-1][1]))
    return blocks


def _is_headline(line: str, title: str) -> bool:
    """Whether a first line is a headline: short, or the article's title (as in .txt/.md files)."""
    line = line.strip()
    return len(line) <= _HEADLINE_CHARS or (bool(title) and line.lstrip("# ").strip() == title.strip())


def _wraps(text: str, previous: tuple[int, int], start: int, *, headline: bool) -> bool:
    """Whether the line at `start` continues the sentence of the line before (a wrapped line):
    no blank line between, the line before is not a headline and has no closing punctuation,
    and this one goes on in lower case or with a digit ("O\n2 verbrannt")."""
    line_start, line_end = previous
    if headline or text.count("\n", line_end, start) != 1 or _LINE_END.search(text, line_start, line_end):
        return False
    opening = text[start:start + 40].lstrip()[:1]
    return opening.islower() or opening.isdigit()


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    """Append the stripped span if it holds a word; a span over MAX_SENTENCE_CHARS is cut into
    the fewest pieces of about equal length, at whitespace (hard at the limit if there is none)."""
    while True:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start <= MAX_SENTENCE_CHARS:
            break
        cut = _cut(text, start, end)
        _add(spans, text, start, cut)
        start = cut
    if end > start and _WORD.search(text, start, end):
        spans.append(Span(start, end))


def _cut(text: str, start: int, end: int) -> int:
    """Where to end the first piece of an over-long span: the whitespace nearest to an even
    share of the span, within MAX_SENTENCE_CHARS of its start."""
    pieces = -(-(end - start) // MAX_SENTENCE_CHARS)
    target = start + -(-(end - start) // pieces)
    limit = start + MAX_SENTENCE_CHARS
    before = next((i for i in range(target, start, -1) if text[i].isspace()), None)
    after = next((i for i in range(target + 1, limit + 1) if text[i].isspace()), None)
    if before is None or (after is not None and after - target < target - before):
        return after if after is not None else limit
    return before


def _ends_sentence(text: str, start: int, end: int, punct: int) -> bool:
    """Whether the punctuation at `punct` really closes the sentence begun at `start`."""
    following = _FIRST_WORD.match(text, end, end + _NEXT_WORD_CHARS)
    next_word = following.group(1) if following else ""
    if next_word[:1].islower():
        return False
    if text[punct] != ".":
        return True
    before = _LAST_WORD.search(text[max(start, punct - 39) : punct + 1])
    if before is None:
        return True
    word = before.group(1)
    if len(before.group(0)) != len(word) + 1:
        return True  # something other than a bare word precedes the period
    lower = word.lower()
    if lower in _ABBREVIATIONS or lower.endswith("str") or (len(word) == 1 and word.isalpha()):
        return False
    if word.isdigit() and len(word) <= 2:
        return next_word.lower() not in _MONTHS and _looks_like_sentence_start(next_word)
    return True


_STARTERS = frozenset(
    """
    der die das den dem des ein eine es er sie wir ich ihr man dies diese dieser dieses
    doch aber und auch so nun dann da damit zudem außerdem in im am an auf bei mit nach
    the a an it he she they we this that these those but and so then in on at
    """.split()
)


def _looks_like_sentence_start(word: str) -> bool:
    """After a small number and a period: does the next word open a new sentence?"""
    return word.lower() in _STARTERS


def make_chunks(
    article_id: str, text: str, size: int = 3, overlap: int = 1, title: str = ""
) -> list[Chunk]:
    """Windows of `size` sentences, consecutive windows sharing `overlap` sentences; `title`
    marks a first line that reads as it as the headline (see `split_sentences`). No chunk spans
    a gap of more than MAX_GAP_CHARS between sentences (a long run of symbols without words), so
    a chunk's text is at most about `size` * 2 * MAX_SENTENCE_CHARS long."""
    step = max(1, size - overlap)
    chunks: list[Chunk] = []
    for run in _runs(split_sentences(text, title)):
        for first in range(0, len(run), step):
            group = tuple(run[first : first + size])
            chunks.append(Chunk(article_id, len(chunks), group[0].start, group[-1].end, group))
            if first + size >= len(run):
                break
    return chunks


# Sentences farther apart than this are chunked apart (see make_chunks).
MAX_GAP_CHARS = MAX_SENTENCE_CHARS


def _runs(sentences: list[Span]) -> list[list[Span]]:
    """The sentences split where one ends more than MAX_GAP_CHARS before the next begins."""
    runs: list[list[Span]] = []
    for span in sentences:
        if runs and span.start - runs[-1][-1].end <= MAX_GAP_CHARS:
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs
