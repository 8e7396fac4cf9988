"""Calling a chat model within a deadline: its reply as it streams, or one short reason why not."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("newsbot")


class ModelFailure(Exception):
    """The chat model gave no usable reply; `reason` says why in a few words (never a key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reply_pieces(chain: Any, inputs: dict[str, Any], timeout: float, *, stream: bool) -> Iterator[str]:
    """The reply of a LangChain runnable in pieces as they arrive (one piece when not
    streaming). The call runs in a worker thread; ModelFailure when it fails or when the whole
    reply takes longer than `timeout` seconds, so the caller never waits past it."""
    pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(target=_work, args=(chain, inputs, stream, pieces, stop), daemon=True)
    worker.name = "newsbot-llm"
    worker.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise ModelFailure(f"no complete reply within {timeout:g} s") from None
            if kind == "done":
                return
            if kind == "error":
                reason = failure_reason(value, timeout)
                log.info("chat model failed: %s (%s)", reason, type(value).__name__)
                raise ModelFailure(reason) from None
            yield value
    finally:
        stop.set()


def _work(
    chain: Any, inputs: dict[str, Any], stream: bool, pieces: queue.Queue, stop: threading.Event
) -> None:
    """Run the chain, putting ("piece", text), then ("done", None) or ("error", exception)."""
    try:
        if stream:
            replies = chain.stream(inputs)
            try:
                for piece in replies:
                    if stop.is_set():
                        return  # the caller gave up
                    pieces.put(("piece", piece))
            finally:
                replies.close()  # ends the HTTP request
        else:
            pieces.put(("piece", chain.invoke(inputs)))
        pieces.put(("done", None))
    except Exception as exc:  # every failure of the model becomes a reason for the caller
        pieces.put(("error", exc))


def failure_reason(exc: BaseException, timeout: float) -> str:
    """Why the call failed, from the exception and its causes: an HTTP status, a timeout, a
    refused or failed connection, or an unusable reply. Built from types and status codes only,
    never from the message, which could echo a request's headers."""
    chain = _causes(exc)
    for e in chain:
        status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 400:
            return f"HTTP {status}" + (" (rate limited)" if status == 429 else "")
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in chain):
        return f"no complete reply within {timeout:g} s"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, ConnectionError) or "Connect" in type(e).__name__ for e in chain):
        return "could not connect"
    return f"unusable reply ({type(exc).__name__})"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found
