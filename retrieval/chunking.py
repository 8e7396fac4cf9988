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
# A candidate end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_CANDIDATE = re.compile(r"[.!?…]+[\"'”“»«’)\]]*(?=\s)")
_LAST_WORD = re.compile(r"(\w+)\W*$")
_FIRST_WORD = re.compile(r"\W*(\w+)")


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


def split_sentences(text: str) -> list[Span]:
    """Sentences of `text` as stripped spans; line breaks always end a sentence."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for match in _CANDIDATE.finditer(line.group()):
            end = line.start() + match.end()
            if _ends_sentence(text, start, end, line.start() + match.start()):
                _add(spans, text, start, end)
                start = end
        _add(spans, text, start, line.end())
    return spans


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    """Append the stripped span if it holds a word."""
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if right > left and re.search(r"\w", piece):
        spans.append(Span(start + left, start + right))


def _ends_sentence(text: str, start: int, end: int, punct: int) -> bool:
    """Whether the punctuation at `punct` really closes the sentence begun at `start`."""
    following = _FIRST_WORD.match(text, end)
    next_word = following.group(1) if following else ""
    if next_word[:1].islower():
        return False
    if text[punct] != ".":
        return True
    before = _LAST_WORD.search(text[start : punct + 1][-40:])
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


def make_chunks(article_id: str, text: str, size: int = 3, overlap: int = 1) -> list[Chunk]:
    """Windows of `size` sentences, consecutive windows sharing `overlap` sentences."""
    sentences = split_sentences(text)
    if not sentences:
        return []
    step = max(1, size - overlap)
    chunks: list[Chunk] = []
    for first in range(0, len(sentences), step):
        group = tuple(sentences[first : first + size])
        chunks.append(Chunk(article_id, len(chunks), group[0].start, group[-1].end, group))
        if first + size >= len(sentences):
            break
    return chunks
