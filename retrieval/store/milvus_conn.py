"""The connection to Milvus: a short, bounded retry on a dropped connection, then one clear error.

pymilvus tries to reconnect once when gRPC reports UNAVAILABLE; while the link is down (or gRPC is
still backing off after it came back) every call fails at once. `RetryingClient` wraps the
`MilvusClient` and retries the remote calls that fail that way `retries` times, waiting `backoff`
seconds, then twice as long each time (at most `max_wait`), so a blip of a second or two does not
fail a bot's answer. After the last try it raises `MilvusConnectionLost`, which `_guarded` in
milvus.py turns into the message the user sees: the URI (never the token, nor a password in it),
what newsbot was doing, and that nothing committed is lost (re-running resumes from the record store).

The data newsbot writes goes by idempotent upserts and deletes keyed by the record store's ids, so
retrying one is safe (it never inserts); creating a collection or index again after a lost reply
fails as "already exists", and re-running the command goes on. Other failures (a refused request,
a wrong schema) are not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import NewsbotError

log = logging.getLogger(__name__)

# The MilvusClient calls that reach the server (retried); anything else passes straight through.
REMOTE_CALLS = frozenset(
    {
        "create_collection",
        "create_index",
        "delete",
        "describe_collection",
        "drop_collection",
        "get_server_version",
        "flush",
        "has_collection",
        "load_collection",
        "query",
        "query_iterator",
        "search",
        "upsert",
    }
)
# Calls given the per-call deadline (loading, indexing and flushing may rightly take long).
TIMED_CALLS = frozenset(
    {"delete", "describe_collection", "get_server_version", "has_collection", "query", "search", "upsert"}
)
_CONNECT_FAILED = 2  # pymilvus' ErrorCode for "Fail connecting to server"
_CHAIN = 8  # causes looked at when classifying an error (chains can loop)


class MilvusUnavailableError(NewsbotError):
    """Milvus could not be reached or refused a request."""


class MilvusConnectionLost(MilvusUnavailableError):
    """The server stayed unreachable through every retry."""

    def __init__(self, uri: str, call: str, tries: int, waited: float, reason: str) -> None:
        self.uri, self.call, self.tries, self.waited = safe_uri(uri), call, tries, waited
        self.reason = reason
        super().__init__(self.during(f"calling {call}"))

    def during(self, what: str) -> str:
        """The user's message, naming what newsbot was doing."""
        return (
            f"Milvus at {self.uri} became unreachable while {what} ({self.reason}; tried {self.tries} "
            f"times over {self.waited:.1f} s). Nothing committed is lost: the articles are in the local "
            "record store, and running the command again once Milvus is back resumes where it stopped"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How long a dropped connection is waited out (NEWSBOT_MILVUS_RETRIES, _RETRY_SECONDS, _TIMEOUT)."""

    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 4.0
    timeout: float = 30.0  # seconds per search, query or write; 0: none

    def waits(self) -> list[float]:
        """The pauses before each retry."""
        cap = max(self.max_wait, self.backoff)  # a longer first wait asked for is kept
        return [min(self.backoff * 2**i, cap) for i in range(self.retries)]


def safe_uri(uri: str) -> str:
    """The URI without a user or password in it (shown in messages and logs)."""
    parts = urlsplit(uri)
    if not parts.netloc or "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def is_transient(exc: BaseException) -> bool:
    """Whether an error means the connection dropped (gRPC UNAVAILABLE, pymilvus' connect failure)."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN):
        if seen is None:
            return False
        if _unavailable(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _unavailable(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    if type(exc).__module__.startswith("grpc") and callable(code):
        try:
            return getattr(code(), "name", "") == "UNAVAILABLE"
        except Exception:  # an RpcError without a status
            return False
    if type(exc).__module__.startswith("pymilvus"):
        return code == _CONNECT_FAILED or "server unavailable" in str(exc).lower()
    return False


def retrying(
    call: Callable[[], Any], *, name: str, uri: str, policy: RetryPolicy, sleep: Callable[[float], None]
) -> Any:
    """Run `call`, retrying it while the connection is down; MilvusConnectionLost after the last try."""
    waited = 0.0
    for pause in [*policy.waits(), None]:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if pause is None:
                reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:200]
                raise MilvusConnectionLost(safe_uri(uri), name, policy.retries + 1, waited, reason) from exc
            log.info("Milvus at %s unreachable during %s; retrying in %.1f s", safe_uri(uri), name, pause)
            sleep(pause)
            waited += pause
    raise AssertionError("unreachable")


class RetryingClient:
    """A pymilvus MilvusClient whose remote calls wait out a dropped connection (see module doc)."""

    def __init__(
        self, client: Any, uri: str, policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client, self._uri, self._policy, self._sleep = client, uri, policy, sleep

    @property
    def raw(self) -> Any:
        """The wrapped MilvusClient."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in REMOTE_CALLS or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in TIMED_CALLS and self._policy.timeout and "timeout" not in kwargs:
                kwargs["timeout"] = self._policy.timeout
            return retrying(
                lambda: attr(*args, **kwargs),
                name=name,
                uri=self._uri,
                policy=self._policy,
                sleep=self._sleep,
            )

        return call


def connect(pymilvus: Any, uri: str, token: str, policy: RetryPolicy) -> RetryingClient:
    """A MilvusClient for `uri` (connecting is retried like any call)."""
    client = retrying(
        lambda: pymilvus.MilvusClient(uri=uri, token=token or "", timeout=policy.timeout or None),
        name="connect",
        uri=uri,
        policy=policy,
        sleep=time.sleep,
    )
    return RetryingClient(client, uri, policy)
