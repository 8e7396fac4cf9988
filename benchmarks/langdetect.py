"""Language detection: accuracy and speed on a multilingual sample.

    python -m benchmarks.langdetect [ARTICLES.jsonl ...]

The sample: tests/data/languages.jsonl (three short news sentences in each of the encoder's 15
languages, written for this), their first sentences and their first five words alone, and any JSONL
articles given (their `lang` field is the truth; by default the German gnad and XQuAD articles).
Prints accuracy per language and milliseconds per article, in lingua's low-accuracy mode (what
indexing uses) and its high-accuracy mode, with the old German/English word-list guess beside.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks import SHARED_EVAL
from retrieval.config import REPO_ROOT
from retrieval.langdetect import ENCODER_LANGUAGES, SAMPLE_CHARS, detect_language
from retrieval.language import guess_language

DEFAULT = [SHARED_EVAL / "gnad-distractors.jsonl", SHARED_EVAL / "xquad-dev" / "corpus.jsonl"]


def _load(paths: list[Path]) -> list[tuple[str, str]]:
    """(lang, text) pairs."""
    out = []
    for path in paths:
        with path.open(encoding="utf-8") as f:
            out += [(r["lang"], r["text"]) for r in map(json.loads, f) if r.get("lang")]
    return out


def _high_accuracy():
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in ENCODER_LANGUAGES]
    detector = LanguageDetectorBuilder.from_languages(*langs).build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text[:SAMPLE_CHARS])
        return found.iso_code_639_1.name.lower() if found else "de"

    return detect


def _run(name: str, detect, sample: list[tuple[str, str]]) -> None:
    detect(sample[0][1])  # load the models before timing
    started = time.perf_counter()
    found = [detect(text) for _, text in sample]
    ms = (time.perf_counter() - started) / len(sample) * 1000
    right, total = Counter(), Counter(lang for lang, _ in sample)
    for (lang, _), guess in zip(sample, found, strict=True):
        right[lang] += guess == lang
    wrong = {lang: total[lang] - right[lang] for lang in total if right[lang] < total[lang]}
    score = f"{sum(right.values())}/{len(sample)} right"
    print(f"  {name:28} {score}, {ms:.2f} ms an article; wrong: {wrong or 'none'}")


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [p for p in DEFAULT if p.exists()]
    written = _load([REPO_ROOT / "tests" / "data" / "languages.jsonl"])
    firsts = [(lang, text.split(". ")[0]) for lang, text in written]
    # a few words (a headline's length): five words, or 12 characters of an unspaced script
    snippets = [(lang, " ".join(t.split()[:5]) if " " in t else t[:12]) for lang, t in written]
    articles = _load(paths)
    high = _high_accuracy()
    for title, sample in (
        ("written sample (15 languages x 3)", written),
        ("first sentences only", firsts),
        ("five words (12 characters in zh/ja/th)", snippets),
        (f"articles from {', '.join(p.name for p in paths)}", articles),
    ):
        if not sample:
            continue
        print(f"{title}: {len(sample)} texts, {Counter(lang for lang, _ in sample).most_common()}")
        _run("lingua low accuracy", detect_language, sample)
        _run("lingua high accuracy", high, sample)
        _run("word list (de/en only)", guess_language, sample)


if __name__ == "__main__":
    main()
