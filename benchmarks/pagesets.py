"""Held-out sets of saved news pages turned into the format of benchmarks/pages.py.

Each function reads a set where it was unpacked (never inside this repository), writes the pages,
decompressed, into OUT/pages/ and returns the cases (URL -> {"file", "title", "date", "with"}); the
command line writes them to OUT/eval.json. None of these pages was looked at while tuning the reader.

    python -m benchmarks.pagesets fundus|goose3|zyte SOURCE OUT
    python -m benchmarks.pages --show OUT/eval.json OUT/pages

Sets (sources, versions, licences; where each expected value comes from):
- fundus: github flairNLP/fundus at 18da6e53 (August 2026), MIT licence,
  tests/resources/parser/test_data/<country>/<Publisher>.json with <Publisher>_<date>.html.gz and
  meta.info (URL, crawl date). 257 real news pages of 181 publishers in 41 country groups (85 German,
  6 Austrian, 7 Swiss pages), saved 2023-2026. Expected values are the output of fundus's parser
  written by hand for each publisher (XPath/CSS and JSON-LD rules), stored and reviewed by people
  with each parser change: title, publishing_date (its day as written, offset kept), body paragraphs
  (first, middle and last body paragraph used as text snippets). One JSON entry per parser version;
  fundus maps a page to the version valid at its crawl date, so the pages sorted by crawl date are
  paired with the versions in order (publishers whose counts differ are skipped).
- goose3: github goose3/goose3 at c5a8902e (April 2026), Apache-2.0, tests/data/content/*.json
  with *.html: 44 pages, mostly real ones saved 2010-2018 (CNN, BusinessWeek, Time, TechCrunch, ...),
  a few stubs written for unit tests.
  Expected: "title" (on a few pages, goose's title with the site name cut or not) and "cleaned_text",
  the first sentences of the article text as goose printed them and its authors checked (used as a
  text snippet). Its date tests are small pages written for unit tests, not saved pages: left out.
- zyte: github scrapinghub/article-extraction-benchmark at 4a3bc979 (March 2026), MIT licence,
  ground-truth.json with html/*.html.gz: 181 news and blog pages with the article body marked by
  people (Zyte's annotators); no title or date. First, middle and last paragraphs used as snippets.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

_MIN_SNIPPET = 40


def _snippets(paragraphs: list[str]) -> list[str]:
    """First, middle and last paragraph long enough to be telling (no cut ones ending in '...')."""
    kept = [p.strip() for p in paragraphs if len(p.strip()) >= _MIN_SNIPPET and not p.strip().endswith("...")]
    if not kept:
        return []
    picks = [kept[0], kept[len(kept) // 2], kept[-1]]
    return list(dict.fromkeys(picks))


def _day(value: object) -> str:
    """The YYYY-MM-DD day a date value starts with ('' when it has none)."""
    text = value if isinstance(value, str) else ""
    return text[:10] if re.match(r"\d{4}-\d\d-\d\d", text) else ""


def _save(data: bytes, name: str, out: Path) -> str:
    """Write a page into OUT/pages, decompressed; its file name."""
    pages = out / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    if name.endswith(".gz"):
        data, name = gzip.decompress(data), name.removesuffix(".gz")
    (pages / name).write_bytes(data)
    return name


def _version_key(name: str) -> list[int]:
    """Parser versions in order: V1 < V1_1 < V1_2 < V2 < V10."""
    return [int(part) for part in re.findall(r"\d+", name)]


def _fundus_body(body: object) -> list[str]:
    """The paragraphs of a fundus article body (summary left out)."""
    if not isinstance(body, dict):
        return []
    return [p for section in body.get("sections", []) for p in section.get("paragraphs", [])]


def fundus(source: Path, out: Path) -> dict[str, dict]:
    """Cases of fundus's parser test data (SOURCE = the test_data folder)."""
    cases: dict[str, dict] = {}
    for country in sorted(p for p in source.iterdir() if (p / "meta.info").is_file()):
        meta = json.loads((country / "meta.info").read_text(encoding="utf-8"))
        for expected_file in sorted(country.glob("*.json")):
            publisher = expected_file.stem
            versions = json.loads(expected_file.read_text(encoding="utf-8"))
            pages = sorted(
                (info["crawl_date"], name)
                for name, info in meta.items()
                if name.startswith(publisher + "_") and (country / name).is_file()
            )
            if len(pages) != len(versions):
                print(
                    f"skipped {country.name}/{publisher}: {len(pages)} pages, {len(versions)} versions",
                    file=sys.stderr,
                )
                continue
            for (_, name), version in zip(pages, sorted(versions, key=_version_key), strict=True):
                want = versions[version]
                cases[meta[name]["url"]] = {
                    "file": _save((country / name).read_bytes(), name, out),
                    "title": want.get("title") or "",
                    "date": _day(want.get("publishing_date")),
                    "with": _snippets(_fundus_body(want.get("body"))),
                    "country": country.name,
                }
    return cases


def goose3(source: Path, out: Path) -> dict[str, dict]:
    """Cases of goose3's saved content pages (SOURCE = its tests/data folder)."""
    cases: dict[str, dict] = {}
    for expected_file in sorted((source / "content").glob("*.json")):
        page = expected_file.with_suffix(".html")
        test = json.loads(expected_file.read_text(encoding="utf-8"))
        if not page.is_file():
            continue
        want = test.get("expected", {})
        text = want.get("cleaned_text", "")
        cases[test.get("url") or page.name] = {
            "file": _save(page.read_bytes(), page.name, out),
            "title": want.get("title") or "",
            "with": [text] if len(text) >= _MIN_SNIPPET else [],
        }
    return cases


def zyte(source: Path, out: Path) -> dict[str, dict]:
    """Cases of Zyte's article-extraction-benchmark (SOURCE = the repository's top folder)."""
    truth = json.loads((source / "ground-truth.json").read_text(encoding="utf-8"))
    cases: dict[str, dict] = {}
    for key, want in truth.items():
        page = source / "html" / f"{key}.html.gz"
        if page.is_file():
            cases[want["url"]] = {
                "file": _save(page.read_bytes(), page.name, out),
                "with": _snippets(want["articleBody"].split("\n")),
            }
    return cases


SETS = {"fundus": fundus, "goose3": goose3, "zyte": zyte}


def main(argv: list[str]) -> int:
    """Convert one set: NAME SOURCE OUT."""
    name, source, out = argv[0], Path(argv[1]), Path(argv[2])
    cases = SETS[name](source, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(cases)} pages written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
