"""How the feed reader fares on feeds no one here wrote: feedparser's own test suite (the
`tests/` folder of its source distribution on PyPI: ~1,900 small RSS, Atom, RDF and CDF files,
well-formed and ill-formed, each with the expectation feedparser is tested against).

Prints, over every .xml/.rdf file: how many the reader takes as feeds, gives entries for, or
refuses (and with what reason), crashes (must be 0) and the time per file; and, for the files
whose expectation names the first entry's parsed date (`entries[0]['published_parsed'] == ...` or
`updated_parsed`), how often the reader's ISO date equals that date (feedparser's is in UTC; the
reader keeps the date as written, so a time zone can move it by a day).

    python -m benchmarks.feeds FEEDPARSER_SDIST/tests
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

from retrieval.readers.feeds import FeedError, entry_date, kind_of, read_feed

_EXPECT_DATE = re.compile(r"entries\[0\]\['(published|updated)_parsed'\]\s*==\s*\((\d+),\s*(\d+),\s*(\d+)")


def _first_entry_date(data: bytes) -> str:
    """The reader's date for the first entry (taken even when the entry has no text)."""
    import feedparser

    entries = feedparser.parse(data).get("entries") or [{}]
    return entry_date(entries[0], [], None)


def main(folder: Path) -> None:
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    dates: Counter[str] = Counter()
    started = time.perf_counter()
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".xml", ".rdf") and p.is_file())
    for path in files:
        data = path.read_bytes()
        counts[f"sniffed as {kind_of(data) or 'neither'}"] += 1
        try:
            feed = read_feed(data)
        except FeedError as exc:
            counts["refused"] += 1
            reasons[str(exc).split(" (")[0]] += 1
            continue
        except Exception as exc:
            counts["crashed"] += 1
            print(f"CRASH {path}: {type(exc).__name__}: {exc}")
            continue
        counts["read"] += 1
        counts["with entries"] += bool(feed.entries)
        expected = _EXPECT_DATE.search(data.decode("utf-8", "replace"))
        if expected:
            want = f"{int(expected[2]):04d}-{int(expected[3]):02d}-{int(expected[4]):02d}"
            got = _first_entry_date(data)
            dates["equal" if got == want else "empty" if not got else "other"] += 1
            if got != want:
                print(f"date {path.name}: expected {want}, read {got or 'nothing'}")
    seconds = time.perf_counter() - started
    print(f"files: {len(files)}; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print("refusals: " + "; ".join(f"{k}: {v}" for k, v in reasons.most_common()))
    total = sum(dates.values())
    print(f"first-entry dates expected: {total}; " + ", ".join(f"{k}: {v}" for k, v in sorted(dates.items())))
    print(f"per file: {1000 * seconds / max(1, len(files)):.1f} ms")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
