"""The Telegram test harness: a small index, settings pointing at the fake Bot API, the
application run in a thread, and checks on what the bot sent."""

from __future__ import annotations

import asyncio
import html.parser
import json
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.telegram import build_application, run_application
from retrieval.answering.types import Answer, Citation, DraftCallback, Turn
from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from tests.bot.fake_bot_api import FakeBotApi

TOKEN = "123456:SECRET-tok3n-never-logged"
OWNER, FRIEND, WATCHER, STRANGER = 111, 112, 999, 222
QUESTION = "Who proposed direct military talks with Washington?"
QUOTE = "Russia proposed direct military talks with Washington."
TALKS = {
    "id": "talks",
    "title": "Q&A: <Budget> & defence talks",
    "date": "2015-09-18",
    "source": "https://www.example.org/talks?a=1&b=2",
    "lang": "en",
    "text": f"{QUOTE} The defence ministers spoke by phone for fifty minutes on Friday. "
    "Both sides called the conversation constructive and agreed to meet again.",
}
FILLER = [
    {
        "id": f"filler-{n:02d}",
        "title": f"Local news {n}",
        "date": f"2015-10-{n:02d}",
        "source": "Agency",
        "lang": "en",
        "text": f"The town council met on day {n}. It discussed parking, bins and a new "
        "bicycle lane. Residents complained about the noise.",
    }
    for n in range(1, 12)
]


def build_index(folder: Path) -> Path:
    """An index of twelve small articles (the talks and eleven fillers) with the hash embedder."""
    corpus = folder / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in [TALKS, *FILLER]) + "\n", encoding="utf-8")
    bot = Newsbot(Settings(home=folder), embedder=HashEmbedder(), index_dir=folder / "index")
    bot.index_paths([corpus], progress=False)
    bot.close()
    return folder / "index"


def settings(api: FakeBotApi, **overrides: Any) -> Settings:
    """Settings pointing the bot at the fake server."""
    values: dict[str, Any] = {
        "telegram_token": TOKEN,
        "telegram_api_url": api.url,
        "telegram_allowed": f"{OWNER}, {FRIEND} {WATCHER}",
        "embedder": "demo-hash",
        **overrides,
    }
    return Settings(**values)


def newsbot(index_dir: Path, config: Settings, answerer: object = None) -> Newsbot:
    """A Newsbot over the shared test index."""
    return Newsbot(config, embedder=HashEmbedder(), index_dir=index_dir, answerer=answerer)


class CitingAnswerer:
    """Always answers with one citation of the best chunk (access tests need no real ranking)."""

    def answer(self, question: str, hits: Any, vector: Any, **_: Any) -> Answer:
        chunk = hits[0].chunk
        citation = Citation(
            1, chunk.article_id, "Cited", "2015-09-18", "", chunk.id, "x", chunk.start, chunk.start + 1
        )
        return Answer(question, "Cited. [1]", (citation,), language="en")


class RecordingAnswerer:
    """Answers 'Answer n.' to the nth question, recording the history each question came with."""

    def __init__(self) -> None:
        self.histories: list[tuple[Turn, ...]] = []  # in the order asked
        self.seen: dict[str, list[str]] = {}  # question -> the questions of its history
        self.turns: dict[str, tuple[Turn, ...]] = {}  # question -> its history

    def answer(
        self,
        question: str,
        hits: Any,
        vector: Any,
        *,
        history: Sequence[Turn] = (),
        on_draft: DraftCallback | None = None,
    ) -> Answer:
        self.histories.append(tuple(history))
        self.seen[question] = [turn.question for turn in history]
        self.turns[question] = tuple(history)
        return Answer(question, f"Answer {len(self.histories)}.", language="en")

    def questions(self) -> list[list[str]]:
        """The questions of each recorded history, in the order asked."""
        return [[turn.question for turn in history] for history in self.histories]


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Running:
    """The application served by run_application in a thread, stopped like Ctrl-C would."""

    def __init__(self, app: Any, api: FakeBotApi, webhook: Any = None) -> None:
        self.app, self.api, self.webhook = app, api, webhook
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            run_application(self.app, self.webhook, handle_signals=False)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        self.api.wait_for(lambda: self.error or (self.app.running and self.app.updater.running), timeout=10)
        if self.error:
            raise self.error
        if self.webhook:
            self.api.wait_for(lambda: _listening(self.webhook.port))
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.app.stop_running)
        self.thread.join(10)
        assert not self.thread.is_alive(), "the bot did not stop"
        if self.error and not exc[0]:
            raise self.error


def serve(
    api: FakeBotApi,
    index_dir: Path,
    answerer: object = None,
    clock: Any = None,
    public: bool = False,
    **overrides: Any,
) -> Running:
    """Build the application for a Newsbot over the test index and run it."""
    config = settings(api, **overrides)
    extra = {"clock": clock} if clock else {}
    app = build_application(newsbot(index_dir, config, answerer), config, public=public, **extra)
    return Running(app, api)


def settle(api: FakeBotApi) -> None:
    """Wait until every earlier update was handled: updates run in order, so ask for /help last."""
    before = len(api.sent(WATCHER))
    api.send_text("/help", user_id=WATCHER)
    api.wait_sent(before + 1, WATCHER)


def buttons(params: dict[str, Any]) -> list[str]:
    """The callback data of a sent message's inline buttons."""
    markup = params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


class _HtmlCheck(html.parser.HTMLParser):
    """Checks that Telegram HTML is well formed: known tags, all closed, in order."""

    ALLOWED = frozenset({"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        assert tag in self.ALLOWED, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(text: str) -> str:
    """The visible text of valid Telegram HTML (AssertionError otherwise)."""
    parser = _HtmlCheck()
    parser.feed(text)
    parser.close()
    assert not parser.stack, f"unclosed {parser.stack}"
    assert "<" not in "".join(parser.text) or "&lt;" in text
    return "".join(parser.text)


def _listening(port: int) -> bool:
    """Whether something accepts connections on the local port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
