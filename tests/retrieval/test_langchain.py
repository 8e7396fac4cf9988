"""The LangChain retriever returns Documents carrying newsbot's metadata."""

from __future__ import annotations

from langchain_core.documents import Document

from retrieval.langchain import NewsRetriever
from retrieval.pipeline import Newsbot


def test_retriever_returns_documents_with_metadata(fake_bot: Newsbot) -> None:
    docs = NewsRetriever(bot=fake_bot, k=2).invoke("Wie viele Feuerwehrleute waren in Graz?")
    assert 1 <= len(docs) <= 2 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["article_id"] == "graz-1" and top.metadata["title"] == "Hochwasser in Graz"
    text = fake_bot.index.article_text("graz-1")
    assert text[top.metadata["start"] : top.metadata["end"]] == top.page_content
    assert "Feuerwehrleute" in top.page_content
