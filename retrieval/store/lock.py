"""One writer at a time: an advisory lock on a file in the index folder.

The operating system releases the lock when its holder dies, so a lock left by a killed process
is simply taken over; the file's content only says who holds it, for the waiting writer's message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from retrieval.errors import IndexBusyError

_THREAD = threading.local()  # lock files this thread holds (re-entrant per thread)


def _held() -> set[Path]:
    """The lock files the current thread holds."""
    if not hasattr(_THREAD, "held"):
        _THREAD.held = set()
    return _THREAD.held


def lock_path(index_dir: Path) -> Path:
    """The lock file guarding an index folder: beside it, since `--rebuild` swaps whole folders."""
    return index_dir.parent / f"{index_dir.name}.lock"


def _holder(path: Path) -> str:
    """Who holds the lock, as its file says."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"process {info['pid']} on {info['host']} ({info['command']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def write_lock(
    path: Path, *, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the write lock (the file at `path`) for the block; wait up to `timeout` seconds for it.
    Re-entrant within a thread; other threads and processes wait."""
    key = path.resolve()
    if key in _held():
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        _acquire(handle, path, timeout, on_wait)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "command": " ".join(os.path.basename(a) for a in sys.argv[:2]) or "python",
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        )
        handle.flush()
        _held().add(key)
        yield
    finally:
        _held().discard(key)
        handle.close()  # closing releases the lock


def _acquire(handle, path: Path, timeout: float, on_wait: Callable[[str], None] | None) -> None:
    """Take the lock, telling `on_wait` once who holds it while waiting."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(path)
            if time.monotonic() >= deadline:
                raise IndexBusyError(
                    f"{path}: another newsbot is writing to this index: {holder}; "
                    "try again when it has finished"
                ) from None
            if not told and on_wait is not None:
                on_wait(f"waiting for the index: {holder} is writing to it")
                told = True
            time.sleep(0.2)
