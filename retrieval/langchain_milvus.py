"""newsbot's chunk collection in Milvus as a LangChain vector store (`langchain_milvus.Milvus`).

    from retrieval.langchain_milvus import milvus_vector_store
    store = milvus_vector_store()  # NEWSBOT_MILVUS_URI, NEWSBOT_MILVUS_COLLECTION, NEWSBOT_EMBEDDER
    docs = store.similarity_search("Wer hat die Militärgespräche vorgeschlagen?", k=5)  # or .as_retriever()

Each Document is one chunk row: page_content is its text, metadata its `id`, `article_id`, `title`,
`date`, `source`, `url`, `lang`, `commit`, `first_sentence`, `last_sentence` (retrieval/store/
milvus_records.py). Questions are embedded exactly as newsbot embeds them (`embedder.embed([q])`;
newsbot encodes questions and passages alike), searched by inner product with newsbot's own search
parameters, so the top k are newsbot's dense chunk search's.

Read-only: the collections must exist (built by `newsbot index` or `newsbot migrate --to milvus`),
their meta must name the same embedder, dimension and index (checked as newsbot checks them), and
nothing is dropped, created or altered (langchain-milvus only creates an index on a vector field
that has none, and every newsbot collection has one). Do not `add_texts` to it: rows written behind
newsbot's back are not in its record store. Rows of a push still under way (a later commit than
the published one) can show up in results; newsbot's own search leaves them out.

pymilvus, langchain-milvus and the embedder load when the function is called, not on import.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import IndexMissingError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_milvus import Milvus

    from retrieval.config import Settings
    from retrieval.embeddings import Embedder


def milvus_vector_store(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    index_dir: Path | None = None,
    kind: str = "chunk",
) -> Milvus:
    """A read-only `langchain_milvus.Milvus` over newsbot's `kind` collection ("chunk" or
    "sentence") at the settings' Milvus URI (default: milvus.db in the index folder), with the
    settings' embedder (or `embedder`) as its LangChain embeddings."""
    from langchain_milvus import Milvus

    from retrieval.config import get_settings
    from retrieval.embeddings import get_embedder
    from retrieval.store.milvus import METRIC, MilvusStore
    from retrieval.store.records import KINDS

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    settings = (settings or get_settings()).model_copy(update={"store": "milvus", "milvus_temporary": False})
    target = settings.milvus_target(index_dir or settings.index_dir)
    assert target is not None
    embedder = embedder or get_embedder(settings.embedder, settings.threads, settings.home / "models")
    _require_collections(target, kind)
    # checks schema, embedder, dimension, metric and index like newsbot; kept open, so that a
    # milvus-lite file stays served while the vector store uses it (newsbot releases the file
    # when its last store on it closes)
    store = MilvusStore(target, embedder=embedder.name, dim=embedder.dim, store_id="")
    vectors = Milvus(
        embedding_function=as_langchain_embeddings(embedder),
        collection_name=store.collection(kind),
        connection_args={"uri": target.uri, "token": target.token},
        search_params=target.index.search_params(METRIC, 0),
        replica_number=int(target.index.load_options(target.is_lite).get("replica_number", 1)),
        primary_field="id",
        text_field="text",
        vector_field="vector",
        drop_old=False,
        auto_id=False,
        enable_dynamic_field=False,
    )
    vectors._newsbot_store = store  # type: ignore[attr-defined]
    return vectors


def _require_collections(target: Any, kind: str) -> None:
    """IndexMissingError unless the meta and `kind` collections exist (nothing is created)."""
    from retrieval.store.milvus import _guarded, _pymilvus
    from retrieval.store.milvus_conn import connect, safe_uri

    with _guarded(f"connecting to {safe_uri(target.uri)}"):
        client = connect(_pymilvus(), target.uri, target.token, target.retry)
    try:
        with _guarded("listing the collections"):
            missing = [
                name
                for name in (f"{target.prefix}_meta", f"{target.prefix}_{kind}")
                if not client.has_collection(name)
            ]
    finally:
        client.close()
    if missing:
        raise IndexMissingError(
            f"no newsbot archive at {safe_uri(target.uri)}: collection {missing[0]} is missing; build it "
            "with 'newsbot --store milvus index …' or 'newsbot migrate --to milvus'"
        )


def as_langchain_embeddings(embedder: Embedder) -> Embeddings:
    """newsbot's embedder as LangChain `Embeddings`: queries exactly as newsbot embeds questions."""
    return _embeddings_class()(embedder)


@cache
def _embeddings_class() -> type:
    """The Embeddings subclass (langchain_core imported on first use)."""
    from langchain_core.embeddings import Embeddings

    class NewsbotEmbeddings(Embeddings):
        """Wraps a newsbot `Embedder` (unit-length float32 rows)."""

        def __init__(self, embedder: Embedder) -> None:
            self.embedder = embedder

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            """Passage vectors (newsbot's chunk vectors of the default embedder are composed from
            their sentences' tokens, so they can differ slightly from these)."""
            return _rows(self.embedder, texts)

        def embed_query(self, text: str) -> list[float]:
            """A question's vector, as newsbot searches with it."""
            return _rows(self.embedder, [text])[0]

    return NewsbotEmbeddings


def _rows(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    return embedder.embed(list(texts)).tolist()
