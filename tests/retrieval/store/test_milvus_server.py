"""Milvus over TCP (milvus-lite serving on 127.0.0.1, or NEWSBOT_MILVUS_TEST_URI): the server code
path with a token and several processes, and a connection dropped mid-run through a TCP proxy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from bot.cli import main
from retrieval.pipeline import Newsbot
from retrieval.store import milvus_records
from retrieval.store.milvus import MilvusVectors
from retrieval.store.milvus_conn import RetryPolicy
from retrieval.store.records import RecordStore
from tests.conftest import ARTICLES
from tests.fakes.tcp_proxy import TcpProxy
from tests.retrieval.store.conftest import MilvusServer
from tests.retrieval.store.test_milvus import QUESTIONS, make_bot, outcome, ranked, searches, write_corpus

pytestmark = pytest.mark.slow

TOPICS = [
    ("Hafen", "Hamburg", "Containerschiffe", "Kräne"),
    ("Weinlese", "Wachau", "Winzer", "Trauben"),
    ("Lawine", "Tirol", "Bergretter", "Hubschrauber"),
    ("Marathon", "Berlin", "Läuferinnen", "Zielgerade"),
    ("Zugausfall", "Salzburg", "Pendler", "Weichenstörung"),
    ("Museum", "Linz", "Besucher", "Ausstellung"),
]


def many_articles(n: int = 24) -> list[dict]:
    """The two test articles and `n` more on varied topics (several index batches)."""
    out = list(ARTICLES)
    for i in range(n):
        topic, place, who, what = TOPICS[i % len(TOPICS)]
        text = (
            f"{topic} in {place}: am {i + 1}. Mai meldeten {who} neue Zahlen. "
            f"Insgesamt wurden {100 + 7 * i} {what} gezählt. "
            f"Der Bericht Nummer {i} nennt {place} als Schwerpunkt. "
            f"Die {who} erwarten bis Juni {i % 5 + 2} weitere Termine."
        )
        out.append(
            {
                "id": f"a-{i}",
                "title": f"{topic} {place} {i}",
                "date": "2020-05-01",
                "lang": "de",
                "text": text,
            }
        )
    return out


def best(bot: Newsbot, k: int = 20) -> list[tuple]:
    """The chunk and sentence hits of each question, grouped by score, the last group (which k may cut
    among ties) left out."""
    found = []
    for question in QUESTIONS:
        vector = bot.embedder.embed([question])[0]
        found.append(
            (
                ranked(bot.index.search_chunks(vector, k))[:-1],
                ranked(bot.index.search_sentences(vector, k))[:-1],
            )
        )
    return found


def server_settings(uri: str, server: MilvusServer, prefix: str) -> dict[str, object]:
    """Settings of a Newsbot on the server."""
    return {"milvus_uri": uri, "milvus_token": server.token or None, "milvus_collection": prefix}


@pytest.fixture
def prefix(milvus_server: MilvusServer) -> Iterator[str]:
    """A collection prefix of this test's own, dropped afterwards."""
    from retrieval.store.milvus import MilvusTarget, drop_collections

    name = MilvusServer.prefix()
    yield name
    drop_collections(MilvusTarget(milvus_server.uri, token=milvus_server.token, prefix=name))


@pytest.fixture
def proxy(milvus_server: MilvusServer) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the server, which the test can cut (plain http: TLS would not trust it)."""
    if milvus_server.scheme != "http":
        pytest.skip("the proxy tests need a server over plain http")
    p = TcpProxy(milvus_server.port, milvus_server.host)
    yield p
    p.close()


def cli_env(monkeypatch: pytest.MonkeyPatch, uri: str, server: MilvusServer, prefix: str) -> None:
    """The NEWSBOT_ variables of a CLI on the server, small batches, a short retry."""
    env = {
        "NEWSBOT_STORE": "milvus",
        "NEWSBOT_MILVUS_URI": uri,
        "NEWSBOT_MILVUS_COLLECTION": prefix,
        "NEWSBOT_EMBEDDER": "demo-hash",
        "NEWSBOT_INDEX_BATCH_CHARS": "1500",
        "NEWSBOT_MILVUS_RETRIES": "2",
        "NEWSBOT_MILVUS_RETRY_SECONDS": "0.05",
    }
    if server.token:
        env["NEWSBOT_MILVUS_TOKEN"] = server.token
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_a_server_answers_like_the_local_store_and_serves_two_processes(
    tmp_path: Path, milvus_server: MilvusServer, prefix: str
) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    local = make_bot(tmp_path, "local")
    # shards and replicas go to the server (milvus-lite accepts and ignores them; a standalone
    # server has one query node, so the real-server run keeps one replica)
    scale = {"milvus_shards": 2, "milvus_replicas": 1 if milvus_server.real else 2}
    remote = make_bot(
        tmp_path, "milvus", **server_settings(milvus_server.uri, milvus_server, prefix), **scale
    )
    for bot in (local, remote):
        bot.index_paths([corpus], progress=False)
    assert isinstance(remote.index.vectors["chunk"], MilvusVectors)
    assert remote.index.milvus is not None and remote.index.milvus.get_meta()["shards"] == "2"
    assert not (tmp_path / "milvus" / "index" / "milvus.db").exists()
    assert outcome(remote) == outcome(local)
    assert searches(remote) == searches(local)

    # a second process answers from the same collections while this one keeps them open
    script = (
        "import sys; from pathlib import Path; "
        "from tests.retrieval.store.test_milvus import make_bot, searches; "
        "bot = make_bot(Path(sys.argv[1]), 'milvus', milvus_uri=sys.argv[2], milvus_collection=sys.argv[3], "
        "milvus_token=sys.argv[4] or None); print(repr(searches(bot))); bot.close()"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    args = [str(tmp_path), milvus_server.uri, prefix, milvus_server.token]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr(searches(local))

    for bot in (local, remote):
        assert bot.remove(["wien-1"]) == ["wien-1"]
    assert outcome(remote) == outcome(local)
    assert remote.check() == []
    for bot in (local, remote):
        bot.close()


def test_a_connection_dropped_mid_index_is_one_clear_error_and_rerunning_resumes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    milvus_server: MilvusServer,
    proxy: TcpProxy,
    prefix: str,
) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", many_articles())
    # a password in the URI is never shown (milvus-lite ignores it; a real server gets the token)
    uri = proxy.uri if milvus_server.real else proxy.uri.replace("http://", "http://user:pw@")
    cli_env(monkeypatch, uri, milvus_server, prefix)
    applied = []
    real_push = milvus_records._push_vectors

    def push_then_cut(store, records, kind, ids, target, renew) -> None:  # type: ignore[no-untyped-def]
        real_push(store, records, kind, ids, target, renew)
        applied.append(kind)
        if len(applied) == 3:  # the first batch's chunks and sentences are in, the second's chunks too
            proxy.cut()

    monkeypatch.setattr(milvus_records, "_push_vectors", push_then_cut)
    assert main(["index", str(corpus)]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "Indexing" not in line]
    assert len(lines) == 1, lines  # the progress bar aside, one line
    err = lines[0]
    assert err.startswith(f"Error: Milvus at http://127.0.0.1:{proxy.port} became unreachable while ")
    assert "pw" not in err and "Traceback" not in err
    assert f"{prefix}_" in err and "running the command again" in err and "resumes" in err

    home = Path(os.environ["NEWSBOT_HOME"])
    records = RecordStore(home / "index")
    committed = records.counts()[0]
    records.close()
    assert 2 <= committed < len(many_articles()), "at least two batches were committed, not all"

    # the link is back: running index again completes, and Milvus answers like the local store
    monkeypatch.setattr(milvus_records, "_push_vectors", real_push)
    proxy.restore()
    # in this process gRPC first waits out its reconnect back-off (about 1 s): the default retry covers it
    monkeypatch.setenv("NEWSBOT_MILVUS_RETRY_SECONDS", "0.5")
    monkeypatch.setenv("NEWSBOT_MILVUS_RETRIES", "4")
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()
    local = make_bot(tmp_path, "local")
    local.index_paths([corpus], progress=False)
    remote = make_bot(tmp_path, "milvus", name="home", **server_settings(proxy.uri, milvus_server, prefix))
    assert remote.index.counts() == local.index.counts()
    assert len(remote.index.vectors["chunk"]) == remote.index.counts()[1]
    assert best(remote) == best(local)
    assert outcome(remote) == outcome(local)
    assert remote.check() == []
    for bot in (local, remote):
        bot.close()


def test_ask_while_the_server_is_down_is_one_line_and_a_blip_is_waited_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    milvus_server: MilvusServer,
    proxy: TcpProxy,
    prefix: str,
) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    cli_env(monkeypatch, proxy.uri, milvus_server, prefix)
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()

    proxy.cut()
    assert main(["ask", QUESTIONS[0]]) == 1
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert f"Milvus at {proxy.uri} became unreachable while" in captured.err
    assert "tried 3 times" in captured.err and "Traceback" not in captured.err + captured.out

    # a blip: the link comes back while newsbot waits before its first retry; the answer is given
    proxy.restore()
    settings = server_settings(proxy.uri, milvus_server, prefix)
    bot = make_bot(tmp_path, "milvus", name="home", milvus_retry_seconds=0.5, milvus_retries=4, **settings)
    expected = outcome(bot)
    assert expected[0][2], "the Graz question is answered with citations"
    assert bot.index.milvus is not None
    client = bot.index.milvus.client
    pauses: list[float] = []

    def restore_then_wait(seconds: float) -> None:
        pauses.append(seconds)
        proxy.restore()
        time.sleep(seconds)

    monkeypatch.setattr(client, "_sleep", restore_then_wait)
    monkeypatch.setattr(client, "_policy", RetryPolicy(retries=4, backoff=0.5))
    proxy.cut()
    assert outcome(bot) == expected
    assert pauses, "the answer needed a retry"
    bot.close()
