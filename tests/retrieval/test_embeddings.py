"""Both real embedders, loaded offline from their packages (slow), and the registry."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embeddings import HashEmbedder, embed_sentences_and_chunks, get_embedder
from retrieval.errors import ConfigError


def _check_unit_rows(vectors: np.ndarray, rows: int, dim: int) -> None:
    """Shape, dtype and unit length."""
    assert vectors.shape == (rows, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_multilingual_encoder_matches_across_languages() -> None:
    embedder = get_embedder("use-multilingual-v3")
    assert embedder.name == "use-multilingual-v3" and embedder.dim == 512
    texts = [
        "Who proposed the military talks?",
        "Russland hat die direkten Militärgespräche vorgeschlagen.",
        "Die Mur trat in Graz über die Ufer.",
    ]
    vectors = embedder.embed(texts)
    _check_unit_rows(vectors, 3, 512)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1


@pytest.mark.slow
def test_sentence_transformers_minilm_offline() -> None:
    embedder = get_embedder("all-minilm-l6-v2")
    texts = ["The cat sits on the mat.", "A cat is sitting on a mat.", "Stock markets fell sharply."]
    vectors = embedder.embed(texts)
    _check_unit_rows(vectors, 3, 384)
    assert embedder.dim == 384
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_unknown_embedder_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="use-multilingual-v3"):
        get_embedder("nope")


def test_chunk_vectors_without_composition_embed_the_joined_sentences() -> None:
    embedder = HashEmbedder()
    sentences = ["Eins zwei.", "Drei vier.", "Fünf sechs."]
    sentence_vectors, chunk_vectors = embed_sentences_and_chunks(embedder, sentences, [(0, 2), (1, 3)])
    assert np.allclose(sentence_vectors, embedder.embed(sentences))
    assert np.allclose(chunk_vectors[0], embedder.embed(["Eins zwei. Drei vier."])[0])
