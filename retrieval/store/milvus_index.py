"""The vector index type, its parameters, shards and replicas of newsbot's Milvus collections.

`NEWSBOT_MILVUS_INDEX` chooses FLAT (exact, the default), HNSW (graph; build `M`, `efConstruction`,
search `ef`) or IVF_FLAT (clusters; build `nlist`, search `nprobe`). The index type and its build
parameters are recorded in the meta collection when the collections are created and checked on every
start: collections built with another index are a clear error naming the ways out (keep the
recorded setting, another collection prefix, or drop them and let newsbot re-upload the vectors from
the record store). They are not rebuilt silently, because several newsbot processes share one server
and one started with another setting would otherwise rebuild the index under the others. The search
parameters (`ef`, `nprobe`) only shape each query and may change freely.

Shards (`num_shards`) are fixed when a collection is created; a different setting later is logged
and has no effect. Replicas (`replica_number` when loading) need a cluster with that many query
nodes; milvus-lite has one engine and ignores them (logged at debug level).

milvus-lite (3.x, the `milvus` extra) builds all three with faiss-cpu. Servers support them all.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from retrieval.errors import IndexCorruptError

log = logging.getLogger(__name__)

IndexType = Literal["FLAT", "HNSW", "IVF_FLAT"]
INDEX_TYPES: tuple[str, ...] = ("FLAT", "HNSW", "IVF_FLAT")


@dataclass(frozen=True)
class MilvusIndex:
    """How the chunk and sentence collections are indexed, sharded and replicated."""

    index_type: str = "FLAT"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef: int = 128
    ivf_nlist: int = 256
    ivf_nprobe: int = 32
    shards: int = 1
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, not {self.index_type!r}")

    # ---------- building ----------
    def build_params(self) -> dict[str, int]:
        """The index's build parameters."""
        if self.index_type == "HNSW":
            return {"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction}
        if self.index_type == "IVF_FLAT":
            return {"nlist": self.ivf_nlist}
        return {}

    def add_to(self, index_params: Any, field: str, metric: str) -> None:
        """Add this index on `field` to pymilvus' IndexParams.

        pymilvus 3 sends the build parameters as flat key/value pairs, which Milvus servers read but
        milvus-lite 3 ignores (it reads the JSON under "params", as older clients sent them and
        servers accept too): both are sent."""
        params: dict[str, Any] = dict(self.build_params())
        if params:
            params["params"] = dict(params)
        index_params.add_index(field, index_type=self.index_type, metric_type=metric, params=params)

    def create_options(self, is_lite: bool) -> dict[str, Any]:
        """Keyword arguments of create_collection."""
        if is_lite:
            if self.shards != 1:
                log.debug("milvus-lite has one shard; NEWSBOT_MILVUS_SHARDS=%d is ignored", self.shards)
            return {}
        return {"num_shards": self.shards}

    def load_options(self, is_lite: bool) -> dict[str, Any]:
        """Keyword arguments of load_collection."""
        if self.replicas == 1:
            return {}
        if is_lite:
            log.debug("milvus-lite has no replicas; NEWSBOT_MILVUS_REPLICAS=%d is ignored", self.replicas)
            return {}
        return {"replica_number": self.replicas}

    # ---------- searching ----------
    def search_params(self, metric: str, k: int) -> dict[str, Any]:
        """search_params of a query for the k best (HNSW's ef must be at least k)."""
        if self.index_type == "HNSW":
            return {"metric_type": metric, "params": {"ef": max(self.hnsw_ef, k)}}
        if self.index_type == "IVF_FLAT":
            return {"metric_type": metric, "params": {"nprobe": min(self.ivf_nprobe, self.ivf_nlist)}}
        return {"metric_type": metric}

    # ---------- recording and checking ----------
    def meta(self) -> dict[str, str]:
        """What the meta collection records about the index."""
        return {
            "index_type": self.index_type,
            "index_params": json.dumps(self.build_params(), sort_keys=True),
            "shards": str(self.shards),
        }

    def describe(self) -> str:
        """The index type with its build parameters, e.g. `HNSW (M=16, efConstruction=200)`."""
        params = ", ".join(f"{k}={v}" for k, v in self.build_params().items())
        return f"{self.index_type} ({params})" if params else self.index_type

    def check(self, found: dict[str, str], where: str) -> None:
        """Compare the recorded index with this one: another index is an IndexCorruptError."""
        recorded_type = found.get("index_type") or "FLAT"
        recorded_params = found.get("index_params") or "{}"  # collections made before params were recorded
        wanted = self.meta()
        if (recorded_type, _canonical(recorded_params)) != (self.index_type, wanted["index_params"]):
            recorded = _described(recorded_type, recorded_params)
            raise IndexCorruptError(
                f"{where} were built with index {recorded}, the settings ask for {self.describe()}; "
                f"set NEWSBOT_MILVUS_INDEX (and its parameters) to match, choose another "
                "NEWSBOT_MILVUS_COLLECTION, or drop them with 'newsbot migrate --to local --drop' and start "
                "again (the vectors are uploaded again from the record store, not re-embedded)"
            )
        recorded_shards = found.get("shards") or "1"
        if recorded_shards != wanted["shards"]:
            log.warning(
                "%s were created with %s shard(s); NEWSBOT_MILVUS_SHARDS=%d applies to new collections only",
                where,
                recorded_shards,
                self.shards,
            )


def _canonical(params: str) -> str:
    """Recorded build parameters in the form `meta()` writes them."""
    try:
        return json.dumps(json.loads(params), sort_keys=True)
    except ValueError:
        return params


def _described(index_type: str, params: str) -> str:
    try:
        values = json.loads(params)
    except ValueError:
        return f"{index_type} {params}"
    inner = ", ".join(f"{k}={v}" for k, v in sorted(values.items()))
    return f"{index_type} ({inner})" if inner else index_type
