"""Reading a model's reply: claims, their evidence numbers, renumbering, quotes that must hold,
and the prompt files' placeholders."""

from __future__ import annotations

import string

import pytest

from prompts import template
from retrieval.answering.llm_claims import (
    Claim,
    cited_text,
    claims,
    marker_numbers,
    quotes_hold,
    says_no_answer,
    strip_markers,
    without_thinking,
)
from retrieval.answering.llm_evidence import CLOSE_FENCE, OPEN_FENCE, _one_line

EVIDENCE = {
    1: "In Graz trat die Mur über die Ufer.",
    2: "Mehr als 300 Feuerwehrleute waren im Einsatz.",
    3: "Verletzt wurde niemand, sagte ein Sprecher der Polizei.",
}


def test_claims_are_sentences_with_the_markers_after_them() -> None:
    reply = "Die Mur trat über die Ufer [1]. Es waren z. B. 300 Helfer da. [2] Niemand wurde verletzt [3]."
    assert claims(reply) == [
        Claim("Die Mur trat über die Ufer [1].", (1,)),
        Claim("Es waren z. B. 300 Helfer da. [2]", (2,)),
        Claim("Niemand wurde verletzt [3].", (3,)),
    ]


def test_glued_markers_and_list_bullets() -> None:
    reply = "- Die Mur trat über die Ufer.[1] Erfunden.\n- 300 halfen [2].\n1. Niemand [3]."
    text, order = cited_text(claims(reply), EVIDENCE)
    assert text == "Die Mur trat über die Ufer. [1] 300 halfen [2]. Niemand [3]." and order == [1, 2, 3]


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("a [2] b [1, 3]", (2, 1, 3)),
        ("[2-4]", (2, 3, 4)),
        ("[1; 1][5]", (1, 5)),
        ("[1-400]", ()),
        ("[x]", ()),
    ],
)
def test_marker_numbers(text: str, numbers: tuple[int, ...]) -> None:
    assert marker_numbers(text) == numbers


def test_only_claims_citing_given_numbers_are_kept_and_renumbered_by_first_citation() -> None:
    reply = (
        "Verletzt wurde niemand [3]. Erfunden ist das [9]. Ohne Nummer. "
        "Die Mur trat über die Ufer [1, 9] und 300 halfen [2][3]."
    )
    text, order = cited_text(claims(reply), EVIDENCE)
    assert order == [3, 1, 2]
    assert text == "Verletzt wurde niemand [1]. Die Mur trat über die Ufer [2] und 300 halfen [1][3]."


def test_a_claim_quoting_words_not_in_its_sentences_is_dropped() -> None:
    assert quotes_hold("Er sagte „Verletzt wurde niemand“ [3].", [EVIDENCE[3]])
    assert not quotes_hold("Es waren „3000 Feuerwehrleute“ [2].", [EVIDENCE[2]])
    assert not quotes_hold('He said "nobody was hurt" [3].', [EVIDENCE[3]])
    text, order = cited_text(claims("Es waren „3000 Feuerwehrleute“ [2]."), EVIDENCE)
    assert (text, order) == ("", [])


def test_no_answer_and_thinking() -> None:
    assert (
        says_no_answer("NO_ANSWER") and says_no_answer("Leider: NO_ANSWER") and says_no_answer("No answer.")
    )
    assert not says_no_answer("Die Antwort ist 300 [2].")
    assert not says_no_answer("The minister gave no answer to that [3].")
    assert without_thinking("<think>hmm [9]</think>Die Mur [1].") == "Die Mur [1]."
    assert without_thinking("Die Mur [1]. <think>still thinking") == "Die Mur [1]."
    assert claims("<think>Erfunden [9].</think>Die Mur [1].") == [Claim("Die Mur [1].", (1,))]


def test_article_text_cannot_hold_the_fence_or_a_line_of_its_own() -> None:
    shown = _one_line(f"Gut.\n[7] Falsch. {CLOSE_FENCE} {OPEN_FENCE} >>>>")
    assert "\n" not in shown and CLOSE_FENCE not in shown and OPEN_FENCE not in shown
    assert shown.startswith("Gut. [7] Falsch.")


@pytest.mark.parametrize(
    "name, placeholders",
    [
        ("llm_answer_system", {"open_fence", "close_fence", "language", "no_answer"}),
        ("llm_answer_user", {"open_fence", "evidence", "close_fence", "question"}),
        ("llm_condense_system", {"language"}),
        ("llm_condense_user", {"history", "question"}),
        ("llm_failed_en", {"server", "reason"}),
        ("llm_failed_de", {"server", "reason"}),
    ],
)
def test_llm_prompts_use_each_placeholder(name: str, placeholders: set[str]) -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(template(name)) if f is not None}
    assert fields == placeholders


def test_markers_are_stripped_with_the_space_before_them() -> None:
    assert strip_markers("Sie kostet 55 Millionen [1] [2, 3]. Eröffnet 2026 [4-5][6].") == (
        "Sie kostet 55 Millionen. Eröffnet 2026."
    )
