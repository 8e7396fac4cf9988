"""The LLM answerer against scripted models served over real HTTP to the real langchain-openai
client: citations by number (verbatim by construction), invented numbers and quotes dropped,
articles as data, abstention, streaming drafts, condensing follow-ups, and every failure of the
model turning into the offline answer with a note."""

from __future__ import annotations

import logging
import socket
from itertools import pairwise

import pytest

from retrieval.answering.llm import LLMAnswerer
from retrieval.answering.llm_evidence import CLOSE_FENCE, OPEN_FENCE
from retrieval.answering.types import Answer, Turn
from retrieval.pipeline import Newsbot
from tests.fakes.model_server import ModelServer
from tests.fakes.scripted_models import INJECTION, OBEYED

from .conftest import MakeBot

FIREFIGHTERS = "Wie viele Feuerwehrleute waren in Graz im Einsatz?"
U5_OPENING = "Wann soll die U5 in Wien eröffnet werden?"


def assert_verbatim(bot: Newsbot, answer: Answer) -> None:
    """Every citation is its article's text at its offsets, numbered 1..k, each marked in the text."""
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        assert bot.index.article_text(citation.article_id)[citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in answer.text
    assert f"[{len(answer.citations) + 1}]" not in answer.text


def test_grounded_model_answers_with_verbatim_citations(make_bot: MakeBot, model_server: ModelServer) -> None:
    bot = make_bot("openai:grounded")
    answer = bot.answer(FIREFIGHTERS)
    assert not answer.abstained and answer.note is None
    assert answer.answerer == "llm:openai:grounded" and answer.language == "de"
    assert [c.article_id for c in answer.citations] == ["graz-1"]
    assert answer.citations[0].quote == "Mehr als 300 Feuerwehrleute waren im Einsatz."
    assert_verbatim(bot, answer)
    assert answer.retrieved[0] == "graz-1"
    if answer.short_answer is not None:
        assert answer.short_answer in answer.citations[0].quote
        assert answer.text.startswith(f"**{answer.short_answer}** — ")
    # The model got numbered sentences with the article's title and date, fenced as data.
    request = model_server.requests[-1]
    assert request.path.endswith("/v1/chat/completions") and not request.stream
    prompt = request.last_user
    assert prompt.startswith(OPEN_FENCE) and CLOSE_FENCE in prompt
    assert "Article: Hochwasser in Graz (2015-06-02)" in prompt
    assert "] Mehr als 300 Feuerwehrleute waren im Einsatz." in prompt
    assert "German" in request.system and "NO_ANSWER" in request.system


@pytest.mark.parametrize("streamed", [False, True])
def test_invented_numbers_and_quotes_are_never_shown(make_bot: MakeBot, streamed: bool) -> None:
    bot = make_bot("openai:inventor")
    drafts: list[str] = []
    answer = bot.answer(FIREFIGHTERS, on_draft=drafts.append if streamed else None)
    assert bool(drafts) == streamed
    assert not any("5000" in draft or "999" in draft for draft in drafts)
    assert not answer.abstained
    # Only the true claim survives, its invented second number taken out.
    assert len(answer.citations) == 1
    assert "5000 Helfer" not in answer.text and "999" not in answer.text
    assert answer.citations[0].quote == "Mehr als 300 Feuerwehrleute waren im Einsatz."
    # an answer not streamed says the date of its older article (2 Jun; the newest is of 18 Sep)
    said = "[1]." if streamed else "[1] (vom 2 Jun 2015)."
    assert answer.text.endswith(f"Mehr als 300 Feuerwehrleute waren im Einsatz {said}")
    assert drafts == ([] if not streamed else [answer.text.split(" — ")[-1]])
    assert_verbatim(bot, answer)


def test_a_reply_without_valid_citations_is_the_abstention_naming_the_closest_article(
    make_bot: MakeBot,
) -> None:
    answer = make_bot("openai:uncited").answer(FIREFIGHTERS)
    assert answer.abstained and answer.citations == ()
    assert "Feuerwehrleute" not in answer.text and "Hochwasser in Graz" in answer.text
    assert answer.text.startswith("Die Artikel sagen dazu nichts")


def test_the_model_saying_no_answer_is_the_abstention(make_bot: MakeBot) -> None:
    answer = make_bot("openai:grounded").answer("Who won the football world cup?")
    assert answer.abstained and answer.citations == () and answer.language == "en"
    assert "NO_ANSWER" not in answer.text and answer.text.startswith("The articles don't say")


def test_an_instruction_in_an_article_changes_nothing_newsbot_shows(
    make_bot: MakeBot, model_server: ModelServer
) -> None:
    grounded = make_bot("openai:grounded").answer(U5_OPENING)
    obeyed = make_bot("openai:obedient").answer(U5_OPENING)
    prompt = model_server.requests[-1].last_user
    assert "Ignoriere alle vorherigen Anweisungen" in prompt  # the injected article was evidence
    assert not obeyed.abstained and obeyed.text == grounded.text and obeyed.citations == grounded.citations
    assert OBEYED not in obeyed.text + "".join(c.quote for c in obeyed.citations)
    # The article cannot close the fence: its text inside is defused, the one closing line is ours.
    evidence = prompt.split(OPEN_FENCE, 1)[1].split(CLOSE_FENCE)
    assert len(evidence) == 2 and "Ignoriere" in evidence[0] and "ARTICLES>>" in evidence[0]
    assert prompt.count(CLOSE_FENCE) == 1
    assert INJECTION["text"].split(". ")[1] in evidence[0]


def test_streaming_drafts_show_only_checked_claims_and_the_final_answer_is_whole(
    make_bot: MakeBot, model_server: ModelServer
) -> None:
    bot = make_bot("openai:three-claims")
    drafts: list[str] = []
    answer = bot.answer(FIREFIGHTERS, on_draft=drafts.append)
    assert model_server.requests[-1].stream
    assert len(drafts) >= 2 and len(set(drafts)) == len(drafts)
    for earlier, later in pairwise(drafts):
        assert later.startswith(earlier)
    assert len(answer.citations) == 3 and answer.note is None
    assert drafts[-1] in answer.text and answer.text.endswith("[3].")
    assert "[3]" not in drafts[-1]  # the last claim waits for the end of the reply
    assert_verbatim(bot, answer)


def test_history_reaches_the_model_as_messages_without_markers(
    make_bot: MakeBot, model_server: ModelServer
) -> None:
    bot = make_bot("openai:grounded")
    first = bot.answer(U5_OPENING)
    bot.answer("Wie viel kostet die U5?", history=[Turn(U5_OPENING, first)])
    messages = model_server.requests[-1].messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == U5_OPENING
    assert "2026" in messages[2]["content"] and "[1]" not in messages[2]["content"]
    assert "**" not in messages[2]["content"]


def test_condense_rewrites_a_follow_up_with_the_model(make_bot: MakeBot, model_server: ModelServer) -> None:
    bot = make_bot("openai:grounded")
    answerer = bot.answerer
    assert isinstance(answerer, LLMAnswerer)
    first = bot.answer(U5_OPENING)
    asked = len(model_server.requests)
    standalone = answerer.condense("Und was kostet sie?", [Turn(U5_OPENING, first)])
    assert standalone == "Und was kostet sie (U5 Wien)?"
    request = model_server.requests[asked]
    assert "stand-alone" in request.system and "German" in request.system
    assert f"User: {U5_OPENING}" in request.last_user and "Assistant: " in request.last_user
    assert "Last question: Und was kostet sie?" in request.last_user
    assert bot.search(standalone)[0].chunk.article_id in {"wien-1", "wien-2"}
    # Without history there is nothing to condense, and the model is not asked.
    assert answerer.condense("Was kostet die U5?", []) == "Was kostet die U5?"
    assert len(model_server.requests) == asked + 1


def test_condense_takes_the_question_out_of_a_chatty_reply(make_bot: MakeBot) -> None:
    answerer = make_bot("openai:chatty").answerer
    assert isinstance(answerer, LLMAnswerer)
    turn = Turn(U5_OPENING, Answer(U5_OPENING, "„Die Linie U5 soll 2026 eröffnet werden.“ [1]"))
    assert answerer.condense("Und was kostet sie?", [turn]) == "Und was kostet sie (U5 Wien)?"


@pytest.mark.parametrize("model", ["broken", "uncited"])
def test_condense_gives_nothing_when_the_model_fails_or_rambles(make_bot: MakeBot, model: str) -> None:
    answerer = make_bot(f"openai:{model}").answerer
    assert isinstance(answerer, LLMAnswerer)
    turn = Turn(U5_OPENING, Answer(U5_OPENING, "„Die Linie U5 soll 2026 eröffnet werden.“ [1]"))
    assert answerer.condense("Und was kostet sie?", [turn]) == ""  # the caller rewrites offline


def _offline(bot: Newsbot, question: str = FIREFIGHTERS) -> Answer:
    """The answer, checked to be the extractive one with a note."""
    answer = bot.answer(question)
    assert answer.answerer == "extractive" and answer.note is not None and "\n" not in answer.note
    assert answer.citations and answer.citations[0].article_id == "graz-1"
    assert_verbatim(bot, answer)
    return answer


def test_a_model_that_times_out_gives_the_offline_answer_with_a_note(
    make_bot: MakeBot, model_server: ModelServer
) -> None:
    answer = _offline(make_bot("openai:hangs", llm_timeout=0.5))
    assert answer.note == (
        f"Das Sprachmodell unter {model_server.openai_url} hat nicht geantwortet "
        "(no complete reply within 0.5 s); dies ist die Offline-Antwort."
    )


def test_a_stream_still_running_at_the_timeout_is_cut_off(make_bot: MakeBot) -> None:
    bot = make_bot("openai:endless", llm_timeout=1.0)
    drafts: list[str] = []
    answer = bot.answer(FIREFIGHTERS, on_draft=drafts.append)
    assert answer.answerer == "extractive" and "(no complete reply within 1 s)" in (answer.note or "")
    assert drafts  # it had been streaming


def test_http_500_gives_the_offline_answer_and_the_model_rests(
    make_bot: MakeBot, model_server: ModelServer
) -> None:
    bot = make_bot("openai:broken")
    first = _offline(bot)
    assert "(HTTP 500)" in (first.note or "") and model_server.openai_url in (first.note or "")
    asked = len(model_server.requests)
    second = _offline(bot, "How many firefighters were deployed in Graz?")
    assert len(model_server.requests) == asked  # no second wait on a failing server
    assert second.note == (
        f"The language model at {model_server.openai_url} failed (HTTP 500); this is the offline answer."
    )


def test_a_malformed_reply_gives_the_offline_answer(make_bot: MakeBot) -> None:
    answer = _offline(make_bot("openai:garbled"))
    assert "(unusable reply (" in (answer.note or "")


def test_a_refused_connection_names_the_server(make_bot: MakeBot) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    answer = _offline(make_bot("openai:grounded", llm_base_url=url, llm_timeout=5))
    assert f"unter {url} " in (answer.note or "") and "(connection refused)" in (answer.note or "")


def test_the_api_key_is_never_logged_or_shown(
    make_bot: MakeBot, model_server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-test-Geheimnis-4711"
    caplog.set_level(logging.DEBUG)
    bot = make_bot("openai:echoes-key", llm_api_key=key)
    answer = _offline(bot)
    assert model_server.requests[-1].headers["authorization"] == f"Bearer {key}"  # it was sent
    assert "(HTTP 401)" in (answer.note or "")
    shown = [answer.note, answer.text, str(answer.to_json()), repr(bot.settings), str(bot.settings)]
    assert caplog.records and all(key not in text for text in [*shown, caplog.text])
