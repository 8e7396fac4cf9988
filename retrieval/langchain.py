"""newsbot's search as a LangChain retriever, so it plugs into LangChain chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from retrieval.pipeline import Newsbot


class NewsRetriever(BaseRetriever):
    """Returns the best chunks for a query as Documents with article metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bot: Newsbot
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        """Search the index and turn each hit into a Document."""
        index = self.bot.index
        documents = []
        for hit in self.bot.search(query, self.k):
            article = index.article(hit.chunk.article_id)
            metadata: dict[str, Any] = {
                "article_id": article.id,
                "title": article.display_title,
                "date": article.date,
                "source": article.source,
                "chunk_id": hit.chunk.id,
                "start": hit.chunk.start,
                "end": hit.chunk.end,
                "score": hit.score,
            }
            documents.append(
                Document(page_content=article.text[hit.chunk.start : hit.chunk.end], metadata=metadata)
            )
        return documents
