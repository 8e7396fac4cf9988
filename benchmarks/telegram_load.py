"""Telegram under load: many users asking at once, on the fake Bot API over 127.0.0.1.

    python -m benchmarks.telegram_load --users 50 --seconds 60 [--embedder NAME] [--json out.json]

The real bot (the PTB application of `newsbot telegram`, the real extractive answerer) runs over
a fresh index of the seed articles with the given embedder. Each simulated user has a private
chat and asks the seed questions in turn: one question, wait for the reply, think for a moment
(uniform in `--think`), ask the next, so the bot's per-user rate limit answers some of them with
"slow down". Every reply the bot sends is matched to the user's open question. Printed: updates
sent, answered, rate-limited, failed (an apology), lost (no reply within `--timeout` after the
run), answered twice (replies beyond one per question), throughput and reply-time percentiles.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bot.telegram import build_application
from prompts import render
from retrieval.config import REPO_ROOT, Settings
from retrieval.evaluate import load_questions
from retrieval.pipeline import Newsbot
from tests.bot.fake_bot_api import Call, FakeBotApi
from tests.bot.telegram_harness import Running

TOKEN = "4242:load-test-token"
FIRST_USER = 500_000
# How replies are told apart: the first words of the rate-limit message and of the apology.
RATE_LIMITED = render("telegram_rate_limit", limit=0, seconds=0).split(":")[0]
APOLOGY = render("telegram_apology")[:20]


@dataclass
class LoadReport:
    """What happened to every question the simulated users sent."""

    users: int
    seconds: float
    sent: int = 0
    answered: int = 0
    rate_limited: int = 0
    failed: int = 0
    lost: int = 0
    answered_twice: int = 0
    elapsed: float = 0.0
    reply_seconds: list[float] = field(default_factory=list, repr=False)
    answer_seconds: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, float | int]:
        """The figures to print: counts, throughput and reply-time percentiles in ms."""
        figures: dict[str, float | int] = {
            k: v for k, v in asdict(self).items() if k not in ("reply_seconds", "answer_seconds")
        }
        figures["answers_per_second"] = round(self.answered / self.elapsed, 2) if self.elapsed else 0.0
        figures["replies_per_second"] = (
            round(len(self.reply_seconds) / self.elapsed, 2) if self.elapsed else 0.0
        )
        for name, values in (("reply", self.reply_seconds), ("answer", self.answer_seconds)):
            for p in (50, 95):
                figures[f"{name}_p{p}_ms"] = (
                    round(float(np.percentile(values, p)) * 1000, 1) if values else 0.0
                )
        figures["elapsed"] = round(self.elapsed, 2)
        return figures


@dataclass
class _User:
    """One simulated user: the question waiting for its reply, and when to ask the next."""

    user_id: int
    asked_at: float | None = None
    next_at: float = 0.0
    asked: int = 0


def drive(
    api: FakeBotApi,
    questions: Sequence[str],
    users: int = 50,
    seconds: float = 60.0,
    think: tuple[float, float] = (1.0, 5.0),
    timeout: float = 30.0,
    seed: int = 0,
) -> LoadReport:
    """Let `users` users ask questions of the bot served on `api` for `seconds`, then wait (at most
    `timeout`) for the replies still due and a moment longer for stray second replies."""
    rng = random.Random(seed)
    replies: queue.Queue[tuple[float, int, str]] = queue.Queue()

    def listen(call: Call) -> None:
        if call.method == "sendMessage":
            replies.put((time.monotonic(), call.params.get("chat_id"), call.params.get("text", "")))

    api.listeners.append(listen)
    report = LoadReport(users=users, seconds=seconds)
    start = time.monotonic()
    people = {
        FIRST_USER + n: _User(FIRST_USER + n, next_at=start + rng.uniform(0, think[0])) for n in range(users)
    }
    try:
        deadline = start + seconds
        while time.monotonic() < deadline:
            _ask_due(api, people.values(), questions, report, time.monotonic(), rng)
            _take_replies(replies, people, report, think, rng, _wait(people.values(), deadline))
            _give_up_on(people.values(), report, time.monotonic() - timeout)
        report.elapsed = time.monotonic() - start
        _drain(replies, people, report, think, rng, timeout)
    finally:
        api.listeners.remove(listen)
    return report


def _ask_due(
    api: FakeBotApi,
    people: Iterable[_User],
    questions: Sequence[str],
    report: LoadReport,
    now: float,
    rng: random.Random,
) -> None:
    """Send the next question of every user whose thinking time is over."""
    for user in people:
        if user.asked_at is None and user.next_at <= now:
            question = questions[(user.asked + user.user_id) % len(questions)]
            user.asked_at, user.asked = time.monotonic(), user.asked + 1
            api.send_text(question, user_id=user.user_id)
            report.sent += 1


def _wait(people: Iterable[_User], deadline: float) -> float:
    """Seconds until the next user wants to ask (at most 0.1, at least 0)."""
    due = [u.next_at for u in people if u.asked_at is None]
    return max(0.0, min([0.1, deadline - time.monotonic(), *(d - time.monotonic() for d in due)]))


def _take_replies(
    replies: queue.Queue[tuple[float, int, str]],
    people: dict[int, _User],
    report: LoadReport,
    think: tuple[float, float],
    rng: random.Random,
    wait: float,
) -> None:
    """Match the replies that arrive within `wait` seconds to the users' open questions."""
    try:
        item = replies.get(timeout=wait) if wait > 0 else replies.get_nowait()
    except queue.Empty:
        return
    while True:
        _match(item, people, report, think, rng)
        try:
            item = replies.get_nowait()
        except queue.Empty:
            return


def _match(
    item: tuple[float, int, str],
    people: dict[int, _User],
    report: LoadReport,
    think: tuple[float, float],
    rng: random.Random,
) -> None:
    """Count one reply against its user's open question (a second reply is counted as such)."""
    at, chat_id, text = item
    user = people.get(chat_id)
    if user is None:
        return
    if user.asked_at is None:
        report.answered_twice += 1
        return
    report.reply_seconds.append(at - user.asked_at)
    if text.startswith(RATE_LIMITED):
        report.rate_limited += 1
    elif text.startswith(APOLOGY):
        report.failed += 1
    else:
        report.answered += 1
        report.answer_seconds.append(at - user.asked_at)
    user.asked_at, user.next_at = None, at + rng.uniform(*think)


def _give_up_on(people: Iterable[_User], report: LoadReport, before: float) -> None:
    """Count as lost the questions asked before `before` that got no reply; their users go on."""
    for user in people:
        if user.asked_at is not None and user.asked_at < before:
            report.lost += 1
            user.asked_at, user.next_at = None, time.monotonic()


def _drain(
    replies: queue.Queue[tuple[float, int, str]],
    people: dict[int, _User],
    report: LoadReport,
    think: tuple[float, float],
    rng: random.Random,
    timeout: float,
) -> None:
    """After the run: take the replies still due (no new questions), then look for stray ones."""
    for user in people.values():
        user.next_at = float("inf")
    until = time.monotonic() + timeout
    while any(u.asked_at is not None for u in people.values()) and time.monotonic() < until:
        _take_replies(replies, people, report, think, rng, 0.1)
    _give_up_on(people.values(), report, float("inf"))
    _take_replies(replies, people, report, think, rng, 1.0)  # a second reply would come now


def seed_questions() -> list[str]:
    """The questions of the bundled seed question set."""
    return [q.question for q in load_questions(REPO_ROOT / "seeds" / "questions.jsonl").questions]


def run(
    users: int, seconds: float, embedder: str, think: tuple[float, float], rate_limit: int, timeout: float
) -> LoadReport:
    """Serve the real bot over a fresh seed index on a fake Bot API and drive it."""
    with tempfile.TemporaryDirectory(prefix="newsbot-load-") as home, FakeBotApi(TOKEN) as api:
        settings = Settings(
            home=Path(home),
            embedder=embedder,
            telegram_token=TOKEN,
            telegram_api_url=api.url,
            telegram_rate_limit=rate_limit,
        )
        bot = Newsbot(settings)
        bot.index_paths([REPO_ROOT / "seeds"], progress=False)
        app = build_application(bot, settings, public=True)
        with Running(app, api):
            return drive(api, seed_questions(), users, seconds, think, timeout)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the load, print the figures (and write them as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--embedder", default="use-multilingual-v3")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--rate-limit", type=int, default=Settings.model_fields["telegram_rate_limit"].default
    )
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args.users, args.seconds, args.embedder, tuple(args.think), args.rate_limit, args.timeout)
    figures = report.summary()
    for name, value in figures.items():
        print(f"{name:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    ok = report.lost == report.answered_twice == report.failed == 0
    ok = ok and report.sent == report.answered + report.rate_limited
    print("every update answered or rate-limited, none lost, none answered twice" if ok else "PROBLEMS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
