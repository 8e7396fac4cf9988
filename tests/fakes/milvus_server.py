"""milvus-lite as a server over TCP on 127.0.0.1 (`python -m milvus_lite server`), in a subprocess.

pymilvus talks to it with `http://127.0.0.1:PORT` exactly as to a Milvus standalone, so tests run the
server code path (http URI, token, several processes on one server, a connection that drops) without
Docker. Waiting for it is a bounded loop; `stop()` kills it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

START_SECONDS = 90.0  # importing milvus-lite on a busy 2-core machine takes a few seconds
_POLL = 0.1


class MilvusLiteServer:
    """One milvus-lite server process over `data_dir`."""

    def __init__(self, data_dir: Path, log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.log = log or data_dir.with_suffix(".log")
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """What a Milvus client connects to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MilvusLiteServer:
        """Start the server (on the same port as before after a `stop()`) and wait until it listens."""
        for _attempt in range(3):  # a free port may be taken between choosing and binding it
            self.port = self.port or _free_port()
            if self._launch():
                return self
            self.port = 0
        raise RuntimeError(f"milvus-lite did not start; see {self.log}")

    def stop(self) -> None:
        """Kill the server (its data stay in `data_dir`)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=30)

    def _launch(self) -> bool:
        """Run the server and wait (bounded) until it accepts connections; whether it does."""
        command = [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(_POLL)
        self.stop()
        return False


def _free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
