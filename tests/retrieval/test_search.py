"""Fusion of dense and lexical candidates, as pure functions and through the index."""

from __future__ import annotations

from retrieval.pipeline import Newsbot
from retrieval.search import dense_chunk_scores, fuse, query_terms


def test_fuse_adds_weighted_normalized_sparse_scores() -> None:
    dense = [(1, 0.9), (2, 0.5)]
    sparse = [(2, 10.0), (3, 5.0)]
    fused = dict(fuse(dense, sparse, sparse_weight=0.6))
    assert fused[1] == 0.9
    assert abs(fused[2] - (0.5 + 0.6)) < 1e-9
    assert abs(fused[3] - (0.5 + 0.3)) < 1e-9  # absent from dense: the dense floor
    assert [cid for cid, _ in fuse(dense, sparse, 0.6)] == [2, 1, 3]


def test_fuse_with_zero_weight_keeps_dense_order() -> None:
    assert [c for c, _ in fuse([(1, 0.9), (2, 0.5)], [(2, 9.0)], 0.0)] == [1, 2]


def test_best_sentence_counts_with_the_chunk() -> None:
    chunks = [(10, 0.6), (11, 0.5)]
    sentences = [(100, 0.9), (101, 0.2)]
    owners = {100: [11], 101: [10]}
    scores = dict(dense_chunk_scores(chunks, sentences, owners))
    assert abs(scores[11] - 0.7) < 1e-9 and abs(scores[10] - 0.4) < 1e-9


def test_query_terms_are_stemmed_in_both_languages() -> None:
    terms = query_terms("Wie viele Feuerwehrleute waren 2015 im Einsatz?")
    assert "2015" in terms and "feuerwehrleut" in terms
    assert "wie" not in terms


def test_lexical_side_finds_exact_names_and_numbers(fake_bot: Newsbot) -> None:
    hits = fake_bot.search("Michael Häupl 950")
    assert hits[0].chunk.article_id == "wien-1"
    assert hits[0].lexical > 0
