"""Tiny language guessing and tokenizing for the languages we stem."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)

_MARKERS: dict[str, frozenset[str]] = {
    "de": frozenset(
        """
        der die das und ist nicht wer wie was wann wo wohin woher warum welche welcher welches
        wieviel viele hat haben wurde wurden mit von den dem des ein eine einen auf für sich auch
        im zu zum zur bei nach über als aus sind war waren wird ich
        """.split()
    ),
    "en": frozenset(
        """
        the and is are was were who what when where which why how many much did does do has have
        had of to in on for with by from that this it as at an be been a
        """.split()
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
    "ar": "arabic",
    "cs": "czech",
    "el": "greek",
    "hu": "hungarian",
    "ro": "romanian",
    "id": "indonesian",
    "ca": "catalan",
}
# Languages written without spaces between words: their runs of letters are indexed as
# overlapping character pairs (a common, dictionary-free choice for CJK and Thai search).
_UNSPACED = frozenset({"zh", "ja", "th"})
_UNSPACED_CHARS = re.compile(
    r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


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
        "zh": sw.STOPWORDS_CHINESE,
        "ko": sw.STOPWORDS_KOREAN,
    }
    return frozenset(table.get(lang, ()))


def terms(text: str, lang: str, stop: frozenset[str] | None = None) -> list[str]:
    """Stemmed terms without stop words (the language's, or `stop`); numbers kept as they are.
    In Chinese, Japanese and Thai text, runs of those scripts become character pairs."""
    stop = stopwords(lang) if stop is None else stop
    kept = [w for w in _tokens(text, lang) if w not in stop]
    stemmer = _stemmer(lang)
    if stemmer is None:
        return kept
    return [w if w.isdigit() else stem for w, stem in zip(kept, stemmer.stemWords(kept), strict=True)]


def _tokens(text: str, lang: str) -> list[str]:
    """Word tokens; for an unspaced language, its script's runs as overlapping character pairs."""
    if lang not in _UNSPACED:
        return words(text)
    out: list[str] = []
    for token in words(text):
        pieces = _UNSPACED_CHARS.split(token)
        runs = _UNSPACED_CHARS.findall(token)
        out.extend(p for p in pieces if p)
        for run in runs:
            out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return out


QUERY_LANGUAGES = ("de", "en")


def index_terms(text: str, lang: str) -> list[str]:
    """The terms a text in `lang` is found by: stemmed by its own language; a text in another
    language than the query languages (German and English, how questions are stemmed) also gets
    each word's stems in those, where they differ, so a question matches it whatever its words."""
    lang = lang or "de"
    if lang in QUERY_LANGUAGES:
        return terms(text, lang)
    stop = stopwords(lang) | query_stopwords()
    own = terms(text, lang, stop)
    kept = [w for w in _tokens(text, lang) if w not in stop]
    if len(kept) != len(own):
        return own
    variants = [terms(" ".join(kept), q, frozenset()) for q in QUERY_LANGUAGES]
    out: list[str] = []
    for n, term in enumerate(own):
        out.append(term)
        for other in dict.fromkeys(v[n] for v in variants if len(v) == len(own)):
            if other != term:
                out.append(other)
    return out


_CAPITALIZED_OR_NUMBER = re.compile(r"\b(?:\w*\d\w*|[A-ZÄÖÜ][\w'’-]*)")


def query_terms(question: str, languages: Sequence[str] = QUERY_LANGUAGES) -> list[str]:
    """Stemmed query terms in each language, without repeats."""
    stop = (
        query_stopwords()
        if tuple(languages) == QUERY_LANGUAGES
        else frozenset().union(*(stopwords(lang) for lang in languages))
    )
    seen: dict[str, None] = {}
    for lang in languages:
        for term in terms(question, lang, stop):
            seen.setdefault(term, None)
    return list(seen)


def key_terms(question: str) -> list[str]:
    """Stemmed names and numbers of a question: capitalized words past the first, and numbers."""
    found = _CAPITALIZED_OR_NUMBER.findall(question)
    first = re.match(r"\W*(\w+)", question)
    if first and found and found[0] == first.group(1) and not any(c.isdigit() for c in found[0]):
        found = found[1:]
    return query_terms(" ".join(found))


_SPELLING = (
    ("ph", "f"),
    ("th", "t"),
    ("c", "k"),
    ("y", "i"),
    ("ä", "a"),
    ("ö", "o"),
    ("ü", "u"),
    ("ß", "ss"),
)
COGNATE_PREFIX = 5


def cognate_keys(text: str) -> set[str]:
    """Spelling-normalized 5-letter prefixes of the longer non-stop words: they match across
    languages for names and shared roots (Universität ~ university, Defensive ~ defense)."""
    stop = query_stopwords()
    out = set()
    for word in re.findall(r"[^\W\d_]{4,}", text.lower()):
        if word in stop:
            continue
        for old, new in _SPELLING:
            word = word.replace(old, new)
        out.add(word[:COGNATE_PREFIX])
    return out


@lru_cache(maxsize=1)
def query_stopwords() -> frozenset[str]:
    """Stop words of every query language."""
    return frozenset().union(*(stopwords(lang) for lang in QUERY_LANGUAGES))


def share_in(needles: set[str] | frozenset[str], haystack: set[str] | frozenset[str]) -> float:
    """Share of `needles` found in `haystack` (0 when there are none)."""
    return len(needles & haystack) / len(needles) if needles else 0.0
