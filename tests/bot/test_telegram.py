"""The Telegram bot end to end: the real PTB application against a fake Bot API over HTTP."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from bot.telegram import (
    api_urls,
    build_application,
    parse_allowed,
    webhook_options,
)
from bot.telegram import format as fmt
from bot.telegram.handlers import TelegramFrontEnd
from prompts import render
from retrieval.answering.types import Answer, ArticleRef, Citation, abstention, quoted
from retrieval.config import Settings
from retrieval.errors import ConfigError, NewsbotError
from tests.bot.fake_bot_api import BOT_USERNAME, FakeBotApi
from tests.bot.telegram_harness import (
    FILLER,
    FRIEND,
    OWNER,
    QUESTION,
    QUOTE,
    STRANGER,
    TALKS,
    TOKEN,
    CitingAnswerer,
    Clock,
    Running,
    buttons,
    check_html,
    newsbot,
    serve,
    settings,
    settle,
)
from tests.conftest import REPO_ROOT


# ---------- answering ----------
def test_question_gets_cited_answer_with_buttons_and_passage(api: FakeBotApi,
                                                             index_dir: Path) -> None:
    with serve(api, index_dir):
        api.send_text(QUESTION, user_id=OWNER)
        answer = api.wait_sent(1, OWNER)[0]
        calls = [c.method for c in api.requests() if c.method in ("sendChatAction", "sendMessage")]
        assert calls == ["sendChatAction", "sendMessage"]
        assert api.requests("sendChatAction")[0].params["action"] == "typing"
        assert answer["parse_mode"] == "HTML"
        check_html(answer["text"])
        assert f"„{QUOTE}" in answer["text"] and "“ [1]" in answer["text"]
        assert ("[1] <b>Q&amp;A: &lt;Budget&gt; &amp; defence talks</b> — 18 Sep 2015 — "
                '<a href="https://www.example.org/talks?a=1&amp;b=2">example.org</a>'
                ) in answer["text"]
        assert answer["link_preview_options"] == {"is_disabled": True}
        data, *others = buttons(answer)
        assert 1 + len(others) == answer["text"].count("“ [")  # one button per quoted citation
        assert data.startswith("cite:") and len(data.encode()) <= 64

        shown = api.requests("sendMessage")[-1].result
        api.press(data, on=shown, user_id=OWNER)
        passage = api.wait_sent(2, OWNER)[1]
        assert api.requests("answerCallbackQuery")
        assert passage["reply_parameters"]["message_id"] == shown["message_id"]
        check_html(passage["text"])
        assert passage["text"].startswith("<b>Q&amp;A: &lt;Budget&gt; &amp; defence talks</b>"
                                          " — 18 Sep 2015")
        assert f"<blockquote><b>{QUOTE}" in passage["text"]

        api.press("cite:999999:0:5:deadbeef", on=shown, user_id=OWNER)
        gone = api.wait_for(lambda: api.requests("answerCallbackQuery")[1:])[0]
        assert gone.params["show_alert"] is True and "no longer" in gone.params["text"]


class AbstainingAnswerer:
    """Finds nothing in the articles, whatever the question."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        return abstention(question)


def test_abstentions_read_naturally_in_the_question_language(api: FakeBotApi,
                                                             index_dir: Path) -> None:
    with serve(api, index_dir, answerer=AbstainingAnswerer()):
        api.send_text("Wie hoch ist der Eiffelturm in Paris genau?", user_id=OWNER)
        api.send_text("How tall is the Eiffel tower in Paris?", user_id=OWNER)
        german, english = api.wait_sent(2, OWNER)
    assert german["text"] == render("abstain_de") and english["text"] == render("abstain_en")
    assert german["text"].startswith("Die Artikel sagen dazu nichts")
    assert english["text"].startswith("The articles don't say")
    assert not buttons(german) and not buttons(english)


class ShortAnswerer:
    """Answers with a short answer (holding characters HTML must escape) before the quote."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        chunk = next(h.chunk for h in hits if h.chunk.article_id == "talks")
        citation = Citation(1, "talks", TALKS["title"], TALKS["date"], TALKS["source"], chunk.id,
                            QUOTE, 0, len(QUOTE))
        text = f"**Russia & <its> army** — {quoted(QUOTE)} [1]"
        return Answer(question, text, (citation,), language="en", short_answer="Russia & <its> army")


def test_short_answer_is_bold_first_and_the_quote_shown_once(api: FakeBotApi,
                                                             index_dir: Path) -> None:
    with serve(api, index_dir, answerer=ShortAnswerer()):
        api.send_text(QUESTION, user_id=OWNER)
        answer = api.wait_sent(1, OWNER)[0]
        visible = check_html(answer["text"])
        assert answer["text"].startswith(
            f"<b>Russia &amp; &lt;its&gt; army</b> — „{QUOTE}“ [1] (from 18 Sep 2015)\n"
        )
        assert "**" not in answer["text"] and visible.count(QUOTE) == 1
        assert answer["text"].endswith(
            "<b>Sources</b>\n[1] <b>Q&amp;A: &lt;Budget&gt; &amp; defence talks</b> — 18 Sep 2015 — "
            '<a href="https://www.example.org/talks?a=1&amp;b=2">example.org</a>')
        [data] = buttons(answer)
        api.press(data, on=api.requests("sendMessage")[-1].result, user_id=OWNER)
        passage = api.wait_sent(2, OWNER)[1]
        assert f"<blockquote><b>{QUOTE}</b>" in passage["text"]  # the button still shows it


class ClosestAbstainer:
    """Abstains, naming the article about the talks as the closest it looked at."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        return abstention(question, closest=ArticleRef(TALKS["title"], TALKS["date"]))


def test_abstention_names_the_closest_article_in_either_language(api: FakeBotApi,
                                                                 index_dir: Path) -> None:
    with serve(api, index_dir, answerer=ClosestAbstainer()):
        api.send_text("Wie hoch ist der Eiffelturm in Paris genau?", user_id=OWNER)
        api.send_text("How tall is the Eiffel tower in Paris?", user_id=OWNER)
        german, english = api.wait_sent(2, OWNER)
    title = "‹Q&amp;A: &lt;Budget&gt; &amp; defence talks› (18 Sep 2015)"
    assert german["text"] == ("Die Artikel sagen dazu nichts. Auch der am ehesten passende Artikel, "
                              f"{title}, beantwortet die Frage nicht.")
    assert english["text"] == (f"The articles don't say. Even the closest one, {title}, "
                               "doesn't answer the question.")
    assert "‹Q&A: <Budget> & defence talks›" in check_html(english["text"])
    assert not buttons(german) and not buttons(english)


def test_help_and_paged_sources(api: FakeBotApi, index_dir: Path) -> None:
    with serve(api, index_dir):
        api.send_text("/start", user_id=OWNER)
        help_text = api.wait_sent(1, OWNER)[0]["text"]
        assert "12 news articles (2015-09-18 to 2015-10-11)" in help_text
        assert f"@{BOT_USERNAME}" in help_text and "/ask" in help_text
        assert api.requests("setMyCommands")

        api.send_text("/sources", user_id=OWNER)
        page = api.wait_sent(2, OWNER)[1]
        assert "(page 1 of 2)" in page["text"] and "Q&amp;A: &lt;Budget&gt;" in page["text"]
        assert buttons(page) == ["src:1"]
        shown = api.requests("sendMessage")[-1].result
        api.press("src:1", on=shown, user_id=OWNER)
        edit = api.wait_for(lambda: api.requests("editMessageText"))[0].params
        assert edit["message_id"] == shown["message_id"] and edit["chat_id"] == OWNER
        assert "(page 2 of 2)" in edit["text"] and "11. <b>Local news 10</b>" in edit["text"]
        assert buttons(edit) == ["src:0"]


def test_overview_and_source_pages_read_one_page_of_the_index(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    undated = {**FILLER[0], "id": "undated", "title": "Undated", "date": "",
               "text": "A choir sang in the old church. Nobody wrote down the day."}
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in [undated, TALKS, *FILLER]) + "\n",
                      encoding="utf-8")
    config = Settings(home=tmp_path, embedder="demo-hash")
    bot = newsbot(tmp_path / "index", config)
    bot.index_paths([corpus], progress=False)
    monkeypatch.setattr(bot, "sources", lambda: pytest.fail("read every article"))
    front = TelegramFrontEnd(bot, frozenset(), public=False, settings=config)
    try:
        assert front._overview() == (13, "2015-09-18 to 2015-10-11")
        text, markup = front._sources_page(1)
        assert "(page 2 of 2)" in text and "11. <b>Local news 10</b>" in text
        assert "13. <b>Undated</b>" in text and markup is not None
        assert front._sources_page(7)[0] == text  # a page gone since: the last one
    finally:
        front._worker.shutdown()
        bot.close()


class LongAnswerer:
    """Answers with ~11,000 characters of sentences full of characters HTML must escape."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        sentences = [f"Point {n}: costs rose <5% & fell >2% in \"Q{n % 4}\" [1]."
                     for n in range(140)]
        paragraphs = [" ".join(sentences[i:i + 35]) for i in range(0, 140, 35)]
        chunk = hits[0].chunk
        citations = tuple(Citation(n, chunk.article_id, f"Title {n} <&>", "2015-09-18", "APA",
                                   chunk.id, "x", chunk.start, chunk.start + 1) for n in (1, 2))
        return Answer(question, "\n".join(paragraphs), citations, language="en")


def test_long_answer_is_split_into_valid_html_messages(api: FakeBotApi, index_dir: Path) -> None:
    hit = SimpleNamespace(chunk=SimpleNamespace(article_id="talks", id=1, start=0))
    full = LongAnswerer().answer(QUESTION, [hit], None)
    with serve(api, index_dir, answerer=LongAnswerer()):
        api.send_text(QUESTION, user_id=OWNER)
        api.wait_sent(1, OWNER)
        settle(api)
    parts = api.sent(OWNER)
    assert len(parts) >= 3
    shown = []
    for number, part in enumerate(parts, start=1):
        assert fmt.utf16_len(part["text"]) <= 4096
        shown.append(check_html(part["text"]))
        assert bool(buttons(part)) == (number == len(parts))
        if number < len(parts):
            assert shown[-1].rstrip().endswith("[1].")  # cut after a sentence
    assert " ".join(shown).split() == fmt.visible_text(fmt.answer_html(full)).split()
    assert len(buttons(parts[-1])) == 2


# ---------- access and abuse ----------
def test_allowlist_refuses_once_per_chat_and_logs_the_id(api: FakeBotApi, index_dir: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsbot")
    with serve(api, index_dir, answerer=CitingAnswerer()):
        api.send_text(QUESTION, user_id=STRANGER)
        api.send_text("And another question?", user_id=STRANGER)
        api.push(message=api.message(None, user_id=STRANGER, sticker=_sticker()))
        api.send_text("Chatting among ourselves", user_id=333, chat_id=-500, kind="group")
        api.send_text(f"@{BOT_USERNAME} {QUESTION}", user_id=333, chat_id=-500, kind="group")
        api.send_text(f"/ask {QUESTION}", user_id=333, chat_id=-500, kind="group")
        api.send_text(QUESTION, user_id=FRIEND)
        settle(api)
    [refusal] = api.sent(STRANGER)
    assert "only answers people its owner has allowed" in refusal["text"]
    assert f"<code>{STRANGER}</code>" in refusal["text"]
    assert len(api.sent(-500)) == 1 and "333" in api.sent(-500)[0]["text"]
    assert "[1]" in api.sent(FRIEND)[0]["text"]
    assert not [c for c in api.requests("sendChatAction") if c.params["chat_id"] in
                (STRANGER, -500)]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any(str(STRANGER) in m for m in refused) and any("333" in m for m in refused)


def test_group_answers_only_mentions_replies_and_ask(api: FakeBotApi, index_dir: Path) -> None:
    group = -100200
    with serve(api, index_dir, answerer=CitingAnswerer()):
        api.send_text(QUESTION, user_id=OWNER, chat_id=group, kind="group")
        api.push(message=api.message(None, user_id=OWNER, chat_id=group, kind="group",
                                     sticker=_sticker()))
        api.send_text(f"/ask@some_other_bot {QUESTION}", user_id=OWNER, chat_id=group,
                      kind="group")
        mention = api.message(f"@{BOT_USERNAME} {QUESTION}", user_id=OWNER, chat_id=group,
                              kind="group")
        api.push(message=mention)
        first = api.wait_sent(1, group)[0]
        assert "[1]" in first["text"]
        assert first["reply_parameters"]["message_id"] == mention["message_id"]
        bot_message = api.requests("sendMessage")[-1].result
        api.send_text(QUESTION, user_id=OWNER, chat_id=group, kind="group", reply_to=bot_message)
        api.send_text(f"/ask {QUESTION}", user_id=OWNER, chat_id=group, kind="group")
        api.send_text(f"/ask@{BOT_USERNAME}", user_id=OWNER, chat_id=group, kind="group")
        sent = api.wait_sent(4, group)
        settle(api)
    assert len(api.sent(group)) == 4
    assert ["[1]" in s["text"] for s in sent] == [True, True, True, False]
    assert "/ask" in sent[3]["text"]


def test_rate_limit_per_user(api: FakeBotApi, index_dir: Path) -> None:
    clock = Clock()
    with serve(api, index_dir, answerer=CitingAnswerer(), clock=clock, telegram_rate_limit=2):
        for _ in range(3):
            api.send_text(QUESTION, user_id=OWNER)
        api.send_text(QUESTION, user_id=FRIEND)
        replies = api.wait_sent(3, OWNER)
        api.wait_sent(1, FRIEND)
        assert ["[1]" in r["text"] for r in replies] == [True, True, False]
        assert "at most 2 questions a minute" in replies[2]["text"]
        assert "try again in 60 s" in replies[2]["text"]
        clock.now += 61
        api.send_text(QUESTION, user_id=OWNER)
        assert "[1]" in api.wait_sent(4, OWNER)[3]["text"]


def test_non_text_long_and_edited_messages(api: FakeBotApi, index_dir: Path) -> None:
    with serve(api, index_dir):
        api.push(message=api.message(None, user_id=OWNER, sticker=_sticker()))
        api.push(message=api.message(None, user_id=OWNER, voice={
            "file_id": "v1", "file_unique_id": "v1u", "duration": 3}))
        api.send_text("x" * 2001, user_id=OWNER)
        api.push(edited_message={**api.message(QUESTION, user_id=OWNER), "edit_date": 1})
        api.send_text("/frobnicate", user_id=OWNER)
        settle(api)
    replies = [s["text"] for s in api.sent(OWNER)]
    assert replies[:2] == ["Please send me a text question."] * 2
    assert "2001 characters long" in replies[2] and "at most 2000" in replies[2]
    assert "don't know that command" in replies[3]
    assert len(replies) == 4  # the edited message got nothing
    assert not api.requests("sendChatAction")


class FlakyAnswerer:
    """Raises on questions containing 'boom' (with the token in the message), else answers."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        if "boom" in question:
            raise RuntimeError(f"boom while using {TOKEN}")
        if "archive" in question:
            raise NewsbotError("Milvus at http://milvus:19530 became unreachable while searching")
        return Answer(question, "All good.", language="en")


def test_error_gets_apology_and_bot_keeps_running(api: FakeBotApi, index_dir: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="telegram")
    with serve(api, index_dir, answerer=FlakyAnswerer()):
        api.send_text("What went boom in the talks?", user_id=OWNER)
        api.send_text("What happened in the talks?", user_id=OWNER)
        replies = api.wait_sent(2, OWNER)
    assert replies[0]["text"].startswith("Sorry, something went wrong")
    assert replies[1]["text"] == "All good."
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "RuntimeError: boom while using <token>" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert all(TOKEN not in json.dumps(c.params) for c in api.requests())
    assert any(f"/bot{TOKEN}/getUpdates" == path for path in api.raw_paths)


def test_an_expected_error_is_one_log_line_and_an_apology(api: FakeBotApi, index_dir: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(api, index_dir, answerer=FlakyAnswerer()):
        api.send_text("What does the archive say?", user_id=OWNER)
        replies = api.wait_sent(1, OWNER)
    assert replies[0]["text"].startswith("Sorry, something went wrong")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "could not handle an update: Milvus at http://milvus:19530 became unreachable while searching"
    ]
    assert all(r.exc_info is None for r in errors) and "Traceback" not in caplog.text


# ---------- settings and startup ----------
def test_settings_are_checked_before_starting(api: FakeBotApi, index_dir: Path) -> None:
    bot = newsbot(index_dir, settings(api))
    with pytest.raises(ConfigError, match="set NEWSBOT_TELEGRAM_TOKEN"):
        build_application(bot, settings(api, telegram_token=None))
    with pytest.raises(ConfigError, match="--public"):
        build_application(bot, settings(api, telegram_allowed=""))
    assert build_application(bot, settings(api, telegram_allowed=""), public=True)
    with pytest.raises(ConfigError, match="'@ada' is not a numeric"):
        parse_allowed("111, @ada")
    assert parse_allowed(" 111,-100200 42 ") == {111, -100200, 42}


def test_api_url_root_or_bot_suffix() -> None:
    root = ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert api_urls("http://127.0.0.1:8081") == root
    assert api_urls("http://127.0.0.1:8081/bot/") == root
    assert api_urls("https://api.telegram.org/bot") == ("https://api.telegram.org/bot",
                                                        "https://api.telegram.org/file/bot")


def test_webhook_options() -> None:
    hook = webhook_options("https://bot.example.org/tg/hook", "0.0.0.0:8443", "s3cret_-X")
    assert (hook.listen, hook.port, hook.url_path, hook.secret_token) == (
        "0.0.0.0", 8443, "tg/hook", "s3cret_-X")
    assert len(webhook_options("https://bot.example.org").secret_token) >= 32
    with pytest.raises(ConfigError, match="HOST:PORT"):
        webhook_options("https://bot.example.org", "8443")
    with pytest.raises(ConfigError, match="secret token"):
        webhook_options("https://bot.example.org", "127.0.0.1:8443", "not secret!")


@pytest.mark.skipif(importlib.util.find_spec("tornado") is None,
                    reason="needs python-telegram-bot[webhooks]")
def test_webhook_mode_answers_posted_updates(api: FakeBotApi, index_dir: Path) -> None:
    port = _free_port()
    hook = webhook_options("https://bot.example.org/tg/hook", f"127.0.0.1:{port}", "s3cret")
    config = settings(api)
    app = build_application(newsbot(index_dir, config), config)
    with Running(app, api, webhook=hook):
        [call] = api.requests("setWebhook")
        assert call.params["url"] == "https://bot.example.org/tg/hook"
        assert call.params["secret_token"] == "s3cret"
        update = {"update_id": 1, "message": api.message(QUESTION, user_id=OWNER)}
        url = f"http://127.0.0.1:{port}/tg/hook"
        assert httpx.post(url, json=update).status_code == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        assert httpx.post(url, json=update, headers=headers).status_code == 200
        assert "[1]" in api.wait_sent(1, OWNER)[0]["text"]


def test_cli_runs_the_bot_against_the_api_url(api: FakeBotApi, tmp_path: Path) -> None:
    env = {**os.environ, "NEWSBOT_HOME": str(tmp_path / "home"), "NEWSBOT_EMBEDDER": "demo-hash",
           "NEWSBOT_TELEGRAM_TOKEN": TOKEN, "NEWSBOT_TELEGRAM_API_URL": api.url,
           "NEWSBOT_TELEGRAM_ALLOWED": ""}
    command = [sys.executable, "-m", "bot.cli", "telegram"]
    refused = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "NEWSBOT_TELEGRAM_ALLOWED is not set" in refused.stderr
    api.send_text("Wer hat die direkten Militärgespräche vorgeschlagen?", user_id=4242)
    process = subprocess.Popen([*command, "--public"], env=env, cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reply = api.wait_sent(1, 4242, timeout=60)[0]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert reply["parse_mode"] == "HTML" and reply["text"].strip()
    assert "starting the Telegram bot (long polling)" in err
    assert TOKEN not in err and TOKEN not in refused.stderr


# ---------- formatting ----------
def test_answer_html_bolds_the_short_answer_and_escapes_the_rest() -> None:
    answer = Answer(QUESTION, "**<b>R&D</b>** — „x < y & **z**“ [1] 2 ** 3", language="en")
    assert fmt.answer_html(answer) == (
        "<b>&lt;b&gt;R&amp;D&lt;/b&gt;</b> — „x &lt; y &amp; <b>z</b>“ [1] 2 ** 3")
    assert check_html(fmt.answer_html(answer)).startswith("<b>R&D</b> — „x < y & z“")


def test_split_html_never_breaks_tags_and_reopens_them() -> None:
    text = "<b>Title &amp; more</b>\n<blockquote>" + " ".join(
        f"Sentence {n} has <b>bold &lt;{n}&gt;</b> and <a href=\"https://x.org/?a=1&amp;b={n}\">"
        f"a link</a>." for n in range(60)) + "</blockquote>"
    parts = fmt.split_html(text, limit=500)
    assert len(parts) > 5
    for part in parts:
        assert fmt.utf16_len(part) <= 500
        check_html(part)
    assert parts[0].startswith("<b>Title &amp; more</b>\n<blockquote>Sentence 0 has")
    assert all(p.startswith("<blockquote>") and p.endswith("</a>.</blockquote>")
               for p in parts[1:])  # the quote reopened, cut after a sentence
    visible = " ".join(fmt.visible_text(p) for p in parts).split()
    assert visible == fmt.visible_text(text).split()


def test_split_html_prefers_line_breaks() -> None:
    lines = [" ".join(f"Line {n} sentence {m}." for m in range(8)) for n in range(30)]
    parts = fmt.split_html("\n".join(lines), limit=1000)
    assert all(part.split("\n")[-1].startswith("Line") and part.endswith("sentence 7.")
               for part in parts)
    assert "\n".join(parts).split("\n") == lines


def test_split_html_counts_utf16_and_cuts_long_words() -> None:
    assert fmt.split_html("short") == ["short"]
    emoji = "😀" * 3000
    parts = fmt.split_html(emoji)
    assert [fmt.utf16_len(p) for p in parts] == [4096, 1904]
    assert fmt.split_html("a" * 5000 + " b", limit=4096)[0] == "a" * 4096


def _sticker() -> dict[str, Any]:
    """A sticker as the Bot API sends it."""
    return {"file_id": "s1", "file_unique_id": "s1u", "type": "regular", "width": 512,
            "height": 512, "is_animated": False, "is_video": False}


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]



def test_answer_html_shows_a_note_in_italics_last() -> None:
    answer = Answer(QUESTION, "No model <here>.", language="en", note="The model could not be reached <5s>.")
    assert fmt.answer_html(answer) == (
        "No model &lt;here&gt;.\n\n<i>The model could not be reached &lt;5s&gt;.</i>")
