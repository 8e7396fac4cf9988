"""Fixtures for the Telegram tests: the fake Bot API and a small index built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.fake_bot_api import FakeBotApi
from tests.bot.telegram_harness import TOKEN, build_index


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of twelve small articles built once with the hash embedder."""
    return build_index(tmp_path_factory.mktemp("telegram"))


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The fake Bot API server."""
    with FakeBotApi(TOKEN) as server:
        yield server
