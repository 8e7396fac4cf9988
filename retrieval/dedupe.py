"""Recognising the same story twice: canonical URLs, a hash of the normalised text (exact
duplicates) and MinHash signatures of word shingles (near duplicates: a wire story under another
headline, a paragraph added or cut, other quotes and spacing).

MinHash is computed in numpy: each shingle is hashed once (blake2b, 64 bits, stable across runs)
and mapped by NUM_PERM multiply-add hash functions mod 2**64 (fixed seed), keeping the top 32 bits;
a signature is the minimum per function. The share of equal positions of two signatures estimates
the Jaccard similarity of their shingle sets. Candidates are found by locality-sensitive hashing:
BANDS bands of ROWS positions each, one key per band, so that stories at THRESHOLD or above meet
in at least one band with high probability; each candidate is then checked on the full signature
against THRESHOLD.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from retrieval.readers.fetch import canonical_url as canonical_url  # re-exported: one URL normaliser

NUM_PERM = 128
# 42 bands of 3 positions (126 of the 128): a pair at similarity 0.5 shares a band with
# probability 0.996, at 0.4 0.94, at 0.05 (unrelated news) 0.005.
BANDS, ROWS = 42, 3
SHINGLE_WORDS = 5
# Estimated Jaccard similarity of word 5-shingles above which two texts are one story (chosen on
# constructed near duplicates against the distinct gnad articles; see benchmarks/dedupe.py).
THRESHOLD = 0.5
# Texts with fewer words than this are only ever merged as exact duplicates (a few shared words
# say nothing about a story).
MIN_WORDS = 40

_QUOTES = str.maketrans({c: '"' for c in "„“”«»‟″〝〞＂"} | {c: "'" for c in "‚‘’‹›‛′`´"})
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_MASK32 = np.uint64(0xFFFFFFFF)


def normalized_text(text: str) -> str:
    """The text as compared: NFKC, case-folded, one kind of quote and dash, single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
    return _SPACE.sub(" ", _DASHES.sub("-", text)).strip()


def text_hash(text: str) -> str:
    """Hash of the normalised text: equal for exact duplicates up to case, quotes and spacing."""
    return hashlib.sha256(normalized_text(text).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The text's word `size`-grams (over normalised words, punctuation ignored)."""
    found = _WORD.findall(normalized_text(text))
    if len(found) <= size:
        return {" ".join(found)} if found else set()
    return {" ".join(found[i : i + size]) for i in range(len(found) - size + 1)}


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The fixed multipliers (odd) and offsets of the NUM_PERM hash functions."""
    rng = np.random.default_rng(20261130)
    a = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
    return a, b


_A, _B = _permutations()


def minhash(text: str) -> np.ndarray:
    """The text's MinHash signature: NUM_PERM uint32 values (all 2**32-1 for a text without words)."""
    grams = shingles(text)
    if not grams:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    hashed = np.array(
        [int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little") for g in grams],
        dtype=np.uint64,
    )
    with np.errstate(over="ignore"):
        mixed = (hashed[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return (mixed & _MASK32).min(axis=0).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def band_keys(signature: np.ndarray) -> list[int]:
    """One 63-bit key per LSH band of the signature (as SQLite integers)."""
    rows = np.asarray(signature, dtype=np.uint32)[: BANDS * ROWS].reshape(BANDS, ROWS)
    return [
        int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little") >> 1 for row in rows
    ]


@dataclass(frozen=True)
class Fingerprint:
    """What duplicate detection knows of an article's text."""

    hash: str
    signature: np.ndarray
    words: int
    bands: tuple[int, ...]  # band_keys(signature), computed once

    @property
    def comparable(self) -> bool:
        """Whether the text is long enough to be matched as a near duplicate."""
        return self.words >= MIN_WORDS


def fingerprint(text: str) -> Fingerprint:
    """The text's normalised hash, MinHash signature (and its band keys) and word count."""
    signature = minhash(text)
    return Fingerprint(text_hash(text), signature, len(_WORD.findall(text)), tuple(band_keys(signature)))
