"""Sentence splitting and chunking keep German abbreviations and dates together."""

from __future__ import annotations

import pytest

from retrieval.chunking import make_chunks, split_sentences


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
