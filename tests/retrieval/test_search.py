"""Fusion of dense and lexical candidates, as pure functions and through the index."""

from __future__ import annotations

import numpy as np

from retrieval.pipeline import Newsbot
from retrieval.ranker import LinearRanker, fit_listwise
from retrieval.search import query_terms, union


def test_union_keeps_every_side_once_in_first_seen_order() -> None:
    assert union([3, 1], [1, 7], [], [9, 3]) == [3, 1, 7, 9]


def test_ranker_fuses_dense_and_lexical_features() -> None:
    features = ("dense", "lexical")
    rows = np.array([[0.9, 0.0], [0.5, 1.0], [0.6, 0.2]])
    dense_only = LinearRanker.uniform(features, [1.0, 0.0]).scores(rows)
    assert list(np.argsort(-dense_only)) == [0, 2, 1]
    fused = LinearRanker.uniform(features, [1.0, 0.6]).scores(rows)
    assert list(np.argsort(-fused)) == [1, 0, 2]


def test_listwise_fit_learns_which_feature_finds_the_answer() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(60):
        x = rng.normal(size=(8, 2))
        y = np.zeros(8)
        y[int(np.argmax(x[:, 1]))] = 1.0  # the second feature marks the positive
        groups.append((x, y))
    ranker = fit_listwise(groups, ("noise", "signal"))
    assert ranker.weights[1] > 3 * abs(ranker.weights[0])


def test_query_terms_are_stemmed_in_both_languages() -> None:
    terms = query_terms("Wie viele Feuerwehrleute waren 2015 im Einsatz?")
    assert "2015" in terms and "feuerwehrleut" in terms
    assert "wie" not in terms


def test_lexical_side_finds_exact_names_and_numbers(fake_bot: Newsbot) -> None:
    hits = fake_bot.search("Michael Häupl 950")
    assert hits[0].chunk.article_id == "wien-1"
    assert hits[0].lexical > 0
