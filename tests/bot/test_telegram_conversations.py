"""Conversations and streaming in Telegram: histories per chat and forum topic, /new, expiry,
bounds, and a streaming answer edited in place (on the fake Bot API, and the throttle alone)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.telegram import format as fmt
from bot.telegram.conversations import Conversations
from bot.telegram.streaming import DraftMessage
from prompts import render
from retrieval.answering.types import Answer, Citation, DraftCallback, Turn
from tests.bot.fake_bot_api import FakeBotApi
from tests.bot.telegram_harness import (
    FRIEND,
    OWNER,
    Clock,
    RecordingAnswerer,
    buttons,
    check_html,
    serve,
    settle,
)

FORUM = -100300


def test_a_follow_up_gets_the_earlier_turn(api: FakeBotApi, index_dir: Path) -> None:
    answerer = RecordingAnswerer()
    with serve(api, index_dir, answerer=answerer):
        api.send_text("Who proposed the talks?", user_id=OWNER)
        api.send_text("And when was that?", user_id=OWNER)
        replies = api.wait_sent(2, OWNER)
    assert [r["text"] for r in replies] == ["Answer 1.", "Answer 2."]
    assert answerer.seen == {"Who proposed the talks?": [], "And when was that?": ["Who proposed the talks?"]}
    [turn] = answerer.turns["And when was that?"]
    assert turn.answer.text == "Answer 1."  # the bot's own answer is part of the history


def test_chats_and_forum_topics_keep_their_own_conversations(api: FakeBotApi, index_dir: Path) -> None:
    answerer = RecordingAnswerer()

    def in_topic(text: str, topic: int) -> None:
        api.push(
            message=api.message(
                f"/ask {text}",
                user_id=OWNER,
                chat_id=FORUM,
                kind="supergroup",
                is_topic_message=True,
                message_thread_id=topic,
            )
        )

    with serve(api, index_dir, answerer=answerer):
        api.send_text("Owner first?", user_id=OWNER)
        api.send_text("Friend first?", user_id=FRIEND)
        in_topic("Topic five first?", 5)
        in_topic("Topic seven first?", 7)
        api.send_text("Owner second?", user_id=OWNER)
        api.send_text("Friend second?", user_id=FRIEND)
        in_topic("Topic five second?", 5)
        in_topic("Topic seven second?", 7)
        api.wait_sent(4, FORUM)
        settle(api)
    assert {q: h for q, h in answerer.seen.items() if "second" in q} == {
        "Owner second?": ["Owner first?"],
        "Friend second?": ["Friend first?"],
        "Topic five second?": ["Topic five first?"],
        "Topic seven second?": ["Topic seven first?"],
    }
    assert [s.get("message_thread_id") for s in api.sent(FORUM)] == [5, 7, 5, 7]


def test_new_starts_over_and_help_says_so(api: FakeBotApi, index_dir: Path) -> None:
    answerer = RecordingAnswerer()
    with serve(api, index_dir, answerer=answerer):
        api.send_text("Who proposed the talks?", user_id=OWNER)
        api.send_text("/new", user_id=OWNER)
        api.send_text("And when was that?", user_id=OWNER)
        api.send_text("/help", user_id=OWNER)
        replies = api.wait_sent(4, OWNER)
    assert replies[1]["text"] == render("telegram_new")
    assert answerer.seen["And when was that?"] == []
    assert "/new starts a new conversation" in replies[3]["text"]
    assert "the last 6 questions of a chat (or forum topic) for 30 minutes" in replies[3]["text"]
    assert "new" in [c["command"] for c in api.requests("setMyCommands")[0].params["commands"]]


def test_a_conversation_expires_after_its_idle_time(api: FakeBotApi, index_dir: Path) -> None:
    answerer, clock = RecordingAnswerer(), Clock()
    with serve(api, index_dir, answerer=answerer, clock=clock, telegram_history_minutes=30):
        api.send_text("First?", user_id=OWNER)
        api.wait_sent(1, OWNER)
        clock.now += 29 * 60
        api.send_text("Second, 29 minutes later?", user_id=OWNER)
        api.wait_sent(2, OWNER)
        clock.now += 30 * 60
        api.send_text("Third, 30 idle minutes later?", user_id=OWNER)
        api.wait_sent(3, OWNER)
    assert answerer.seen["Second, 29 minutes later?"] == ["First?"]
    assert answerer.seen["Third, 30 idle minutes later?"] == []


def test_a_conversation_keeps_only_its_last_turns(api: FakeBotApi, index_dir: Path) -> None:
    answerer = RecordingAnswerer()
    with serve(api, index_dir, answerer=answerer, telegram_history_turns=2):
        for n in range(1, 5):
            api.send_text(f"Question {n}?", user_id=OWNER)
        api.wait_sent(4, OWNER)
    assert answerer.seen["Question 4?"] == ["Question 2?", "Question 3?"]


def test_conversations_stay_bounded_with_many_chats() -> None:
    clock = Clock()
    conversations = Conversations(turns=3, ttl=60.0, chats=100, clock=clock)
    for chat in range(1000):
        conversations.add((chat, None), Turn(f"q{chat}", Answer(f"q{chat}", "a")))
        clock.now += 0.01
    assert len(conversations) == 100 and conversations.history((0, None)) == ()
    assert [t.question for t in conversations.history((999, None))] == ["q999"]
    clock.now += 30
    conversations.add((950, None), Turn("again", Answer("again", "a")))  # now the most recent
    clock.now += 45  # the others are idle for more than a minute
    assert len(conversations) == 1 and [t.question for t in conversations.history((950, None))] == [
        "q950",
        "again",
    ]
    assert conversations.clear((950, None)) and not conversations.clear((950, None))
    assert Conversations(turns=0, ttl=60.0).history((1, None)) == ()


# ---------- streaming ----------
class StreamingAnswerer:
    """A model streaming its answer: each draft goes to on_draft, and the next is drafted only
    once the fake Bot API has shown the previous one (so every draft is seen, in order)."""

    DRAFTS = ("Russia", "Russia <proposed>", "Russia <proposed> the talks [1]")

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.final: Answer | None = None

    def answer(
        self,
        question: str,
        hits: Any,
        vector: Any,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        for draft in self.DRAFTS:
            on_draft(draft)
            shown = fmt.esc(draft)
            self.api.wait_for(
                lambda shown=shown: any(c.params.get("text") == shown for c in self.api.requests())
            )
        chunk = hits[0].chunk
        citation = Citation(
            1, chunk.article_id, "Talks", "2015-09-18", "", chunk.id, "x", chunk.start, chunk.start + 1
        )
        self.final = Answer(question, self.DRAFTS[-1] + ".", (citation,), language="en")
        return self.final


def test_a_streaming_answer_is_edited_in_place_then_finished_with_buttons(
    api: FakeBotApi, index_dir: Path
) -> None:
    answerer = StreamingAnswerer(api)
    with serve(api, index_dir, answerer=answerer, telegram_edit_seconds=0):
        api.send_text("Who proposed the talks?", user_id=OWNER)
        final = api.wait_for(
            lambda: [c for c in api.requests("editMessageText") if c.params.get("reply_markup")]
        )[0]
        settle(api)
    [draft] = api.sent(OWNER)
    edits = [c.params for c in api.requests("editMessageText")]
    assert draft["text"] == "Russia"
    assert [e["text"] for e in edits] == [
        "Russia &lt;proposed&gt;",
        "Russia &lt;proposed&gt; the talks [1]",
        fmt.answer_html(answerer.final),
    ]
    assert all(e["message_id"] == api.requests("sendMessage")[0].result["message_id"] for e in edits)
    assert final.params["text"].endswith("<b>Sources</b>\n[1] <b>Talks</b> — 18 Sep 2015")
    check_html(final.params["text"])
    assert len(buttons(final.params)) == 1 and buttons(final.params)[0].startswith("cite:")


class FakeMessage:
    """A Telegram message that records what was sent and edited (sent messages share the log)."""

    def __init__(self, log: list[tuple[str, str, Any]]) -> None:
        self.log = log

    async def reply_html(self, text: str, reply_markup: Any = None, do_quote: Any = None) -> FakeMessage:
        self.log.append(("send", text, reply_markup))
        return FakeMessage(self.log)

    async def edit_text(self, text: str, reply_markup: Any = None) -> None:
        self.log.append(("edit", text, reply_markup))


async def _turn() -> None:
    """Let the event loop run everything that is ready."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_drafts_are_throttled_by_the_clock_and_the_newest_wins() -> None:
    async def scenario() -> list[tuple[str, str, Any]]:
        log: list[tuple[str, str, Any]] = []
        clock = Clock()
        draft = DraftMessage(FakeMessage(log), interval=1.5, clock=clock)
        for step, text in (
            (0.0, "one"),
            (0.5, "two"),
            (0.5, "three"),
            (0.5, "four"),
            (0.0, "four"),
            (0.1, "five"),
        ):
            clock.now += step
            draft.on_draft(text)
            await _turn()
        await draft.finish("final", "buttons")
        return log

    log = asyncio.run(scenario())
    assert log == [("send", "one", None), ("edit", "four", None), ("edit", "final", "buttons")]


def test_a_long_final_answer_edits_the_draft_and_sends_the_rest() -> None:
    async def scenario() -> list[tuple[str, str, Any]]:
        log: list[tuple[str, str, Any]] = []
        draft = DraftMessage(FakeMessage(log), interval=0.0, clock=Clock())
        draft.on_draft("Point 0.")
        await _turn()
        await draft.finish(" ".join(f"Point {n}." for n in range(1000)), "buttons")
        return log

    log = asyncio.run(scenario())
    assert [(kind, markup) for kind, _, markup in log] == [
        ("send", None),
        ("edit", None),
        ("send", None),
        ("send", "buttons"),
    ]
    assert (
        " ".join(text for _, text, _ in log[1:]).split()
        == " ".join(f"Point {n}." for n in range(1000)).split()
    )


def test_an_answer_that_never_drafts_is_sent_as_a_reply() -> None:
    async def scenario() -> list[tuple[str, str, Any]]:
        log: list[tuple[str, str, Any]] = []
        await DraftMessage(FakeMessage(log), interval=1.5).finish("final", "buttons")
        return log

    assert asyncio.run(scenario()) == [("send", "final", "buttons")]
