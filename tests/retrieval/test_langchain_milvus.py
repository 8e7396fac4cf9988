"""LangChain's Milvus vector store over newsbot's chunk collection (milvus-lite in a temporary file):
the same top k as newsbot's own dense chunk search, read-only, and newsbot's NewsRetriever beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
pytest.importorskip("langchain_milvus")

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.errors import EmbedderMismatchError, IndexMissingError
from retrieval.pipeline import Newsbot
from tests.bot.telegram_harness import TALKS
from tests.conftest import ARTICLES, REPO_ROOT

QUESTIONS = [
    "Wie viele Feuerwehrleute waren in Graz im Einsatz?",
    "Wann soll die U5 eröffnet werden?",
    "Who proposed direct military talks with Washington?",
    "Was kostet der neue Hafen in Hamburg?",
]
MORE = [
    {
        "id": "hamburg-1",
        "title": "Hafen Hamburg",
        "date": "2016-03-01",
        "source": "dpa",
        "lang": "de",
        "text": "Der Hamburger Hafen wird erweitert. Das neue Terminal kostet 700 Millionen Euro. "
        "Die Arbeiten beginnen im Herbst. Umweltverbände kritisieren die Elbvertiefung scharf. "
        "Der Senat verweist auf tausende Arbeitsplätze im Hafen.",
    },
    {
        "id": "linz-1",
        "title": "Museum in Linz",
        "date": "2016-05-12",
        "source": "APA",
        "lang": "de",
        "text": "In Linz öffnet ein neues Museum für Gegenwartskunst. "
        "Die Stadt investierte 40 Millionen Euro. "
        "Direktorin Anna Berger erwartet 200.000 Besucher im ersten Jahr.",
    },
]


def settings(tmp_path: Path, index: str = "FLAT") -> Settings:
    return Settings(
        home=tmp_path / "home", store="milvus", milvus_uri=str(tmp_path / "archive.db"), milvus_index=index
    )


@pytest.fixture(params=["FLAT"])
def bot(tmp_path: Path, request: pytest.FixtureRequest) -> Newsbot:
    """A Newsbot on the milvus store over a few articles (hash embedder), with the index type."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in [*ARTICLES, TALKS, *MORE]), "utf-8"
    )
    home = tmp_path / "home"
    made = Newsbot(settings(tmp_path, request.param), embedder=HashEmbedder(), index_dir=home / "index")
    made.index_paths([corpus], progress=False)
    return made


def schema_and_index(db: Path, name: str) -> tuple[list, list]:
    """A collection's fields and its indexes as Milvus describes them."""
    from pymilvus import MilvusClient

    client = MilvusClient(str(db))
    try:
        fields = [(f["name"], str(f["type"])) for f in client.describe_collection(name)["fields"]]
        indexes = [client.describe_index(name, i) for i in client.list_indexes(name)]
        return fields, indexes
    finally:
        client.close()


@pytest.mark.parametrize("bot", ["FLAT", "HNSW"], indirect=True)
def test_similarity_search_returns_newsbots_own_dense_top_k(bot: Newsbot, tmp_path: Path) -> None:
    from langchain_core.documents import Document

    from retrieval.langchain_milvus import milvus_vector_store

    db = tmp_path / "archive.db"
    before = schema_and_index(db, "newsbot_chunk")
    store = milvus_vector_store(bot.settings, embedder=HashEmbedder())
    assert store.search_params == bot.settings.milvus_index_choice().search_params("IP", 0)
    k = 4
    for question in QUESTIONS:
        expected = bot.index.search_chunks(bot.embedder.embed([question])[0], k)
        found = store.similarity_search_with_score(question, k=k)
        assert [d.metadata["id"] for d, _ in found] == [i for i, _ in expected], question
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-5)
        chunks = bot.index.chunks([i for i, _ in expected])
        for (doc, _), (chunk_id, _) in zip(found, expected, strict=True):
            chunk = chunks[chunk_id]
            article = bot.index.article(chunk.article_id)
            assert isinstance(doc, Document)
            assert doc.page_content == article.text[chunk.start : chunk.end]
            meta = doc.metadata
            assert (meta["article_id"], meta["title"], meta["date"], meta["source"], meta["lang"]) == (
                article.id,
                article.title,
                article.date,
                article.source,
                article.lang,
            )
            assert {"url", "commit", "first_sentence", "last_sentence"} <= set(meta)
        assert [d.page_content for d in store.similarity_search(question, k=k)] == [
            d.page_content for d, _ in found
        ]
    top = store.as_retriever(search_kwargs={"k": 2}).invoke(QUESTIONS[0])
    assert len(top) == 2 and "300 Feuerwehrleute" in top[0].page_content
    assert top[0].metadata["article_id"] == "graz-1"
    assert schema_and_index(db, "newsbot_chunk") == before  # nothing altered
    bot.close()


def test_news_retriever_is_available_as_before(bot: Newsbot) -> None:
    from retrieval.langchain import NewsRetriever

    docs = NewsRetriever(bot=bot, k=3).invoke(QUESTIONS[0])
    assert docs and docs[0].metadata["article_id"] == "graz-1" and "300" in docs[0].page_content
    bot.close()


def test_a_missing_archive_or_another_embedder_is_a_clear_error(bot: Newsbot, tmp_path: Path) -> None:
    from retrieval.langchain_milvus import milvus_vector_store

    bot.close()
    with pytest.raises(EmbedderMismatchError, match="demo-hash"):
        milvus_vector_store(settings(tmp_path), embedder=HashEmbedder(dim=32))
    other = settings(tmp_path).model_copy(update={"milvus_collection": "elsewhere"})
    with pytest.raises(IndexMissingError, match="elsewhere_meta is missing"):
        milvus_vector_store(other, embedder=HashEmbedder())
    from pymilvus import MilvusClient

    client = MilvusClient(str(tmp_path / "archive.db"))
    assert not [n for n in client.list_collections() if n.startswith("elsewhere")]  # nothing created
    client.close()


def test_importing_the_module_loads_nothing_heavy() -> None:
    code = (
        "import sys, retrieval.langchain_milvus; "
        "print(sorted(m for m in ('pymilvus', 'langchain_milvus', 'langchain_core', 'milvus_lite') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
