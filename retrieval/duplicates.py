"""Deciding which incoming articles are stories already stored (or met earlier in the same run):
the same canonical URL, the same normalised text, or a MinHash similarity of at least THRESHOLD
between articles dated at most MAX_DAYS_APART apart (a republished story appears within days; the
same wording months later is a new report on a running story, such as updated figures). This
module only reads the store (through `DuplicateLookup`); the pipeline writes what it decides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

import numpy as np

from retrieval.dedupe import THRESHOLD, Fingerprint, fingerprint, similarity
from retrieval.documents import Article
from retrieval.langdetect import article_language
from retrieval.readers.fetch import canonical_url
from retrieval.store.sources import NewFingerprint, SourceRow

MAX_DAYS_APART = 7  # near duplicates dated further apart are distinct reports


class DuplicateLookup(Protocol):
    """What duplicate detection asks the store (RecordStore implements it)."""

    def articles_by_text_hash(self, hashes: Sequence[str]) -> dict[str, str]: ...

    def articles_by_url(self, urls: Sequence[str]) -> dict[str, str]: ...

    def near_candidates(self, bands: Sequence[int]) -> dict[str, bytes]: ...

    def dates(self, ids: Sequence[str]) -> dict[str, str]: ...


@dataclass(frozen=True)
class Merge:
    """An incoming article that is a stored (or earlier) story: `into` is that article's id."""

    article: Article
    into: str
    how: str  # "url", "text" (same normalised text) or "near" (MinHash)
    score: float = 1.0


@dataclass
class DuplicatePlan:
    """Articles to store as new stories, and articles to list as sources of others."""

    fresh: list[Article] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)


def with_language(article: Article) -> Article:
    """The article with its language tag normalised, or detected when it has none."""
    lang = article_language(article.lang, article.text)
    return article if lang == article.lang else replace(article, lang=lang)


def article_url(article: Article) -> str:
    """The article's canonical URL ('' when it has none)."""
    return canonical_url(str(article.meta.get("url", "") or ""))


def source_row(article: Article, into: str | None = None) -> SourceRow:
    """The article's source row: under the article it repeats (`into`), else under itself."""
    a = article
    return SourceRow(a.id, into or a.id, a.title, a.date, a.source, article_url(a), a.content_hash)


def merged_source(merge: Merge) -> SourceRow:
    """The source row listing a merged duplicate under the article it repeats."""
    return source_row(merge.article, merge.into)


def stored_fingerprint(fp: Fingerprint) -> NewFingerprint:
    """A fingerprint as the store keeps it (no band keys for a text too short to compare)."""
    bands = fp.bands if fp.comparable else ()
    return NewFingerprint(fp.hash, fp.signature.tobytes(), bands)


class _Seen:
    """The stories accepted so far in this run."""

    def __init__(self) -> None:
        self.by_hash: dict[str, str] = {}
        self.by_url: dict[str, str] = {}
        self.by_band: dict[tuple[int, int], list[str]] = {}
        self.signatures: dict[str, np.ndarray] = {}
        self.dates: dict[str, str] = {}

    def add(self, article: Article, fp: Fingerprint, url: str) -> None:
        self.dates[article.id] = article.date
        self.by_hash.setdefault(fp.hash, article.id)
        if url:
            self.by_url.setdefault(url, article.id)
        if fp.comparable:
            self.signatures[article.id] = fp.signature
            for band, key in enumerate(fp.bands):
                self.by_band.setdefault((band, key), []).append(article.id)

    def candidates(self, fp: Fingerprint) -> dict[str, np.ndarray]:
        found = {
            a for band, key in enumerate(fp.bands) for a in self.by_band.get((band, key), ())
        }
        return {a: self.signatures[a] for a in found}


def plan_duplicates(
    articles: Iterable[Article], store: DuplicateLookup, threshold: float = THRESHOLD
) -> DuplicatePlan:
    """Split incoming articles (none of them stored under its own id) into new stories and
    duplicates of stored or earlier ones."""
    articles = list(articles)
    plan = DuplicatePlan(fingerprints={a.id: fingerprint(a.text) for a in articles})
    urls = {a.id: article_url(a) for a in articles}
    stored_hash = store.articles_by_text_hash([fp.hash for fp in plan.fingerprints.values()])
    stored_url = store.articles_by_url(list(urls.values()))
    seen = _Seen()
    for article in articles:
        fp, url = plan.fingerprints[article.id], urls[article.id]
        merge = _exact(article, fp, url, stored_url, stored_hash, seen) or _near(
            article, fp, store, seen, threshold
        )
        if merge is not None and merge.into != article.id:
            plan.merges.append(merge)
        else:
            plan.fresh.append(article)
            seen.add(article, fp, url)
    return plan


def _exact(
    article: Article, fp: Fingerprint, url: str, stored_url: dict, stored_hash: dict, seen: _Seen
) -> Merge | None:
    """A merge by canonical URL or normalised-text hash, or None."""
    target = (stored_url.get(url) or seen.by_url.get(url)) if url else None
    if target:
        return Merge(article, target, "url")
    target = stored_hash.get(fp.hash) or seen.by_hash.get(fp.hash)
    return Merge(article, target, "text") if target else None


def _near(
    article: Article, fp: Fingerprint, store: DuplicateLookup, seen: _Seen, threshold: float
) -> Merge | None:
    """A merge with the most similar stored or earlier story at or above the threshold, or None."""
    if not fp.comparable:
        return None
    candidates = {
        a: np.frombuffer(sig, dtype=np.uint32)
        for a, sig in store.near_candidates(list(fp.bands)).items()
    }
    stored = set(candidates)
    candidates.update(seen.candidates(fp))
    candidates.pop(article.id, None)
    scored = sorted(((similarity(fp.signature, sig), a) for a, sig in candidates.items()), reverse=True)
    scored = [(score, a) for score, a in scored if score >= threshold]
    close = [a for _score, a in scored if a in stored]  # only their dates are asked for
    stored_dates = store.dates(close) if close else {}
    for score, candidate in scored:
        if close_in_time(article.date, seen.dates.get(candidate) or stored_dates.get(candidate, "")):
            return Merge(article, candidate, "near", score)
    return None


def close_in_time(first: str, second: str) -> bool:
    """Whether two ISO dates are at most MAX_DAYS_APART apart (True when either is unknown)."""
    try:
        days = abs((date.fromisoformat(first[:10]) - date.fromisoformat(second[:10])).days)
    except ValueError:
        return True
    return days <= MAX_DAYS_APART


class FingerprintStore(DuplicateLookup, Protocol):
    """A store that can list and take fingerprints of articles stored without them."""

    def without_fingerprints(self, limit: int = 1000) -> list[Article]: ...

    def add_fingerprints(
        self, items: Sequence[tuple[str, NewFingerprint]], own: Sequence[SourceRow]
    ) -> None: ...


def backfill(store: FingerprintStore, batch: int = 1000) -> int:
    """Give articles stored by an earlier release (without fingerprints or sources) both, a
    transaction per batch, so that new copies of them are recognised; returns how many."""
    done = 0
    while articles := store.without_fingerprints(batch):
        store.add_fingerprints(
            [(a.id, stored_fingerprint(fingerprint(a.text))) for a in articles],
            [source_row(a) for a in articles],
        )
        done += len(articles)
    return done
