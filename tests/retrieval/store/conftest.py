"""A Milvus server over TCP for the store tests: NEWSBOT_MILVUS_TEST_URI when set (a real server),
else milvus-lite serving on 127.0.0.1 in a subprocess, started once per session and killed after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class MilvusServer:
    """Where a test's Milvus server listens; each test uses collections of its own (`prefix`)."""

    host: str
    port: int
    token: str = ""
    real: bool = False  # NEWSBOT_MILVUS_TEST_URI, not milvus-lite
    scheme: str = "http"

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @staticmethod
    def prefix() -> str:
        """A collection prefix no other test uses."""
        return f"newsbot_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """A Milvus server reachable over TCP (see module doc)."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    real = os.environ.get("NEWSBOT_MILVUS_TEST_URI", "")
    if real:
        parts = urlsplit(real)
        yield MilvusServer(
            parts.hostname or "127.0.0.1",
            parts.port or 19530,
            os.environ.get("NEWSBOT_MILVUS_TEST_TOKEN", ""),
            real=True,
            scheme=parts.scheme or "http",
        )
        return
    from tests.fakes.milvus_server import MilvusLiteServer

    server = MilvusLiteServer(tmp_path_factory.mktemp("milvus") / "data").start()
    try:
        yield MilvusServer("127.0.0.1", server.port, token="root:Milvus")
    finally:
        server.stop()
