"""Turning articles into sentences and chunks, and embedding them in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from retrieval.chunking import make_chunks
from retrieval.dedupe import Fingerprint, fingerprint
from retrieval.documents import Article
from retrieval.duplicates import source_row, stored_fingerprint
from retrieval.embeddings import Embedder, embed_sentences_and_chunks
from retrieval.language import cognate_keys, index_terms, query_terms
from retrieval.store.records import Batch, NewChunk, NewSentence

# Characters of article text per embedding call: ~60k tokens of news text (~4.2 chars per token), so
# that every full batch is a bulk job the encoder may run on torch (UseEncoder's _TORCH_MIN_TOKENS),
# while one batch's token features stay small (~2,000 sentences, ~30 MB).
BATCH_CHARS = 250_000


def embedded_batches(
    articles: list[Article],
    embedder: Embedder,
    size: int,
    overlap: int,
    batch_chars: int = BATCH_CHARS,
    fingerprints: dict[str, Fingerprint] | None = None,
) -> Iterator[Batch]:
    """Chunk and embed the articles, a batch of about `batch_chars` characters at a time; each
    batch is what one transaction stores, with each article's fingerprint (from `fingerprints`
    or computed) and its row for itself among its sources."""
    known = fingerprints or {}
    for group in _batches(articles, batch_chars):
        sentences: list[NewSentence] = []
        chunks: list[NewChunk] = []
        texts = _plan(group, size, overlap, sentences, chunks)
        groups = [(c.first, c.last + 1) for c in chunks]
        sentence_vectors, chunk_vectors = embed_sentences_and_chunks(embedder, texts, groups)
        yield Batch(
            group,
            sentences,
            chunks,
            _as_matrix(sentence_vectors, embedder.dim),
            _as_matrix(chunk_vectors, embedder.dim),
            [stored_fingerprint(known.get(a.id) or fingerprint(a.text)) for a in group],
            [source_row(a) for a in group],
        )


def _batches(articles: list[Article], chars: int) -> Iterator[list[Article]]:
    """Consecutive groups of articles with about `chars` characters of text each (at least one)."""
    batch: list[Article] = []
    size = 0
    for article in articles:
        batch.append(article)
        size += len(article.text)
        if size >= chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _plan(
    batch: list[Article], size: int, overlap: int, sentences: list[NewSentence], chunks: list[NewChunk]
) -> list[str]:
    """Append a batch's sentences and chunks (by position in `sentences`); return sentence texts."""
    texts: list[str] = []
    for article in batch:
        base = len(sentences)
        made = make_chunks(article.id, article.text, size, overlap, article.title)
        spans = sorted({span for chunk in made for span in chunk.sentences}, key=lambda span: span.start)
        position = {span: base + n for n, span in enumerate(spans)}
        for n, span in enumerate(spans):
            text = article.text[span.start : span.end]
            sentences.append(
                NewSentence(
                    article.id,
                    n,
                    span.start,
                    span.end,
                    " ".join(query_terms(text)),
                    " ".join(sorted(cognate_keys(text))),
                )
            )
            texts.append(text)
        for chunk in made:
            first, last = position[chunk.sentences[0]], position[chunk.sentences[-1]]
            found_by = tuple(index_terms(article.text[chunk.start : chunk.end], article.lang))
            chunks.append(NewChunk(article.id, chunk.ord, chunk.start, chunk.end, first, last, found_by))
    return texts


def chunk_terms(text: str, lang: str) -> list[str]:
    """The terms a chunk is found by in the lexical index (by its article's language): `index_terms`
    (kept by name for the stores and migrations that import it)."""
    return index_terms(text, lang)


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Vectors as float32 (n, dim), also when there are none."""
    return np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
