"""Sentence splitting and chunking keep German abbreviations and dates together."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.chunking import MAX_GAP_CHARS, MAX_SENTENCE_CHARS, make_chunks, split_sentences


def sentences(text: str) -> list[str]:
    """The sentences of a text as strings."""
    return [text[s.start : s.end] for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Das Treffen ist am 18. September in Wien. Dr. Müller kommt z. B. am 3. Oktober.",
         ["Das Treffen ist am 18. September in Wien.", "Dr. Müller kommt z. B. am 3. Oktober."]),
        ("Prof. Dr. Meier u. a. waren da. Er wohnt in der Hauptstr. 5.",
         ["Prof. Dr. Meier u. a. waren da.", "Er wohnt in der Hauptstr. 5."]),
        ("Der 2. Weltkrieg endete 1945. Danach kam der Wiederaufbau.",
         ["Der 2. Weltkrieg endete 1945.", "Danach kam der Wiederaufbau."]),
        ("Das kostet ca. 5 Mio. Euro bzw. mehr. Das sagte sie.",
         ["Das kostet ca. 5 Mio. Euro bzw. mehr.", "Das sagte sie."]),
        ("Er sagte: „Das ist gut.“ Dann ging er. Wirklich? Ja!",
         ["Er sagte: „Das ist gut.“", "Dann ging er.", "Wirklich?", "Ja!"]),
        ("Mr. Smith met J. F. Kennedy in Washington. They talked.",
         ["Mr. Smith met J. F. Kennedy in Washington.", "They talked."]),
        ("Titelzeile ohne Punkt\nErster Satz. Zweiter Satz.",
         ["Titelzeile ohne Punkt", "Erster Satz.", "Zweiter Satz."]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a headline (short first line) ends at its line break, whatever follows
        ("Hochwasser in Graz\n300 Feuerwehrleute waren im Einsatz.",
         ["Hochwasser in Graz", "300 Feuerwehrleute waren im Einsatz."]),
        ("Neues iPhone vorgestellt\niPhone-Verkäufe sinken.",
         ["Neues iPhone vorgestellt", "iPhone-Verkäufe sinken."]),
        # a blank line (also one holding only spaces) is a paragraph break
        ("Kopf.\n\nErster Absatz ohne Punkt\n\nzweiter absatz klein.",
         ["Kopf.", "Erster Absatz ohne Punkt", "zweiter absatz klein."]),
        ("Kopf.\n\nErster Absatz ohne Punkt\n \u00a0\nzweiter absatz klein.",
         ["Kopf.", "Erster Absatz ohne Punkt", "zweiter absatz klein."]),
        # a line without closing punctuation followed by a capital: a subheading or new paragraph
        ("Kopf.\nDer Absatz endet hier.\nZwischentitel ohne Punkt\nDer nächste Absatz beginnt.",
         ["Kopf.", "Der Absatz endet hier.", "Zwischentitel ohne Punkt", "Der nächste Absatz beginnt."]),
        # a closed line stays closed, even before lower case
        ("Kopf.\nEr kam.\nund ging.", ["Kopf.", "Er kam.", "und ging."]),
        # a wrapped line (lower case or digit after an open line) continues the sentence
        ("Kopf.\nEine Mischung aus Acetylen und O\n2 verbrannt wird. Danach mehr.",
         ["Kopf.", "Eine Mischung aus Acetylen und O\n2 verbrannt wird.", "Danach mehr."]),
        # ... but a capital after an open line reads as a new paragraph (the safe side)
        ("Kopf.\nDie Verteidigungs-\nminister sprachen am\nFreitag.",
         ["Kopf.", "Die Verteidigungs-\nminister sprachen am", "Freitag."]),
    ],
)
def test_sentences_never_cross_paragraphs_or_headlines(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_a_long_first_line_wraps_unless_it_is_the_title() -> None:
    first = "Sauerstoff " * 25 + "aus komprimiertem O"
    text = first + "\n2 verbrannt wird. Mehr."
    assert sentences(text) == [first + "\n2 verbrannt wird.", "Mehr."]
    markdown = "# " + text
    titled = [markdown[s.start : s.end] for s in split_sentences(markdown, title=first)]
    assert titled == ["# " + first, "2 verbrannt wird.", "Mehr."]
    chunk = make_chunks("a", text, size=1, overlap=0, title=first)[0]
    assert chunk.text(text) == first


def _check_pieces(text: str) -> list[str]:
    """Sentences of text, checked: exact stripped offsets, in order, none over the cap."""
    spans = split_sentences(text)
    pieces = [text[s.start : s.end] for s in spans]
    assert all(p == p.strip() and p for p in pieces)
    assert all(a.end <= b.start for a, b in pairwise(spans))
    assert max(map(len, pieces)) <= MAX_SENTENCE_CHARS
    return pieces


def test_text_without_sentence_ends_is_cut_at_whitespace() -> None:
    words = [f"Wort{n}" for n in range(2000)]
    text = "Kopf.\n" + " ".join(words) + "\nNoch ein Satz."
    pieces = _check_pieces(text)
    assert pieces[0] == "Kopf." and pieces[-1] == "Noch ein Satz."
    assert " ".join(pieces[1:-1]).split() == words  # cut only between words
    lengths = [len(p) for p in pieces[1:-1]]
    assert max(lengths) - min(lengths) < 30  # even pieces, no tiny remainder


def test_over_long_sentence_is_cut_into_even_pieces_and_spaceless_text_hard() -> None:
    sentence = "Ein sehr langer Satz mit vielen Wörtern, " * 17 + "der endet."  # ~700 chars
    assert len(sentence) > MAX_SENTENCE_CHARS
    pieces = _check_pieces(sentence + " Kurz.")
    assert len(pieces) == 3 and all(len(p) > 250 for p in pieces[:2]) and pieces[2] == "Kurz."
    blob = "x" * (5 * MAX_SENTENCE_CHARS + 7)
    assert [len(p) for p in _check_pieces(blob)] == [MAX_SENTENCE_CHARS] * 5 + [7]


def test_offsets_point_into_the_text() -> None:
    text = "  Erster Satz.   Zweiter Satz am 3. Oktober.\n\n Dritter Satz. "
    for span in split_sentences(text):
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece


def test_chunks_overlap_and_cover_every_sentence() -> None:
    text = " ".join(f"Satz Nummer {n} steht hier." for n in range(1, 8))
    chunks = make_chunks("a", text, size=3, overlap=1)
    assert [len(c.sentences) for c in chunks] == [3, 3, 3]
    assert chunks[0].sentences[-1] == chunks[1].sentences[0]
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(split_sentences(text))
    assert all(c.text(text) == text[c.start : c.end] for c in chunks)
    assert [c.ord for c in chunks] == [0, 1, 2]


def test_short_article_is_one_chunk_and_empty_has_none() -> None:
    assert len(make_chunks("a", "Nur ein Satz.")) == 1
    assert make_chunks("a", "   \n ") == []


@pytest.mark.parametrize(
    "text",
    [
        "!" * 300_000,  # one run of sentence punctuation: was quadratic (minutes)
        "x" + ". -" * 100_000,  # many sentence ends, no word after them: was quadratic
        "A. " * 100_000,
        "." + " " * 300_000 + "x",
        "Wort " * 200_000,  # 1 MB without a sentence end
    ],
)
def test_pathological_texts_are_split_in_linear_time(text: str) -> None:
    # No clock: a quadratic splitter would take minutes to hours on these, and the suite would hang.
    spans = split_sentences(text)
    assert all(0 < s.end - s.start <= MAX_SENTENCE_CHARS for s in spans)


def test_chunks_do_not_span_long_runs_without_words() -> None:
    text = "Erster Satz hier. " + "- " * 5000 + "Zweiter Satz dort. Dritter Satz. Vierter Satz."
    chunks = make_chunks("a", text, size=3, overlap=1)
    assert [len(c.sentences) for c in chunks] == [1, 3]
    assert chunks[0].text(text) == "Erster Satz hier."
    assert all(c.end - c.start <= 3 * MAX_SENTENCE_CHARS + 2 * MAX_GAP_CHARS for c in chunks)


_TEXT = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from([". ", "! ", "\n", "\n\n", " ", "z. B. ", "3. ", "—", "x" * 700]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT, title=st.text(max_size=30))
def test_any_text_gives_bounded_stripped_sentences_and_chunks(text: str, title: str) -> None:
    spans = split_sentences(text, title)
    for span in spans:
        piece = text[span.start : span.end]
        assert 0 < len(piece) <= MAX_SENTENCE_CHARS and piece == piece.strip()
        assert any(ch.isalnum() or ch == "_" for ch in piece)
    assert all(a.end <= b.start for a, b in pairwise(spans))
    for chunk in make_chunks("a", text, title=title):
        assert chunk.end - chunk.start <= 3 * MAX_SENTENCE_CHARS + 2 * MAX_GAP_CHARS
        assert set(chunk.sentences) <= set(spans)
