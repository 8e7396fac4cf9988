"""The load driver of benchmarks/telegram_load.py, briefly: no update lost, none answered twice."""

from __future__ import annotations

from pathlib import Path

from benchmarks.telegram_load import drive, seed_questions
from tests.bot.fake_bot_api import FakeBotApi
from tests.bot.telegram_harness import serve


def test_a_short_load_loses_and_doubles_nothing(api: FakeBotApi, index_dir: Path) -> None:
    questions = [*seed_questions(), "Who proposed direct military talks with Washington?"]
    with serve(api, index_dir, telegram_allowed="", public=True, telegram_rate_limit=3):
        report = drive(api, questions, users=6, seconds=3.0, think=(0.05, 0.3), timeout=30.0)
    assert report.sent > 6 and report.answered > 0
    assert report.lost == 0 and report.answered_twice == 0 and report.failed == 0
    assert report.sent == report.answered + report.rate_limited
    assert len(report.reply_seconds) == report.sent
