"""Reading a chat model's reply: its claims (sentences) and the evidence numbers each rests on.

Only claims that cite at least one number newsbot gave survive, with the invented numbers taken
out; a claim that quotes words („…“) not in the sentences it cites is dropped as well. What is
left is renumbered 1..k in the order of first citation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.chunking import split_sentences

# The reply that means "the evidence does not answer the question" (the prompts ask for it).
NO_ANSWER = "NO_ANSWER"
_NO_ANSWER = re.compile(r"\bNO_ANSWER\b")
# [3], [1, 4], [2-4], [1; 2]: one group of evidence numbers.
_MARKER = re.compile(r"\[\s*(\d{1,4}(?:\s*[,;–-]\s*\d{1,4})*)\s*\]")
_MARKER_RUN = re.compile(rf"(?:\s*{_MARKER.pattern})+")
_LEADING_MARKERS = re.compile(rf"^{_MARKER_RUN.pattern}")
# "werden.[2]": a marker glued to the end of its sentence.
_MARKER_AFTER_STOP = re.compile(r"([.!?…])(\[\d)")
# A list item's bullet or number at the start of a sentence.
_BULLET = re.compile(r"^(?:[-*•–]|\d{1,2}[.)])\s+")
# A reasoning model's thoughts, which some servers leave in the reply (unclosed while streaming).
_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S)
# Double quotation marks that open and close a quoted phrase in German or English text.
_QUOTED = re.compile(r"[„“\"»«]([^„“”\"»«\n]+?)[“”\"«»]")
# A range wider than this ([1-4000]) is not a citation.
_MAX_RANGE = 20


@dataclass(frozen=True)
class Claim:
    """One sentence of the reply as the model wrote it, and the numbers its markers name."""

    text: str
    numbers: tuple[int, ...]


def without_thinking(reply: str) -> str:
    """The reply without <think>…</think> blocks."""
    return _THINKING.sub("", reply).strip()


def says_no_answer(reply: str) -> bool:
    """Whether the model said the evidence does not answer: NO_ANSWER anywhere, or a reply that
    is nothing but "no answer" (not a claim that mentions one)."""
    bare = without_thinking(reply).strip(" .!*`\"'\n").lower().replace("_", " ")
    return bool(_NO_ANSWER.search(reply)) or bare == "no answer"


def claims(reply: str) -> list[Claim]:
    """The reply's sentences, each with the markers that follow it (a marker that opens a
    sentence belongs to the one before: "… werden. [2] Die …"), without list bullets (the
    answer is shown as one paragraph)."""
    text = _MARKER_AFTER_STOP.sub(r"\1 \2", without_thinking(reply))
    pieces: list[str] = []
    for span in split_sentences(text):
        piece = _BULLET.sub("", text[span.start : span.end])
        lead = _LEADING_MARKERS.match(piece)
        if lead and pieces:
            pieces[-1] += " " + lead.group().strip()
            piece = piece[lead.end() :].strip()
        if piece:
            pieces.append(piece)
    return [Claim(piece, marker_numbers(piece)) for piece in pieces]


def marker_numbers(text: str) -> tuple[int, ...]:
    """The numbers of every marker in the text, in order, each once."""
    found: list[int] = []
    for match in _MARKER.finditer(text):
        found += _numbers(match.group(1))
    return tuple(dict.fromkeys(found))


def _numbers(group: str) -> list[int]:
    """The numbers of one marker's inside: "1, 3" -> [1, 3]; "2-4" -> [2, 3, 4]."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
        if len(bounds) == 1:
            out.append(bounds[0])
        elif len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= _MAX_RANGE:
            out += range(bounds[0], bounds[1] + 1)
    return out


def cited_text(found: Sequence[Claim], evidence: Mapping[int, str]) -> tuple[str, list[int]]:
    """The text of the claims that rest on the evidence (number -> sentence), markers renumbered
    1..k by first citation, and the evidence numbers in that order (the k citations)."""
    order: dict[int, int] = {}
    kept: list[str] = []
    for claim in found:
        valid = [n for n in claim.numbers if n in evidence]
        if not valid or not quotes_hold(claim.text, [evidence[n] for n in valid]):
            continue
        for n in valid:
            order.setdefault(n, len(order) + 1)
        kept.append(_renumbered(claim.text, order))
    return " ".join(kept), list(order)


def quotes_hold(text: str, sentences: Sequence[str]) -> bool:
    """Whether every phrase the text puts in quotation marks is word for word in a sentence."""
    sources = [" ".join(s.split()) for s in sentences]
    for match in _QUOTED.finditer(_MARKER.sub("", text)):
        phrase = " ".join(match.group(1).split()).strip(" .,;:")
        if phrase and not any(phrase in source for source in sources):
            return False
    return True


def _renumbered(text: str, order: Mapping[int, int]) -> str:
    """The claim with each run of markers ("[2][3]", "[1, 4]") rewritten to its valid numbers'
    new markers in order ("[1][3]"), a run with none removed."""

    def rewrite(match: re.Match[str]) -> str:
        new = sorted({order[n] for n in marker_numbers(match.group()) if n in order})
        return " " + "".join(f"[{k}]" for k in new) if new else ""

    return _MARKER_RUN.sub(rewrite, text).strip()


def strip_markers(text: str) -> str:
    """The text without its citation markers ("[1]", "[2, 3]") and the space before them."""
    return _MARKER_RUN.sub("", text)
