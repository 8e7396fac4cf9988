"""Turning articles into sentences and chunks, and embedding them in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from retrieval.chunking import Chunk, make_chunks
from retrieval.documents import Article
from retrieval.embeddings import Embedder, embed_sentences_and_chunks
from retrieval.language import cognate_keys, query_terms

# Characters of article text per embedding call: ~60k tokens of news text (~4.2 chars per token), so
# that every full batch is a bulk job the encoder may run on torch (UseEncoder's _TORCH_MIN_TOKENS),
# while one batch's token features stay small (~2,000 sentences, ~30 MB).
_BATCH_CHARS = 250_000


@dataclass(frozen=True)
class PlannedSentence:
    """A sentence to store: its article, position and offsets."""

    article_id: str
    ord: int
    start: int
    end: int
    terms: str = ""
    cognates: str = ""


@dataclass
class Embedded:
    """Sentences and chunks of a set of articles, with their vectors."""

    sentences: list[PlannedSentence] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    chunk_sentence_ranges: list[tuple[int, int]] = field(default_factory=list)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    chunk_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def plan_and_embed(
    articles: list[Article], embedder: Embedder, size: int, overlap: int, *, progress: bool = True
) -> Embedded:
    """Chunk every article and embed its sentences and chunks, with a progress bar."""
    from tqdm import tqdm

    out = Embedded()
    sentence_parts: list[np.ndarray] = []
    chunk_parts: list[np.ndarray] = []
    with tqdm(
        total=len(articles), desc="Embedding", unit="article", disable=not progress, leave=False
    ) as bar:
        for batch in _batches(articles, _BATCH_CHARS):
            sentence_texts, chunk_groups = _plan(batch, size, overlap, out)
            sentences, chunks = embed_sentences_and_chunks(embedder, sentence_texts, chunk_groups)
            sentence_parts.append(sentences)
            chunk_parts.append(chunks)
            bar.update(len(batch))
    out.sentence_vectors = _stack(sentence_parts, embedder.dim)
    out.chunk_vectors = _stack(chunk_parts, embedder.dim)
    return out


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
    batch: list[Article], size: int, overlap: int, out: Embedded
) -> tuple[list[str], list[tuple[int, int]]]:
    """Add a batch's sentences and chunks to `out`; return texts and batch-local chunk ranges."""
    texts: list[str] = []
    groups: list[tuple[int, int]] = []
    for article in batch:
        base_global = len(out.sentences)
        base_local = len(texts)
        chunks = make_chunks(article.id, article.text, size, overlap, article.title)
        spans = sorted({span for chunk in chunks for span in chunk.sentences}, key=lambda span: span.start)
        position = {span: n for n, span in enumerate(spans)}
        for n, span in enumerate(spans):
            text = article.text[span.start : span.end]
            out.sentences.append(
                PlannedSentence(
                    article.id,
                    n,
                    span.start,
                    span.end,
                    " ".join(query_terms(text)),
                    " ".join(sorted(cognate_keys(text))),
                )
            )
            texts.append(text)
        for chunk in chunks:
            first, last = position[chunk.sentences[0]], position[chunk.sentences[-1]]
            out.chunks.append(chunk)
            out.chunk_sentence_ranges.append((base_global + first, base_global + last))
            groups.append((base_local + first, base_local + last + 1))
    return texts, groups


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    """Concatenate vector batches (an empty (0, dim) array when there are none)."""
    parts = [p for p in parts if len(p)]
    return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, dim), np.float32)
