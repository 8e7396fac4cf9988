"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to drop a client's connection mid-run.

`cut()` closes every open connection and, until `restore()`, accepts new ones only to close them at
once (the client sees the server vanish, as when a network link or a server dies). `cut_after(n)`
cuts once `n` more bytes went from the clients to the server, to drop a connection in the middle of
a long write. Threads only block on sockets; every loop ends when its socket is closed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

_BUFFER = 65_536


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream_host`:`upstream_port`."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.bytes_up = 0
        self.cuts = 0
        self.on_cut: Callable[[], None] | None = None
        self._down = False
        self._cut_at: int | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        """What a Milvus client connects to."""
        return f"http://127.0.0.1:{self.port}"

    # ---------- control ----------
    def cut(self) -> None:
        """Drop every connection and refuse new ones until `restore()`."""
        with self._lock:
            self._down = True
            self._cut_at = None
            self.cuts += 1
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _close(sock)
        if self.on_cut is not None:
            self.on_cut()

    def cut_after(self, more_bytes: int) -> None:
        """Cut once `more_bytes` more bytes went upstream."""
        with self._lock:
            self._cut_at = self.bytes_up + more_bytes

    def restore(self) -> None:
        """Forward again."""
        with self._lock:
            self._down = False

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._closed = True
        self.cut()
        with _quiet():
            self._listener.shutdown(socket.SHUT_RDWR)
        _close(self._listener)
        self._thread.join(timeout=5)

    # ---------- forwarding ----------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down or self._closed:
                _close(client)
                continue
            try:
                server = socket.create_connection((self.upstream_host, self.upstream_port), timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                if self._down or self._closed:  # cut while connecting upstream
                    _close(client)
                    _close(server)
                    continue
                self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        """Copy bytes one way until either side closes (or the proxy is cut)."""
        while True:
            try:
                data = source.recv(_BUFFER)
                if not data:
                    break
                if upstream and self._count(len(data)):
                    self.cut()
                    break
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with self._lock:
                self._open.discard(sock)
            _close(sock)

    def _count(self, n: int) -> bool:
        """Count bytes going upstream; whether the armed cut is reached."""
        with self._lock:
            self.bytes_up += n
            return self._cut_at is not None and self.bytes_up >= self._cut_at


class _quiet:
    """Ignore OSError (a socket already closed)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


def _close(sock: socket.socket) -> None:
    with _quiet():
        sock.shutdown(socket.SHUT_RDWR)
    with _quiet():
        sock.close()
