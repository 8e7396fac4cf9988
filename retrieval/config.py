"""Settings, read once from NEWSBOT_ environment variables (CLI flags override)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_home() -> Path:
    """The per-user data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("newsbot", appauthor=False))


class Settings(BaseSettings):
    """Everything configurable; env vars are NEWSBOT_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="NEWSBOT_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Data folder for the index.")
    seeds: Path = Field(default=REPO_ROOT / "seeds", description="Articles indexed on first use.")
    embedder: str = Field(default="use-multilingual-v3", description="Embedder name.")
    answerer: str = Field(default="extractive", description="Answerer name.")
    chunk_sentences: int = Field(default=3, ge=1, le=20)
    chunk_overlap: int = Field(default=1, ge=0, le=19)
    top_k: int = Field(default=5, ge=1, le=50, description="Chunks handed to the answerer.")
    max_question_chars: int = Field(default=2000, ge=10)
    max_article_bytes: int = Field(
        default=2_000_000, ge=1000, description="Bytes above which an article (file, JSONL line) is skipped."
    )
    threads: int = Field(default=0, ge=0, description="Compute threads; 0 means all cores.")
    index_batch_chars: int = Field(
        default=250_000, ge=1, description="Article characters embedded and committed per batch."
    )
    lock_timeout: float = Field(default=600.0, ge=0, description="Seconds a writer waits for another.")
    as_of: str = Field(
        default="",
        description="The day 'last week', 'gestern' … in questions are resolved against (an ISO date); "
        "empty: the newest article's date.",
    )
    exact_max_vectors: int = Field(
        default=200_000, ge=1, description="Above this many vectors, search an approximate index."
    )
    store: Literal["local", "milvus"] = Field(
        default="local",
        description="Where vectors are searched: local (SQLite + FAISS) or milvus (the record store stays "
        "local SQLite; the vectors live in Milvus).",
    )
    milvus_uri: str = Field(
        default="",
        description="A milvus-lite file (a path ending in .db) or a Milvus server (http(s)://host:19530); "
        "empty: milvus.db in the index folder.",
    )
    milvus_token: SecretStr | None = Field(
        default=None, description="Milvus token or user:password; never logged."
    )
    milvus_collection: str = Field(
        default="newsbot", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="Collection name prefix."
    )
    milvus_bm25: bool = Field(
        default=True,
        description="With the milvus store, search chunk terms with Milvus' own BM25 (collection "
        "PREFIX_terms; the same ranking and scores as the local BM25); false: the local lexical index.",
    )
    milvus_temporary: bool = Field(default=False, exclude=True, description="Internal: drop on close.")
    milvus_index: Literal["FLAT", "HNSW", "IVF_FLAT"] = Field(
        default="FLAT",
        description="Vector index of the Milvus collections: FLAT (exact), HNSW or IVF_FLAT (approximate); "
        "recorded when they are created, checked on every start.",
    )
    milvus_hnsw_m: int = Field(default=16, ge=2, le=2048, description="HNSW: links per node (build).")
    milvus_hnsw_ef_construction: int = Field(default=200, ge=1, description="HNSW: candidates when building.")
    milvus_hnsw_ef: int = Field(default=128, ge=1, description="HNSW: candidates per search (at least k).")
    milvus_ivf_nlist: int = Field(default=256, ge=1, le=65536, description="IVF_FLAT: clusters (build).")
    milvus_ivf_nprobe: int = Field(default=32, ge=1, le=65536, description="IVF_FLAT: clusters searched.")
    milvus_shards: int = Field(
        default=1, ge=1, le=16, description="Shards of a new Milvus collection (fixed at creation)."
    )
    milvus_replicas: int = Field(
        default=1, ge=1, description="In-memory replicas at load (a cluster's query nodes; lite: ignored)."
    )
    milvus_retries: int = Field(
        default=3, ge=0, le=20, description="Retries of a Milvus call while the connection is down."
    )
    milvus_retry_seconds: float = Field(
        default=0.5, ge=0, le=60, description="Seconds before the first Milvus retry (doubling, at most 4 s)."
    )
    milvus_timeout: float = Field(
        default=30.0, ge=0, description="Seconds a Milvus search, query or write may take; 0: no limit."
    )
    fetch_timeout: float = Field(default=15.0, gt=0, description="Seconds a web request may be silent.")
    fetch_max_bytes: int = Field(
        default=10_000_000, ge=1000, description="Bytes of a fetched page or feed beyond which it is cut off."
    )
    fetch_concurrency: int = Field(default=4, ge=1, le=32, description="URLs fetched at a time.")
    fetch_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429, 5xx and network errors.")
    fetch_backoff: float = Field(default=1.0, ge=0, description="Seconds before the first retry (doubling).")
    fetch_max_wait: float = Field(default=60.0, ge=0, description="Longest Retry-After waited for, seconds.")
    fetch_max_redirects: int = Field(default=5, ge=0, le=30)
    fetch_user_agent: str = Field(default="", description="User-Agent; empty: newsbot's own.")
    fetch_robots: bool = Field(
        default=True, description="Obey robots.txt (false: ignore it, for one's own sites)."
    )
    fetch_host_delay: float = Field(
        default=1.0, ge=0, le=600, description="Least seconds between two requests to one host."
    )
    fetch_max_crawl_delay: float = Field(
        default=30.0, ge=0, le=3600, description="Longest robots.txt Crawl-delay obeyed, seconds."
    )
    fetch_allow_private: bool = Field(
        default=False,
        description="Fetch from loopback, private and link-local addresses (false: such URLs and redirects "
        "to them are refused).",
    )

    llm: str = Field(
        default="",
        description="Chat model answering from the evidence: empty for the offline extractive answerer, "
        "openai:MODEL (OpenAI or any OpenAI-compatible server) or ollama:MODEL.",
    )
    llm_base_url: str = Field(
        default="", description="The model server's URL; empty: the backend's own (OpenAI, local Ollama)."
    )
    llm_api_key: SecretStr | None = Field(default=None, description="API key for openai:MODEL; never logged.")
    llm_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds the model may take to answer (or to stay silent)."
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_allowed: str = Field(default="", description="Comma-separated user and chat ids.")
    telegram_rate_limit: int = Field(default=10, ge=1, description="Questions per user a minute.")
    repl_history_turns: int = Field(
        default=6, ge=0, description="Earlier turns of the REPL's conversation handed to the answerer."
    )
    telegram_history_minutes: float = Field(
        default=30.0, gt=0, description="Minutes a chat's conversation is kept after its last question."
    )
    telegram_history_turns: int = Field(
        default=6, ge=0, description="Earlier turns of a chat's conversation handed to the answerer."
    )
    telegram_history_chats: int = Field(
        default=10_000, ge=1, description="Conversations kept at most; the least recently used go first."
    )
    telegram_edit_seconds: float = Field(
        default=1.5, ge=0, description="Least seconds between two edits of a streaming answer's message."
    )

    @field_validator("as_of")
    @classmethod
    def _as_of_is_a_date(cls, value: str) -> str:
        """--as-of and NEWSBOT_AS_OF as an ISO date ("18.09.2015" -> "2015-09-18")."""
        from retrieval.readers.dates import iso_date

        return iso_date(value, allow_future=True)

    @model_validator(mode="after")
    def _llm_names_the_answerer(self) -> Settings:
        """With NEWSBOT_LLM set, the answerer is `llm:BACKEND:MODEL` (as answers and eval name it)."""
        self.llm = self.llm.strip()
        if self.llm and self.answerer == "extractive":
            self.answerer = f"llm:{self.llm}"
        return self

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_uri_is_a_file_or_server(cls, value: str) -> str:
        """A server URL or a milvus-lite file ending in .db (pymilvus runs milvus-lite only for those)."""
        value = value.strip()
        if value and not value.startswith(("http://", "https://")) and not value.endswith(".db"):
            raise ValueError("must be http(s)://host:port or a milvus-lite file path ending in .db")
        return value

    def milvus_target(self, index_dir: Path):  # -> retrieval.store.milvus.MilvusTarget | None
        """Where the Milvus collections live (None with the local store)."""
        if self.store != "milvus":
            return None
        from retrieval.store.milvus import MilvusTarget

        token = self.milvus_token.get_secret_value() if self.milvus_token else ""
        uri = self.milvus_uri or str(index_dir / "milvus.db")
        return MilvusTarget(
            uri=uri,
            token=token,
            prefix=self.milvus_collection,
            temporary=self.milvus_temporary,
            bm25=self.milvus_bm25,
            index=self.milvus_index_choice(),
            retry=self.milvus_retry_policy(),
        )

    def milvus_index_choice(self):  # -> retrieval.store.milvus_index.MilvusIndex
        """The Milvus index type, its parameters, shards and replicas (NEWSBOT_MILVUS_INDEX ...)."""
        from retrieval.store.milvus_index import MilvusIndex

        return MilvusIndex(
            index_type=self.milvus_index,
            hnsw_m=self.milvus_hnsw_m,
            hnsw_ef_construction=self.milvus_hnsw_ef_construction,
            hnsw_ef=self.milvus_hnsw_ef,
            ivf_nlist=self.milvus_ivf_nlist,
            ivf_nprobe=self.milvus_ivf_nprobe,
            shards=self.milvus_shards,
            replicas=self.milvus_replicas,
        )

    def milvus_retry_policy(self):  # -> retrieval.store.milvus_conn.RetryPolicy
        """How a dropped Milvus connection is waited out (NEWSBOT_MILVUS_RETRIES ...)."""
        from retrieval.store.milvus_conn import RetryPolicy

        return RetryPolicy(
            retries=self.milvus_retries, backoff=self.milvus_retry_seconds, timeout=self.milvus_timeout
        )

    def for_evaluation(self) -> Settings:
        """These settings for a throwaway index: milvus-lite in the index folder (removed with it), or
        on a server a collection prefix of its own that is dropped when the index is closed."""
        if self.store != "milvus":
            return self
        if not self.milvus_uri.startswith(("http://", "https://")):
            return self.model_copy(update={"milvus_uri": ""})
        import uuid

        prefix = f"{self.milvus_collection}_eval_{uuid.uuid4().hex[:8]}"
        return self.model_copy(update={"milvus_collection": prefix, "milvus_temporary": True})

    def fetch_options(self):  # -> retrieval.readers.fetch.FetchOptions
        """The bounds of web requests (NEWSBOT_FETCH_*)."""
        from retrieval.readers.fetch import USER_AGENT, FetchOptions

        return FetchOptions(
            timeout=self.fetch_timeout,
            max_bytes=self.fetch_max_bytes,
            concurrency=self.fetch_concurrency,
            retries=self.fetch_retries,
            backoff=self.fetch_backoff,
            max_wait=self.fetch_max_wait,
            max_redirects=self.fetch_max_redirects,
            user_agent=self.fetch_user_agent or USER_AGENT,
            robots=self.fetch_robots,
            host_delay=self.fetch_host_delay,
            max_crawl_delay=self.fetch_max_crawl_delay,
            allow_private=self.fetch_allow_private,
        )

    @property
    def index_dir(self) -> Path:
        """Where the index files live."""
        return self.home / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once."""
    return Settings()
