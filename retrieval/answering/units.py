"""Is a number in a sentence a number of what the question counts? Word-level cross-lingual
similarity of the counted words ("spectators") to the words around each number ("Zuschauer"),
with the multilingual encoder; word vectors are cached."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from retrieval.answering.short import Span
from retrieval.embeddings import Embedder

_WORD = re.compile(r"[^\W\d_]{3,}")
# Distinct words whose vectors are kept (about 1 KiB each).
CACHE_WORDS = 50_000


def sentence_words(text: str) -> list[str]:
    """The words of a sentence worth comparing (letters only, three or more), each once."""
    return list(dict.fromkeys(_WORD.findall(text)))


class WordVectors:
    """Unit vectors of single words from an embedder, computed once per word (LRU-bounded)."""

    def __init__(self, embedder: Embedder, capacity: int = CACHE_WORDS) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """One row per word; the words not seen before are embedded in one batch."""
        missing = [w for w in dict.fromkeys(words) if w not in self._cache]
        if missing:
            for word, vector in zip(missing, self.embedder.embed(missing), strict=True):
                self._cache[word] = np.asarray(vector, dtype=np.float32)
        for word in words:
            self._cache.move_to_end(word)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return np.array([self._cache[w] for w in words], dtype=np.float32).reshape(len(words), -1)

    def unit_similarities(
        self, counted: Sequence[str], sentence: str, numbers: Sequence[Span]
    ) -> list[float]:
        """For each number phrase of the sentence, how like the counted words (the question's
        "spectators") the words around it are (its "Zuschauer"): the best cosine, 0 without words."""
        around = [_around(sentence, span) for span in numbers]
        words = sorted({w for ws in around for w in ws})
        if not counted or not words:
            return [0.0] * len(numbers)
        vectors = self.vectors([*counted, *words])
        sims = vectors[: len(counted)] @ vectors[len(counted) :].T
        best = dict(zip(words, sims.max(axis=0).tolist(), strict=True))
        return [max((best[w] for w in ws), default=0.0) for ws in around]


class UnitScorer:
    """Scores number phrases of sentences by how like what one question counts their units are."""

    def __init__(self, words: WordVectors, counted: Sequence[str]) -> None:
        self.words = words
        self.counted = list(counted)

    def prefetch(self, found: Sequence[tuple[str, Sequence[Span]]]) -> None:
        """Embed every word around the numbers of several sentences in one batch."""
        around = {w for sentence, spans in found for span in spans for w in _around(sentence, span)}
        if self.counted and around:
            self.words.vectors([*self.counted, *sorted(around)])

    def __call__(self, sentence: str, numbers: Sequence[Span]) -> list[float]:
        """The unit similarity of each number phrase of the sentence."""
        return self.words.unit_similarities(self.counted, sentence, numbers)


def _around(sentence: str, span: Span) -> list[str]:
    """The words a number phrase is of: the word before it, its own words, the two after it."""
    before = _WORD.findall(sentence[max(0, span.start - 25) : span.start])[-1:]
    after = _WORD.findall(sentence[span.end : span.end + 40])[:2]
    return before + _WORD.findall(span.text) + after
