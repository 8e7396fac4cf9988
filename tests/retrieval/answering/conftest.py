"""Fixtures of the LLM answerer's tests: a scripted model server on 127.0.0.1 and a Newsbot over
a tiny corpus (the conftest articles plus one that tries to instruct the model) with the fake
embedder, whose chat model is one of the scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot
from tests.conftest import ARTICLES
from tests.fakes.model_server import ModelServer
from tests.fakes.scripted_models import INJECTION, SCRIPTS

MakeBot = Callable[..., Newsbot]


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    """The scripted models, served over HTTP on 127.0.0.1 for the length of a test."""
    with ModelServer(dict(SCRIPTS)) as server:
        yield server


@pytest.fixture(scope="module")
def llm_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the small corpus, built once per module."""
    root = tmp_path_factory.mktemp("llm")
    corpus = root / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in [*ARTICLES, INJECTION]) + "\n", encoding="utf-8"
    )
    bot = Newsbot(Settings(home=root / "home"), embedder=HashEmbedder(), index_dir=root / "index")
    bot.index_paths([corpus], progress=False)
    bot.close()
    return root / "index"


@pytest.fixture
def make_bot(llm_index: Path, model_server: ModelServer, tmp_path: Path) -> Iterator[MakeBot]:
    """make_bot("openai:grounded", llm_timeout=...) -> a Newsbot answering with that model."""
    bots: list[Newsbot] = []

    def make(llm: str, **settings: object) -> Newsbot:
        values = {"home": tmp_path / "home", "llm": llm, "llm_base_url": model_server.openai_url, **settings}
        bot = Newsbot(Settings(**values), embedder=HashEmbedder(), index_dir=llm_index)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.close()
