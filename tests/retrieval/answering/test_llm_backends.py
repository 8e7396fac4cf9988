"""Chat model backends: the NEWSBOT_LLM spec, the registry, the optional extra, server URLs shown
without secrets, the answerer the pipeline picks, and Ollama over its own API."""

from __future__ import annotations

import sys

import pytest
from pydantic import SecretStr

from retrieval.answering.chat_models import (
    BACKENDS,
    INSTALL_HINT,
    ChatModelSpec,
    build_chat_model,
    public_url,
    register_backend,
    server_url,
)
from retrieval.answering.extractive import ExtractiveAnswerer
from retrieval.answering.llm import LLMAnswerer
from retrieval.answering.llm_calls import failure_reason
from retrieval.config import Settings
from retrieval.errors import ConfigError
from tests.fakes.model_server import ModelServer

from .conftest import MakeBot


def test_spec_names_a_registered_backend_and_a_model() -> None:
    assert ChatModelSpec.parse("openai:gpt-4o-mini") == ChatModelSpec("openai", "gpt-4o-mini")
    assert ChatModelSpec.parse(" Ollama:llama3.2:3b ").name == "ollama:llama3.2:3b"
    for bad in ("gpt-4o", "openai:", "anthropic:claude"):
        with pytest.raises(ConfigError, match=r"expected one of ollama:MODEL, openai:MODEL"):
            ChatModelSpec.parse(bad)


def test_a_backend_registered_by_a_plugin_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("retrieval.answering.chat_models.BACKENDS", dict(BACKENDS))
    built: list[str] = []
    register_backend("canned", "http://canned.invalid")(lambda spec, settings: built.append(spec.model))
    spec = ChatModelSpec.parse("canned:m1")
    build_chat_model(spec, Settings())
    assert built == ["m1"] and server_url(spec, Settings()) == "http://canned.invalid"


def test_the_built_models_use_the_settings() -> None:
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_api_key=SecretStr("k-1"), llm_timeout=7)
    openai = build_chat_model(ChatModelSpec("openai", "m"), settings)
    assert openai.model_name == "m" and openai.openai_api_base == "http://127.0.0.1:9/v1"
    assert openai.request_timeout == 7 and openai.max_retries == 0
    assert openai.openai_api_key.get_secret_value() == "k-1" and "k-1" not in repr(openai)
    ollama = build_chat_model(ChatModelSpec("ollama", "m"), Settings(llm_timeout=7))
    assert ollama.model == "m" and ollama.client_kwargs == {"timeout": 7}
    assert server_url(ChatModelSpec("ollama", "m"), Settings()) == "http://localhost:11434"
    assert server_url(ChatModelSpec("openai", "m"), Settings()) == "https://api.openai.com/v1"


def test_a_missing_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_openai", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="langchain-openai") as error:
        build_chat_model(ChatModelSpec("openai", "m"), Settings())
    assert INSTALL_HINT in str(error.value) and INSTALL_HINT == "pip install 'newsbot[llm]'"


def test_server_urls_are_shown_without_secrets() -> None:
    assert (
        public_url("https://user:sk-1@llm.example.org:8443/v1?key=sk-2#x")
        == "https://llm.example.org:8443/v1"
    )
    settings = Settings(llm_base_url="http://u:p@127.0.0.1:8080/v1?api_key=s")
    assert server_url(ChatModelSpec("openai", "m"), settings) == "http://127.0.0.1:8080/v1"


def test_failure_reasons_come_from_types_and_status_codes_only() -> None:
    class Status(Exception):
        status_code = 429

    assert failure_reason(Status("key sk-1 refused"), 5) == "HTTP 429 (rate limited)"
    try:
        try:
            raise ConnectionRefusedError("sk-1")
        except ConnectionRefusedError as inner:
            raise RuntimeError("wrapped sk-1") from inner
    except RuntimeError as outer:
        assert failure_reason(outer, 5) == "connection refused"
    assert failure_reason(ConnectionError("sk-1"), 5) == "could not connect"
    assert failure_reason(TimeoutError(), 2.5) == "no complete reply within 2.5 s"
    assert failure_reason(ValueError("sk-1"), 5) == "unusable reply (ValueError)"


def test_the_pipeline_picks_the_answerer_newsbot_llm_names(make_bot: MakeBot) -> None:
    assert isinstance(make_bot("").answerer, ExtractiveAnswerer)
    llm = make_bot("ollama:grounded").answerer
    assert isinstance(llm, LLMAnswerer) and llm.name == "llm:ollama:grounded"
    with pytest.raises(ConfigError, match="NEWSBOT_LLM is 'gpt'"):
        make_bot("gpt").answerer  # noqa: B018


def test_ollama_answers_over_its_own_api(make_bot: MakeBot, model_server: ModelServer) -> None:
    bot = make_bot("ollama:grounded", llm_base_url=model_server.root)
    drafts: list[str] = []
    answer = bot.answer("Wie viele Feuerwehrleute waren in Graz im Einsatz?", on_draft=drafts.append)
    assert model_server.requests[-1].path == "/api/chat"
    assert answer.answerer == "llm:ollama:grounded" and answer.note is None
    assert [c.quote for c in answer.citations] == ["Mehr als 300 Feuerwehrleute waren im Einsatz."]
    assert "[1]" in answer.text


def test_ollama_failures_give_the_offline_answer(make_bot: MakeBot, model_server: ModelServer) -> None:
    answer = make_bot("ollama:broken", llm_base_url=model_server.root).answer(
        "Wie viele Feuerwehrleute waren in Graz im Einsatz?"
    )
    assert answer.answerer == "extractive" and "(HTTP 500)" in (answer.note or "")
    assert model_server.root in (answer.note or "")
