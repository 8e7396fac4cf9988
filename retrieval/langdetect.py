"""Detecting an article's language with a real detector (lingua), restricted to the languages the
multilingual encoder knows, in lingua's low-accuracy mode (trigram models: ~2 ms an article on
2,000 characters, no start-up cost; the high-accuracy mode costs ~2.7 s to load and is no better
on news-length text)."""

from __future__ import annotations

import re
from functools import lru_cache

# ISO 639-1 codes of the languages of Universal Sentence Encoder multilingual (Chinese simplified
# and traditional are one language to the detector).
ENCODER_LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
# Characters of an article the detector reads (its opening is enough and keeps the time bounded).
SAMPLE_CHARS = 2000
# A language tag ('de', 'de-AT', 'pt_BR', 'EN'): its primary language is taken.
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")
# Fewer letters than this and the detector is not asked (the default is returned).
MIN_LETTERS = 5


@lru_cache(maxsize=1)
def _detector():  # -> lingua.LanguageDetector
    """The lingua detector for the encoder's languages, built once on first use."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in ENCODER_LANGUAGES
    ]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def detect_language(text: str, default: str = "de") -> str:
    """The ISO 639-1 code of the text's language among ENCODER_LANGUAGES; `default` when the text
    holds too few letters or the detector cannot decide."""
    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return default
    found = _detector().detect_language_of(sample)
    return found.iso_code_639_1.name.lower() if found is not None else default


def normalized_lang(tag: str) -> str:
    """A declared language tag as its ISO 639-1 code ('fr-FR' -> 'fr', 'EN' -> 'en', 'pt_BR' ->
    'pt'; of a list 'de, en' the first); '' for no tag or text that is none."""
    match = _TAG.match((tag or "").strip().split(",")[0].strip())
    return match.group(1).lower() if match else ""


def article_language(declared: str, text: str) -> str:
    """An article's language: the one it declares (normalised), else the one detected in its text."""
    return normalized_lang(declared) or detect_language(text)
