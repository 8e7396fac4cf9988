"""Chat model backends for the LLM answerer, chosen by NEWSBOT_LLM = BACKEND:MODEL.

A registry keyed by backend name: `openai` (OpenAI and every OpenAI-compatible server: vLLM,
llama.cpp's server, LM Studio, Ollama's /v1) and `ollama` (Ollama's own API). Another backend is
one `register_backend` away. The LangChain integrations are the optional extra `newsbot[llm]`,
imported only when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.config import Settings
from retrieval.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

# What a user without the extra is told to run.
INSTALL_HINT = "pip install 'newsbot[llm]'"
# Sent when no key is configured: OpenAI-compatible local servers want some key, ignore its value.
NO_KEY = "no-key"


@dataclass(frozen=True)
class ChatModelSpec:
    """A configured chat model: backend and model name, as in `openai:gpt-4o-mini`."""

    backend: str
    model: str

    @classmethod
    def parse(cls, value: str) -> ChatModelSpec:
        """The spec of a NEWSBOT_LLM value (ConfigError when it names no known backend or model)."""
        backend, _, model = value.strip().partition(":")
        backend, model = backend.strip().lower(), model.strip()
        if backend not in BACKENDS or not model:
            known = ", ".join(f"{name}:MODEL" for name in sorted(BACKENDS))
            raise ConfigError(
                f"NEWSBOT_LLM is '{value}'; expected one of {known} (or empty for offline answers)"
            )
        return cls(backend, model)

    @property
    def name(self) -> str:
        """`backend:model`."""
        return f"{self.backend}:{self.model}"


@dataclass(frozen=True)
class ChatBackend:
    """How to build one backend's chat model, and the server it talks to by default."""

    build: Callable[[ChatModelSpec, Settings], BaseChatModel]
    default_url: str


BACKENDS: dict[str, ChatBackend] = {}


def register_backend(
    name: str, default_url: str
) -> Callable[[Callable[[ChatModelSpec, Settings], Any]], Callable[[ChatModelSpec, Settings], Any]]:
    """Register a builder of chat models under a backend name (a decorator)."""

    def add(build: Callable[[ChatModelSpec, Settings], Any]) -> Callable[[ChatModelSpec, Settings], Any]:
        BACKENDS[name] = ChatBackend(build, default_url)
        return build

    return add


def build_chat_model(spec: ChatModelSpec, settings: Settings) -> BaseChatModel:
    """The LangChain chat model for the spec (ConfigError when the extra is missing)."""
    return BACKENDS[spec.backend].build(spec, settings)


def check_llm(settings: Settings) -> None:
    """ConfigError unless NEWSBOT_LLM names a registered backend whose integration is installed
    (the model is built, which contacts no server)."""
    build_chat_model(ChatModelSpec.parse(settings.llm), settings)


def server_url(spec: ChatModelSpec, settings: Settings) -> str:
    """The server the model is reached at, fit to show: without user, password or query."""
    return public_url(settings.llm_base_url or BACKENDS[spec.backend].default_url)


def public_url(url: str) -> str:
    """A URL without its user info, query and fragment (where keys sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")) or url.split("?", 1)[0]


def _require(module: str, package: str) -> ModuleType:
    """Import an optional integration, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"NEWSBOT_LLM needs the optional package {package}, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        ) from exc


@register_backend("openai", "https://api.openai.com/v1")
def _openai(spec: ChatModelSpec, settings: Settings) -> BaseChatModel:
    """ChatOpenAI on NEWSBOT_LLM_BASE_URL (OpenAI itself when empty); no retries, so a failure
    comes within the timeout."""
    from pydantic import SecretStr

    openai = _require("langchain_openai", "langchain-openai")
    return openai.ChatOpenAI(
        model=spec.model,
        base_url=settings.llm_base_url or None,
        api_key=settings.llm_api_key or SecretStr(NO_KEY),
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=0,
    )


@register_backend("ollama", "http://localhost:11434")
def _ollama(spec: ChatModelSpec, settings: Settings) -> BaseChatModel:
    """ChatOllama on NEWSBOT_LLM_BASE_URL (a local Ollama when empty)."""
    ollama = _require("langchain_ollama", "langchain-ollama")
    return ollama.ChatOllama(
        model=spec.model,
        base_url=settings.llm_base_url or None,
        client_kwargs={"timeout": settings.llm_timeout},
        temperature=0,
    )
