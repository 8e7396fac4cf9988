"""Held-out sets of saved news pages turned into the format of benchmarks/pages.py.

Each function reads a set where it was unpacked (never inside this repository), writes the pages,
decompressed, into OUT/pages/ and returns the cases (URL -> {"file", "title", "date", "with"}); the
command line writes them to OUT/eval.json. None of these pages was looked at while tuning the reader.

    python -m benchmarks.pagesets fundus|goose3|mercury|zyte SOURCE OUT
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
- mercury: github postlight/parser (Mercury Parser) at e8ba7ece (March 2023), Apache-2.0 or MIT (dual),
  SOURCE = its git directory (files read at HEAD with git show) or a checkout. fixtures/*.html with
  src/extractors/custom/<site>/index.test.js: 154 pages of 141 sites (mostly US news 2016-2019, 29
  Japanese, a few German, French, Chinese; some are not articles: a tweet, lyrics, a video, a book).
  Expected values were written by hand by each custom extractor's author (CSS selectors per site),
  i.e. the headline the site shows: each assert.equal on title, date_published, or a day taken from
  it, and the first words of the content (excerptContent, kept as a snippet when >= 40 characters)
  is paired with the URL and fixture read in its own describe/it block or the nearest enclosing one
  (skipped when that is ambiguous; null asserts leave the field empty). 148 titles, 134 dates, 139
  snippets. The fixtures are Mercury's cleaned page, not the raw one: scripts (so JSON-LD) removed
  and meta tags rewritten by its normalizeMetaTags (content= -> value=, property= -> name=), which
  the conversion undoes (value= -> content=, name= -> property= for og: and article: names).
  Dates: Mercury asserts a UTC instant, our reader gives the page's local day. The expected day is
  the own day of a date-time the page writes with an explicit offset or Z (ISO 8601, +0200 or RFC
  2822 forms) equal to the instant to the second (else to the minute), preferring non-zero offsets;
  else the instant's day in the timezone the extractor declares (Mercury reads offset-less page
  times in it: dates at local midnight); else its UTC day. At e8ba7ece: 42 by a page offset, 43 by
  a page UTC time, 35 by the extractor's timezone, 2 UTC days, 12 asserted as a day (taken as is).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


# mercury: Postlight Parser's custom-extractor tests, read as tokens (strings decoded, comments dropped).
_JS_TOKEN = re.compile(
    r"""(?P<skip>\s+|//[^\n]*|/\*.*?\*/)|(?P<str>'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`)"""
    r"|(?P<name>[A-Za-z_$][\w$]*)|(?P<num>\d[\w.]*)|(?P<punct>.)",
    re.S,
)
_JS_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r?\n|.)", re.S)
_JS_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_SCOPES = {"describe", "it", "test"}
_URL_NAME = re.compile(r"(?i)(article)?ur[li]")
_DAY = re.compile(r"(?i)(new_?date_?published|date_published\.split\(T\)\[0\])(\.split\(T\)\[0\])?")
_OFFSET_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?\s?(Z|[+-]\d\d:?\d\d)(?![\d:])"
    r"|\b(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (\d{4}),? "
    r"(\d\d):(\d\d)(?::(\d\d))? (GMT|UTC|[+-]\d{4})\b"
)
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _js_string(literal: str) -> str | None:
    """The value of a JS string literal (None for a template with ${...} in it)."""
    body = literal[1:-1]
    if literal[0] == "`" and "${" in body:
        return None

    def one(match: re.Match) -> str:
        esc = match.group(1)
        if esc[0] in "ux" and len(esc) > 1:
            return chr(int(esc.strip("u{}x") if esc[0] == "u" else esc[1:], 16))
        return "" if esc.strip("\r") == "\n" else _JS_SIMPLE.get(esc, esc)

    decoded = _JS_ESCAPE.sub(one, body)
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16")  # joins \uD83D\uDE00 pairs


def _js_tokens(source: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: str (decoded value), name, num, punct."""
    tokens = []
    for match in _JS_TOKEN.finditer(source):
        kind = match.lastgroup or "punct"
        if kind == "str":
            value = _js_string(match.group())
            tokens.append(("str", value) if value is not None else ("template", match.group()))
        elif kind != "skip":
            tokens.append((kind, match.group()))
    return tokens


def _closing(tokens: list[tuple[str, str]], start: int) -> int:
    """Index of the bracket closing the one at start."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i][0] == "punct" and tokens[i][1] in "([{":
            depth += 1
        elif tokens[i][0] == "punct" and tokens[i][1] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return len(tokens) - 1


def _scopes(tokens: list[tuple[str, str]]) -> tuple[list[int], dict[int, int]]:
    """Per token, the start of the innermost describe(...)/it(...) holding it (-1: none); their parents."""
    owner, parent = [-1] * len(tokens), {}
    for i, (kind, text) in enumerate(tokens[:-1]):
        if kind == "name" and text in _SCOPES and tokens[i + 1] == ("punct", "("):
            end, parent[i] = _closing(tokens, i + 1), owner[i]
            owner[i : end + 1] = [i] * (end + 1 - i)  # later (inner) calls overwrite outer ones
    return owner, parent


def _literal(tokens: list[tuple[str, str]]) -> str | None:
    """The value of 'a' + 'b' (None for null/undefined or anything else)."""
    parts = [text for kind, text in tokens if kind == "str"]
    if len(parts) != (len(tokens) + 1) // 2 or any(t != ("punct", "+") for t in tokens[1::2]):
        return None
    return "".join(parts)


def _call_args(tokens: list[tuple[str, str]], start: int) -> list[list[tuple[str, str]]]:
    """The arguments of the call whose '(' is at start, as token lists."""
    args: list[list[tuple[str, str]]] = [[]]
    depth, i = 0, start + 1
    while i < len(tokens) and not (depth == 0 and tokens[i] == ("punct", ")")):
        kind, text = tokens[i]
        depth += kind == "punct" and text in "([{"
        depth -= kind == "punct" and text in ")]}"
        if depth == 0 and tokens[i] == ("punct", ","):
            args.append([])
        else:
            args[-1].append(tokens[i])
        i += 1
    return [arg for arg in args if arg]


def _mercury_facts(tokens: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(token index, kind, value): fixture reads, URL assignments and asserted values."""
    facts, excerpts = [], set()
    for i in range(len(tokens) - 2):
        kind, text = tokens[i]
        nxt = tokens[i + 1]
        if kind == "name" and nxt == ("punct", "=") and tokens[i + 2] == ("name", "excerptContent"):
            excerpts.add(text)
        elif kind == "name" and _URL_NAME.fullmatch(text) and nxt == ("punct", "="):
            end = next((j for j in range(i + 2, len(tokens)) if tokens[j][1] in (";", ")", "const")), i + 2)
            if (url := _literal(tokens[i + 2 : end])) is not None:
                facts.append((i, "url", url))
        elif text == "readFileSync" and nxt == ("punct", "(") and tokens[i + 2][0] == "str":
            facts.append((i, "fixture", tokens[i + 2][1].removeprefix("./")))
        elif text == "assert" and nxt == ("punct", ".") and tokens[i + 2] == ("name", "equal"):
            args = _call_args(tokens, i + 3)
            if len(args) == 2 and (field := _asserted(args[0], excerpts)):
                facts.append((i, field, _literal(args[1]) or ""))
    return facts


def _asserted(arg: list[tuple[str, str]], excerpts: set[str]) -> str:
    """The field an assert's first argument names: title, instant, day, with ('' for others)."""
    text = "".join(t for _, t in arg)
    if text in ("title", "date_published"):
        return "title" if text == "title" else "instant"
    if _DAY.fullmatch(text):  # moment(date_published).format().split('T')[0] and the like
        return "day"
    return "with" if text in excerpts else ""


def _nearest(
    facts: list[tuple[int, str, str]], scopes: tuple[list[int], dict[int, int]], at: int, kind: str
) -> str:
    """The one value of that kind in the innermost scope around token `at` having any ('' for several)."""
    owner, parent = scopes
    scope = owner[at]
    while True:
        values = {value for i, k, value in facts if k == kind and owner[i] == scope}
        if values or scope == -1:
            return values.pop() if len(values) == 1 else ""
        scope = parent[scope]


def _git_reader(source: Path) -> tuple[list[str], Callable[[str], bytes]]:
    """The repository's file names and a reader of their bytes: a git directory (at HEAD) or a folder."""
    if (source / "src").is_dir():
        names = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()]
        return names, lambda name: (source / name).read_bytes()

    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(source), *args], capture_output=True, check=True).stdout

    names = git("ls-tree", "-r", "--name-only", "HEAD").decode("utf-8").splitlines()
    return names, lambda name: git("show", f"HEAD:{name}")


def _mercury_groups(test: str) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(URL, fixture) -> field -> asserted values; an assert takes the URL and fixture of its block."""
    tokens = _js_tokens(test)
    scopes = _scopes(tokens)
    facts = _mercury_facts(tokens)
    groups: dict[tuple[str, str], dict[str, set[str]]] = {}
    for at, field, value in facts:
        if field in ("url", "fixture"):
            continue
        url, fixture = _nearest(facts, scopes, at, "url"), _nearest(facts, scopes, at, "fixture")
        if url and fixture:
            groups.setdefault((url, fixture), {}).setdefault(field, set()).add(value)
    return groups


def _instants(html: str) -> list[tuple[datetime, str, bool]]:
    """Date-times the page writes with a UTC offset: (instant, its own day, offset is zero)."""
    found = []
    for m in _OFFSET_TIME.finditer(html):
        if m.group(1):
            year, month, day, hour, minute, second, zone = m.group(1, 2, 3, 4, 5, 6, 7)
        else:
            day, name, year, hour, minute, second, zone = m.group(8, 9, 10, 11, 12, 13, 14)
            month = str(_MONTHS.index(name) + 1)
        sign, digits = (1, "0000") if zone in ("Z", "GMT", "UTC") else (int(zone[0] + "1"), zone[1:])
        digits = digits.replace(":", "")
        try:
            local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        except ValueError:
            continue
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        found.append((local - sign * offset, local.date().isoformat(), digits == "0000"))
    return found


def _floor(when: datetime, cut: timedelta) -> datetime:
    """The time cut down to whole seconds or minutes."""
    return when - (when - datetime.min) % cut


def _local_day(instant: str, html: str, zone: str) -> tuple[str, str]:
    """The page's own day for an expected UTC instant, and how it was found (zone: the extractor's)."""
    want = datetime.fromisoformat(instant.replace("Z", "+00:00")).replace(tzinfo=None, microsecond=0)
    candidates = _instants(html)
    for cut in (timedelta(seconds=1), timedelta(minutes=1)):
        same = [(day, zero) for when, day, zero in candidates if _floor(when, cut) == _floor(want, cut)]
        days = Counter(day for day, zero in same if not zero) or Counter(day for day, zero in same)
        if days:
            how = "page's offset" if any(not zero for _, zero in same) else "page's UTC time"
            return days.most_common(1)[0][0], how
    try:
        local = want.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        local = None
    if local is not None:
        return local.date().isoformat(), "not in page: day in the extractor's timezone"
    return want.date().isoformat(), "not in page: UTC day"


def _one(values: set[str]) -> str:
    """The asserted value when the block asserts exactly one ('' for none, several or null)."""
    return values.pop() if len(values) == 1 else ""


_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)


def _restored_metas(html: bytes) -> bytes:
    """A Mercury fixture's <meta> tags as the page had them: its normalizeMetaTags turned every
    content= into value= and property= into name=; back to content=, and to property= for the
    Open Graph and article: names, which pages give as properties."""

    def one(match: re.Match[bytes]) -> bytes:
        tag = match[0]
        if not re.search(rb"\scontent=", tag, re.IGNORECASE):
            tag = re.sub(rb"(\s)value=", rb"\1content=", tag, count=1, flags=re.IGNORECASE)
        og_name = rb"(\s)name=([\"']?)(og:|article:)"
        return re.sub(og_name, rb"\1property=\2\3", tag, count=1, flags=re.IGNORECASE)

    return _META.sub(one, html)


def mercury(source: Path, out: Path) -> dict[str, dict]:
    """Cases of Postlight Parser's custom-extractor tests (SOURCE = its git directory or a checkout)."""
    names, read = _git_reader(source)
    tests = sorted(n for n in names if re.fullmatch(r"src/extractors/custom/[^/]+/index\.test\.js", n))
    cases: dict[str, dict] = {}
    fixtures: dict[str, str] = {}
    how: Counter = Counter()
    for test in tests:
        for (url, fixture), want in _mercury_groups(read(test).decode("utf-8")).items():
            if fixtures.setdefault(url, fixture) != fixture or fixture not in names:
                print(f"skipped {url}: fixtures {fixtures[url]} and {fixture}", file=sys.stderr)
                cases.pop(url, None)
                continue
            html = _restored_metas(read(fixture))
            title, date = _one(want.get("title", set())), _one(want.get("day", set()))
            snippets = sorted(s for s in want.get("with", set()) if len(s) >= _MIN_SNIPPET)
            if instant := _one(want.get("instant", set())):
                extractor = read(test.replace("index.test.js", "index.js")).decode("utf-8")
                zone = re.search(r"timezone:\s*['\"]([^'\"]+)", extractor)
                date, found = _local_day(instant, html.decode("utf-8", "replace"), zone[1] if zone else "")
                how[found] += 1
            how["asserted as a day"] += bool(date) and not instant
            if title or date or snippets:
                cases[url] = {
                    "file": _save(html, Path(fixture).name, out),
                    "title": title,
                    "date": date,
                    "with": snippets,
                    "site": test.split("/")[3],
                }
    print(f"expected days: {dict(how)}", file=sys.stderr)
    return cases


SETS = {"fundus": fundus, "goose3": goose3, "mercury": mercury, "zyte": zyte}


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
