"""Duplicate detection on real articles: false merges among distinct ones, and recall on near
duplicates built from them (headline changed, a paragraph added or cut, quotes and spacing
changed, and a wire-style rewrite doing several at once).

    python -m benchmarks.dedupe [ARTICLES.jsonl] [--sample N]

Prints the MinHash similarity of the closest distinct pairs, false merges and recall for a range
of thresholds, and what `plan_duplicates` (LSH candidates + THRESHOLD, as indexing runs it) merges.
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np

from benchmarks import SHARED_EVAL
from retrieval.dedupe import THRESHOLD, fingerprint, similarity
from retrieval.documents import Article
from retrieval.duplicates import plan_duplicates

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class _EmptyStore:
    """A store with nothing in it: every comparison happens within the run."""

    def articles_by_text_hash(self, hashes):
        return {}

    def articles_by_url(self, urls):
        return {}

    def near_candidates(self, bands):
        return {}

    def dates(self, ids):
        return {}


def sentences(text: str) -> list[str]:
    """The text's sentences (split after . ! ?)."""
    return [s for s in _SENTENCE.split(text.strip()) if s]


def variants(text: str, other: str) -> dict[str, str]:
    """Near duplicates of `text` (`other` is a different article lending a headline and a paragraph)."""
    own, lend = sentences(text), sentences(other)
    mid = len(own) // 2
    cut = max(1, len(own) // 6)
    styled = text.replace('"', "„", 1).replace('"', "“", 1).replace(" ", "  ", 5).replace(". ", ".\n", 3)
    return {
        "headline": " ".join([lend[0], *own[1:]]),
        "paragraph added": " ".join([*own[:mid], *lend[1:4], *own[mid:]]),
        "paragraph cut": " ".join([*own[:mid], *own[mid + cut :]]),
        "quotes and spacing": styled,
        "wire rewrite": " ".join([lend[0], *own[1 : len(own) - cut]]).replace('"', "«"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("articles", nargs="?", default=str(SHARED_EVAL / "gnad-distractors.jsonl"))
    parser.add_argument("--sample", type=int, default=300, help="articles to build near duplicates from")
    args = parser.parse_args()
    with open(args.articles, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    started = time.perf_counter()
    prints = [fingerprint(t) for t in texts]
    per = (time.perf_counter() - started) / len(texts) * 1000
    print(f"{len(texts)} articles; fingerprint (MinHash signature, text hash) {per:.2f} ms per article")
    sigs = np.stack([p.signature for p in prints])
    hashes = [p.hash for p in prints]
    print(f"distinct normalised-text hashes: {len(set(hashes))} of {len(texts)}")
    pairs = []
    for i in range(len(texts)):
        same = (sigs[i + 1 :] == sigs[i]).mean(axis=1)
        pairs.extend(same.tolist())
    pairs = np.array(pairs)
    top = np.sort(pairs)[-5:][::-1]
    print(f"distinct pairs: {len(pairs)}; highest similarities {', '.join(f'{x:.3f}' for x in top)}")
    long = np.array([p.comparable for p in prints])
    kept = sigs[long]
    close = max(float((kept[i + 1 :] == kept[i]).mean(axis=1).max(initial=0)) for i in range(len(kept)))
    print(f"highest similarity between distinct articles long enough to compare ({long.sum()}): {close:.3f}")
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(texts), size=min(args.sample, len(texts)), replace=False)
    copies = [
        Article(id=f"a{i}-{name}", text=text)
        for i in chosen
        for name, text in variants(texts[i], texts[(i + 1) % len(texts)]).items()
    ]
    copy_prints = {c.id: fingerprint(c.text) for c in copies}
    scores: dict[str, list[float]] = {}
    for c in copies:
        i, name = c.id[1:].split("-", 1)
        scores.setdefault(name, []).append(similarity(sigs[int(i)], copy_prints[c.id].signature))
    print("\nthreshold  false merges (pairs)  " + "  ".join(f"{n:>18}" for n in scores))
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        recall = [np.mean(np.array(v) >= threshold) for v in scores.values()]
        print(
            f"{threshold:9.2f}  {int((pairs >= threshold).sum()):20d}  "
            + "  ".join(f"{r:18.3f}" for r in recall)
        )
    print("\nnear-duplicate similarity, min / 5th percentile / median:")
    for name, values in scores.items():
        v = np.array(values)
        print(f"  {name:20} {v.min():.3f} / {np.percentile(v, 5):.3f} / {np.median(v):.3f}")
    articles = [Article(id=f"a{i}", text=t) for i, t in enumerate(texts)]
    started = time.perf_counter()
    plan = plan_duplicates(articles + copies, _EmptyStore())
    seconds = time.perf_counter() - started
    wrong = [m for m in plan.merges if m.into.split("-")[0] != m.article.id.split("-")[0]]
    false_distinct = [m for m in plan.merges if "-" not in m.article.id]
    missed = [c for c in copies if c.id not in {m.article.id for m in plan.merges}]
    short_missed = sum(1 for c in missed if not copy_prints[c.id].comparable)
    print(
        f"\nplan_duplicates at THRESHOLD {THRESHOLD}: {len(articles)} distinct + {len(copies)} near "
        f"duplicates in {seconds:.1f} s ({seconds / (len(articles) + len(copies)) * 1000:.2f} ms an "
        f"article): {len(plan.merges)} merged; near duplicates missed: {len(missed)} ({short_missed} of "
        f"them under MIN_WORDS); distinct articles merged (false merges): {len(false_distinct)}; "
        f"merged into the wrong article: {len(wrong)}"
    )
    short = sum(1 for p in prints if not p.comparable)
    print(f"articles too short to compare as near duplicates: {short}")
    _through_the_index(articles, copies)


def _through_the_index(articles: list[Article], copies: list[Article]) -> None:
    """Index the articles, then the copies, with the fake embedder: what the store merges."""
    import tempfile
    from pathlib import Path

    from retrieval.config import Settings
    from retrieval.embeddings import HashEmbedder
    from retrieval.pipeline import Newsbot

    with tempfile.TemporaryDirectory() as tmp:
        bot = Newsbot(Settings(home=Path(tmp)), embedder=HashEmbedder(), index_dir=Path(tmp) / "index")
        first = bot.index_articles(articles)
        second = bot.index_articles(copies)
        again = bot.index_articles(articles + copies)
        print(
            f"through the index (fake embedder): {first.added} stored in {first.seconds:.1f} s; "
            f"then {len(copies)} copies: {second.added} stored, {second.merged} merged in "
            f"{second.seconds:.1f} s ({second.seconds / len(copies) * 1000:.2f} ms a copy); "
            f"everything again: {again.unchanged} unchanged, {again.added + again.merged} new"
        )
        bot.close()


if __name__ == "__main__":
    main()
