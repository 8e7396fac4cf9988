"""Tiny language guessing and tokenizing for the languages we stem."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)

_MARKERS: dict[str, frozenset[str]] = {
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "wer",
            "wie",
            "was",
            "wann",
            "wo",
            "wohin",
            "woher",
            "warum",
            "welche",
            "welcher",
            "welches",
            "wieviel",
            "viele",
            "hat",
            "haben",
            "wurde",
            "wurden",
            "mit",
            "von",
            "den",
            "dem",
            "des",
            "ein",
            "eine",
            "einen",
            "auf",
            "für",
            "sich",
            "auch",
            "im",
            "zu",
            "zum",
            "zur",
            "bei",
            "nach",
            "über",
            "als",
            "aus",
            "sind",
            "war",
            "waren",
            "wird",
            "ich",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "was",
            "were",
            "who",
            "what",
            "when",
            "where",
            "which",
            "why",
            "how",
            "many",
            "much",
            "did",
            "does",
            "do",
            "has",
            "have",
            "had",
            "of",
            "to",
            "in",
            "on",
            "for",
            "with",
            "by",
            "from",
            "that",
            "this",
            "it",
            "as",
            "at",
            "an",
            "be",
            "been",
            "a",
        ]
    ),
}

_STEMMER_NAMES = {
    "de": "german",
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "fi": "finnish",
    "ru": "russian",
    "tr": "turkish",
    "pl": "polish",
}


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.lower())


def guess_language(text: str, default: str = "de") -> str:
    """Guess 'de' or 'en' from function words; `default` when undecided."""
    counts = {lang: 0 for lang in _MARKERS}
    for word in words(text):
        for lang, markers in _MARKERS.items():
            if word in markers:
                counts[lang] += 1
    best = max(counts, key=lambda lang: counts[lang])
    if counts[best] == 0 or list(counts.values()).count(counts[best]) > 1:
        if any(ch in text for ch in "äöüßÄÖÜ"):
            return "de"
        return default
    return best


@lru_cache(maxsize=16)
def _stemmer(lang: str):  # -> Stemmer.Stemmer | None
    """A Snowball stemmer for the language, or None when there is none."""
    import Stemmer

    name = _STEMMER_NAMES.get(lang)
    return Stemmer.Stemmer(name) if name else None


@lru_cache(maxsize=16)
def stopwords(lang: str) -> frozenset[str]:
    """Stop words for the language (empty when unknown)."""
    from bm25s import stopwords as sw

    table = {
        "en": sw.STOPWORDS_EN,
        "de": sw.STOPWORDS_GERMAN,
        "fr": sw.STOPWORDS_FRENCH,
        "es": sw.STOPWORDS_SPANISH,
        "it": sw.STOPWORDS_ITALIAN,
        "nl": sw.STOPWORDS_DUTCH,
        "pt": sw.STOPWORDS_PORTUGUESE,
        "sv": sw.STOPWORDS_SWEDISH,
        "da": sw.STOPWORDS_DANISH,
        "no": sw.STOPWORDS_NORWEGIAN,
        "ru": sw.STOPWORDS_RUSSIAN,
        "tr": sw.STOPWORDS_TURKISH,
    }
    return frozenset(table.get(lang, ()))


def terms(text: str, lang: str, stop: frozenset[str] | None = None) -> list[str]:
    """Stemmed terms without stop words (the language's, or `stop`); numbers kept as they are."""
    stop = stopwords(lang) if stop is None else stop
    kept = [w for w in words(text) if w not in stop]
    stemmer = _stemmer(lang)
    if stemmer is None:
        return kept
    return [w if w.isdigit() else stem for w, stem in zip(kept, stemmer.stemWords(kept), strict=True)]
