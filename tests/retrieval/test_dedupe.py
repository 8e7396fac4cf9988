"""Duplicate detection: canonical URLs, normalised-text hashes, MinHash near duplicates, planning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.dedupe import (
    MIN_WORDS,
    THRESHOLD,
    band_keys,
    canonical_url,
    fingerprint,
    minhash,
    normalized_text,
    similarity,
    text_hash,
)
from retrieval.documents import Article
from retrieval.duplicates import plan_duplicates, with_language
from retrieval.langdetect import normalized_lang
from tests.conftest import SHARED

STORY = (
    "Die Stadt Wien baut eine neue U-Bahn-Linie, die den Westen mit dem Zentrum verbinden soll. "
    "Die Linie U5 soll nach den Plänen der Wiener Linien im Jahr 2026 eröffnet werden. "
    "Bürgermeister Michael Häupl sprach am Freitag von einem Jahrhundertprojekt für die ganze Region. "
    "Die Kosten betragen nach ersten Schätzungen rund 950 Millionen Euro, die Bund und Stadt teilen. "
    "Kritiker bemängeln, dass die Bauarbeiten den Verkehr in der Innenstadt jahrelang behindern werden. "
    "Die Opposition im Gemeinderat fordert eine unabhängige Prüfung der Kostenschätzung. "
    "Die ersten Bauarbeiten sollen im Herbst am Frankhplatz beginnen, teilten die Wiener Linien mit."
)
PARAGRAPH = (
    "Auch der Fahrgastverband begrüßte das Vorhaben, wünscht sich aber kürzere Intervalle "
    "auf den bestehenden Linien."
)
OTHER = (
    "In Graz trat nach tagelangem Regen die Mur über die Ufer und überflutete mehrere Straßen. "
    "Mehr als 300 Feuerwehrleute waren die ganze Nacht im Einsatz, um Keller auszupumpen. "
    "Verletzt wurde niemand, sagte ein Sprecher der Polizei am Morgen. "
    "Die Stadt richtete Notquartiere in zwei Schulen ein, in denen rund 80 Menschen übernachteten. "
    "Der Pegel soll nach Angaben des Hydrographischen Dienstes bis zum Abend wieder sinken. "
    "Die Landesregierung kündigte Soforthilfen für betroffene Haushalte an."
)
GNAD = SHARED / "eval" / "gnad-distractors.jsonl"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://Example.COM/a?utm_source=x&utm_medium=y&id=3#top", "https://example.com/a?id=3"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a?fbclid=abc", "https://example.com/a"),
        ("https://example.com:8443/a?gclid=1&b=2&a=1", "https://example.com:8443/a?b=2&a=1"),
        ("HTTPS://www.derstandard.at", "https://www.derstandard.at/"),
        ("https://example.com/a?x=", "https://example.com/a?x="),
        ("https://example.com/a?mc_cid=1&msclkid=2&ref=home", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("ftp://example.com/a#x", "ftp://example.com/a#x"),
        ("not a url", "not a url"),
        ("", ""),
        ("https://example.com:99999/a", "https://example.com/a"),
        ("http://[::1]:8080/a?utm_term=x", "http://[::1]:8080/a"),
        ("http://[::1]:80/a", "http://[::1]/a"),
        ("http://[::1/a", "http://[::1/a"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
    assert canonical_url(canonical_url(url)) == canonical_url(url)


def test_exact_duplicates_hash_alike_despite_case_quotes_dashes_and_spacing() -> None:
    a = "Er sagte: „Das ist gut“ – und ging.\n\nDann  kam   der Regen."
    b = 'er sagte: "das ist gut" - und ging. dann kam der regen.'
    assert normalized_text(a) == normalized_text(b)
    assert text_hash(a) == text_hash(b)
    assert text_hash(a) != text_hash(a.replace("gut", "schlecht"))


@pytest.mark.parametrize(
    "variant",
    [
        "Wien bekommt eine neue U-Bahn: Häupl feiert Jahrhundertprojekt. " + STORY.split(". ", 1)[1],
        STORY.replace("Kritiker bemängeln", PARAGRAPH + " Kritiker bemängeln"),
        STORY.replace(
            "Die Opposition im Gemeinderat fordert eine unabhängige Prüfung der Kostenschätzung. ", ""
        ),
        STORY.replace("„", '"').replace(". ", ".\n\n"),
    ],
    ids=["headline", "paragraph added", "paragraph removed", "quotes and spacing"],
)
def test_near_duplicates_are_above_the_threshold_and_share_a_band(variant: str) -> None:
    a, b = minhash(STORY), minhash(variant)
    assert similarity(a, b) >= THRESHOLD
    assert set(enumerate(band_keys(a))) & set(enumerate(band_keys(b)))


def test_distinct_stories_are_far_below_the_threshold() -> None:
    assert similarity(minhash(STORY), minhash(OTHER)) < 0.1


def test_signatures_are_stable_and_typed() -> None:
    sig = minhash(STORY)
    assert sig.dtype == np.uint32 and sig.shape == (128,)
    assert np.array_equal(sig, minhash(STORY))
    assert band_keys(sig) == band_keys(minhash(STORY))
    assert all(0 <= key < 2**63 for key in band_keys(sig))
    assert similarity(minhash(""), minhash("")) == 1.0 and not fingerprint("").comparable
    assert fingerprint(STORY).bands == tuple(band_keys(minhash(STORY)))


class FakeLookup:
    """A store answering from canned rows."""

    def __init__(self, hashes=None, urls=None, signatures=None, dates=None) -> None:
        self.hashes, self.urls, self.signatures = hashes or {}, urls or {}, signatures or {}
        self.stored_dates = dates or {}

    def articles_by_text_hash(self, hashes):
        return {h: self.hashes[h] for h in hashes if h in self.hashes}

    def articles_by_url(self, urls):
        return {u: self.urls[u] for u in urls if u in self.urls}

    def near_candidates(self, bands):
        return {a: s.tobytes() for a, s in self.signatures.items()}

    def dates(self, ids):
        return {a: self.stored_dates.get(a, "") for a in ids}


def test_plan_merges_within_the_run_by_text_url_and_similarity() -> None:
    articles = [
        Article("a", STORY, meta={"url": "https://example.com/u5"}),
        Article("b", OTHER),
        Article("c", STORY.upper()),
        Article("d", "Kurz.", meta={"url": "https://EXAMPLE.com/u5?utm_source=feed#x"}),
        Article("e", STORY.replace("Kritiker bemängeln", PARAGRAPH + " Kritiker bemängeln")),
        Article("f", "Kurz."),
    ]
    plan = plan_duplicates(articles, FakeLookup())
    assert [a.id for a in plan.fresh] == ["a", "b", "f"]
    assert [(m.article.id, m.into, m.how) for m in plan.merges] == [
        ("c", "a", "text"),
        ("d", "a", "url"),
        ("e", "a", "near"),
    ]


def test_plan_merges_into_stored_articles() -> None:
    stored = FakeLookup(
        hashes={text_hash(OTHER): "graz"},
        urls={"https://example.com/u5": "wien"},
        signatures={"wien": minhash(STORY)},
    )
    articles = [
        Article("x", OTHER),
        Article("y", "Etwas anderes.", meta={"url": "https://example.com/u5?fbclid=1"}),
        Article("z", STORY.replace("Die Opposition", "Die Grünen")),
    ]
    plan = plan_duplicates(articles, stored)
    assert plan.fresh == []
    assert [(m.article.id, m.into, m.how) for m in plan.merges] == [
        ("x", "graz", "text"),
        ("y", "wien", "url"),
        ("z", "wien", "near"),
    ]


def test_near_duplicates_dated_weeks_apart_are_distinct_reports() -> None:
    update = STORY.replace("950 Millionen", "1,2 Milliarden")
    articles = [
        Article("jan", STORY, date="2015-01-20"),
        Article("may", update, date="2015-05-12"),
        Article("copy", update, date="2015-05-14"),
        Article("undated", update.replace("Die Opposition", "Die Grünen")),
    ]
    plan = plan_duplicates(articles, FakeLookup())
    assert [a.id for a in plan.fresh] == ["jan", "may"]
    assert [(m.article.id, m.into) for m in plan.merges] == [("copy", "may"), ("undated", "may")]
    stored = FakeLookup(signatures={"old": minhash(STORY)}, dates={"old": "2014-12-01"})
    new = [Article("new", update, date="2015-01-02")]
    assert [a.id for a in plan_duplicates(new, stored).fresh] == ["new"]
    stored.stored_dates["old"] = "2014-12-30"
    assert plan_duplicates(new, stored).merges[0].into == "old"


def test_dates_are_asked_only_for_stored_candidates_at_or_above_the_threshold() -> None:
    asked: list[list[str]] = []

    class Counting(FakeLookup):
        def dates(self, ids):
            asked.append(sorted(ids))
            return super().dates(ids)

    signatures = {"same": minhash(STORY), "other": minhash(OTHER)}
    stored = Counting(signatures=signatures, dates={"same": "2015-01-02"})
    plan = plan_duplicates([Article("new", STORY.replace("Die Opposition", "Die Grünen"))], stored)
    assert plan.merges[0].into == "same" and asked == [["same"]]
    asked.clear()
    plan_duplicates([Article("far", PARAGRAPH * 3)], Counting(signatures={"other": minhash(OTHER)}))
    assert asked == []  # no candidate close enough: no query


def test_short_texts_merge_only_when_exactly_equal() -> None:
    short = " ".join(STORY.split()[: MIN_WORDS - 5])
    plan = plan_duplicates([Article("a", short), Article("b", short + " Ende.")], FakeLookup())
    assert [a.id for a in plan.fresh] == ["a", "b"]


@pytest.mark.skipif(not GNAD.exists(), reason="shared/eval is not available")
def test_distinct_real_articles_never_merge() -> None:
    with GNAD.open(encoding="utf-8") as f:
        articles = [Article(r["id"], r["text"]) for r in map(json.loads, f)]
    plan = plan_duplicates(articles, FakeLookup())
    assert plan.merges == [] and len(plan.fresh) == len(articles)


@pytest.mark.parametrize(("tag", "code"), [("fr-FR", "fr"), ("EN", "en"), ("pt_BR", "pt"), (" de ", "de")])
def test_language_tags_are_normalised(tag: str, code: str) -> None:
    assert normalized_lang(tag) == code
    assert with_language(Article("a", "Le texte est en français.", lang=tag)).lang == code


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"https?://[A-Za-z0-9.:@\[\]-]{0,20}/?[ -~]{0,40}", fullmatch=True),
    )
)
def test_canonical_url_never_fails_and_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert isinstance(once, str) and canonical_url(once) == once
    assert "utm_" not in once.split("?", 1)[-1] or not once.startswith("http")
