"""Index types (FLAT, HNSW, IVF_FLAT), shards and replicas of the Milvus collections, and the retry of a
dropped connection (unit tests without a server, index types on milvus-lite in temporary files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.errors import IndexCorruptError
from retrieval.store.milvus_conn import (
    MilvusConnectionLost,
    RetryingClient,
    RetryPolicy,
    is_transient,
    retrying,
    safe_uri,
)
from retrieval.store.milvus_index import MilvusIndex

# ---------- the index choice ----------


def test_settings_choose_the_index_its_parameters_shards_and_replicas() -> None:
    settings = Settings(milvus_index="HNSW", milvus_hnsw_m=8, milvus_shards=2, milvus_replicas=3)
    index = settings.milvus_index_choice()
    assert index.build_params() == {"M": 8, "efConstruction": 200}
    assert index.search_params("IP", 10) == {"metric_type": "IP", "params": {"ef": 128}}
    assert index.search_params("IP", 500)["params"] == {"ef": 500}, "ef is at least k"
    assert index.create_options(is_lite=False) == {"num_shards": 2}
    assert index.load_options(is_lite=False) == {"replica_number": 3}
    assert index.create_options(is_lite=True) == {} and index.load_options(is_lite=True) == {}
    ivf = MilvusIndex("IVF_FLAT", ivf_nlist=64, ivf_nprobe=128)
    assert ivf.build_params() == {"nlist": 64}
    assert ivf.search_params("IP", 5)["params"] == {"nprobe": 64}, "nprobe is at most nlist"
    assert MilvusIndex().build_params() == {} and MilvusIndex().search_params("IP", 5) == {
        "metric_type": "IP"
    }
    with pytest.raises(ValueError):
        Settings(milvus_index="DISKANN")


def test_the_recorded_index_is_checked() -> None:
    where = "the Milvus collections 'newsbot_*' at x"
    MilvusIndex().check({"index_type": "FLAT"}, where)  # recorded before parameters were
    MilvusIndex("HNSW", hnsw_ef=10).check(MilvusIndex("HNSW", hnsw_ef=500).meta(), where)  # search-time only
    with pytest.raises(IndexCorruptError) as caught:
        MilvusIndex("HNSW").check({"index_type": "FLAT"}, where)
    message = str(caught.value)
    assert "built with index FLAT" in message and "HNSW (M=16, efConstruction=200)" in message
    assert "NEWSBOT_MILVUS_INDEX" in message and "NEWSBOT_MILVUS_COLLECTION" in message
    with pytest.raises(IndexCorruptError, match=r"IVF_FLAT \(nlist=64\)"):
        MilvusIndex("IVF_FLAT").check(MilvusIndex("IVF_FLAT", ivf_nlist=64).meta(), where)
    MilvusIndex(shards=4).check(MilvusIndex(shards=2).meta(), where)  # shards: logged, not an error


# ---------- retrying a dropped connection ----------


def _dropped() -> Exception:
    from pymilvus.exceptions import MilvusException

    return MilvusException(code=2, message="Fail connecting to server on 127.0.0.1:1, server unavailable")


def test_a_blip_is_retried_with_back_off_and_other_errors_are_not() -> None:
    pytest.importorskip("pymilvus")
    failures = [_dropped(), _dropped()]
    pauses: list[float] = []

    def call() -> str:
        if failures:
            raise failures.pop()
        return "answer"

    policy = RetryPolicy(retries=3, backoff=0.5, max_wait=0.8)
    assert policy.waits() == [0.5, 0.8, 0.8]
    assert retrying(call, name="search", uri="u", policy=policy, sleep=pauses.append) == "answer"
    assert pauses == [0.5, 0.8]

    def refused() -> None:
        raise ValueError("not a connection problem")

    with pytest.raises(ValueError):
        retrying(refused, name="search", uri="u", policy=policy, sleep=pauses.append)
    assert pauses == [0.5, 0.8], "not retried"
    assert is_transient(RuntimeError("wrapped")) is False
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = _dropped()
    assert is_transient(wrapped)


def test_spent_retries_give_one_clear_error_without_secrets() -> None:
    pytest.importorskip("pymilvus")
    pauses: list[float] = []

    def down() -> None:
        raise _dropped()

    uri = "https://admin:s3cret@milvus.example:19530"
    with pytest.raises(MilvusConnectionLost) as caught:
        retrying(down, name="upsert", uri=uri, policy=RetryPolicy(retries=2, backoff=1), sleep=pauses.append)
    assert pauses == [1, 2]
    message = caught.value.during("updating newsbot_chunk")
    assert message.startswith("Milvus at https://milvus.example:19530 became unreachable while updating")
    assert "tried 3 times over 3.0 s" in message and "s3cret" not in message and "admin" not in message
    assert "running the command again" in message
    assert safe_uri("http://127.0.0.1:19530") == "http://127.0.0.1:19530"
    assert safe_uri("/data/milvus.db") == "/data/milvus.db"


def test_the_client_wrapper_retries_remote_calls_and_sets_their_deadline() -> None:
    pytest.importorskip("pymilvus")

    class Client:
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict]] = []
            self.failures = 1

        def search(self, name: str, **kwargs: object) -> list:
            self.calls.append((name, kwargs))
            if self.failures:
                self.failures -= 1
                raise _dropped()
            return [[]]

        def create_schema(self, **kwargs: object) -> dict:
            return dict(kwargs)

    raw = Client()
    pauses: list[float] = []
    client = RetryingClient(raw, "http://h:1", RetryPolicy(timeout=7), sleep=pauses.append)
    assert client.search("c", limit=3) == [[]]
    assert raw.calls == [("c", {"limit": 3, "timeout": 7}), ("c", {"limit": 3, "timeout": 7})]
    assert pauses == [0.5]
    assert client.create_schema(auto_id=False) == {"auto_id": False}, "local calls pass through untouched"
    assert client.raw is raw


# ---------- index types on milvus-lite ----------


@pytest.mark.parametrize("index_type", ["HNSW", "IVF_FLAT"])
def test_approximate_indexes_answer_like_the_local_store_and_are_recorded(
    tmp_path: Path, index_type: str
) -> None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from tests.conftest import ARTICLES
    from tests.retrieval.store.test_milvus import make_bot, outcome, searches, write_corpus

    corpus = write_corpus(tmp_path / "corpus.jsonl", ARTICLES)
    local = make_bot(tmp_path, "local")
    milvus = make_bot(tmp_path, "milvus", milvus_index=index_type, milvus_ivf_nlist=4, milvus_shards=2)
    for bot in (local, milvus):
        bot.index_paths([corpus], progress=False)
    assert outcome(milvus) == outcome(local)  # a handful of vectors: the approximate search is exact
    assert searches(milvus) == searches(local)
    store = milvus.index.milvus
    assert store is not None
    described = store.client.describe_index(store.collection("chunk"), "vector")
    assert described["index_type"] == index_type
    meta = store.get_meta()
    assert meta["index_type"] == index_type and meta["shards"] == "2"
    assert json.loads(meta["index_params"]) == milvus.settings.milvus_index_choice().build_params()
    milvus.close()

    # another process with other settings: another index type is refused, other search parameters are not
    refused = make_bot(tmp_path, "milvus", milvus_index="FLAT")
    with pytest.raises(IndexCorruptError, match=f"built with index {index_type}.*NEWSBOT_MILVUS_INDEX"):
        assert refused.index  # opened on first use
    refused.close()
    again = make_bot(
        tmp_path,
        "milvus",
        milvus_index=index_type,
        milvus_ivf_nlist=4,
        milvus_hnsw_ef=300,
        milvus_ivf_nprobe=2,
    )
    assert outcome(again) == outcome(local)
    for bot in (again, local):
        bot.close()
