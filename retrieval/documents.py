"""Articles and reading them from .txt, .md, .jsonl, .html/.htm and .rss/.atom/.xml feed files or
folders, and from http(s) URLs of pages and feeds (`readers.web`, fetched by `readers.fetch`).

A web page is read by `readers.html` (trafilatura: the article's main text and metadata); a
.txt/.md article may start with YAML front matter (`readers.frontmatter`: title, date, source or
url, lang); every date (front matter, page, JSONL `date`) is stored as an ISO date by
`readers.dates`, and one that cannot be read or lies in the future is left empty and reported.

Bad input never aborts a run: a file or JSONL line that cannot be read becomes a `Problem` naming
it and the reason, and the rest is read. What is repaired rather than skipped (lone surrogates in
JSON strings, a few invalid UTF-8 bytes in a text article) is read and reported as a kept
`Problem`. Only regular files are opened (a FIFO or device would block or never end), and an
article over the size limit is skipped unread.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from retrieval.errors import InputError
from retrieval.langdetect import article_language
from retrieval.readers.dates import DateError, iso_date
from retrieval.readers.frontmatter import FrontMatter, FrontMatterError, split_front_matter
from retrieval.readers.html import MAX_TITLE_CHARS, domain

if TYPE_CHECKING:
    from retrieval.readers.fetch import Fetcher

SUFFIXES = (".jsonl", ".txt", ".md", ".html", ".htm", ".rss", ".atom", ".xml")
PAGE_SUFFIXES = (".html", ".htm", ".rss", ".atom", ".xml")
FEED_SUFFIXES = (".rss", ".atom", ".xml")
# A web page may be this many times larger than MAX_ARTICLE_BYTES (scripts, styles and markup
# around the article).
PAGE_BYTES_FACTOR = 5
_KNOWN_FIELDS = ("id", "text", "title", "date", "source", "lang")
# An article (a .txt/.md file, a JSONL line) larger than this many bytes is skipped unread;
# Settings.max_article_bytes (NEWSBOT_MAX_ARTICLE_BYTES) sets it for the CLI.
MAX_ARTICLE_BYTES = 2_000_000
# A JSONL id, date, source or lang longer than this makes its line invalid.
MAX_FIELD_CHARS = 1000
# A JSONL record nested deeper than this (lists and objects in its extra fields) is invalid.
MAX_JSON_DEPTH = 64
# A text article with more invalid UTF-8 sequences than this share of its bytes (and more than
# one) is not text in UTF-8 (Latin-1, binary): it is skipped instead of repaired.
_MAX_BAD_SHARE = 0.001
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = b"\xef\xbb\xbf"
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Article:
    """One news article with its metadata."""

    id: str
    text: str
    title: str = ""
    date: str = ""
    source: str = ""
    lang: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        """A hash of everything that, when changed, needs re-indexing."""
        payload = json.dumps(
            [self.text, self.title, self.date, self.source, self.lang, self.meta],
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def display_title(self) -> str:
        """The title, or the id when there is none."""
        return self.title or self.id


@dataclass(frozen=True)
class Problem:
    """An input skipped, or read with a repair (`kept`): which file, which line, what was wrong."""

    path: Path | str  # a file, or a URL
    line: int | None
    message: str
    kept: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


@dataclass
class LoadResult:
    """Articles read and problems met while reading."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_articles(
    paths: Iterable[str | Path], max_bytes: int = MAX_ARTICLE_BYTES, fetcher: Fetcher | None = None
) -> LoadResult:
    """Read every article under the given files, folders and http(s) URLs (pages or feeds,
    fetched by `fetcher`, a default one when None); articles over `max_bytes` are skipped.
    InputError for a path that is missing, not a regular file or folder, or of another kind;
    problems inside files and with URLs are recorded in the result instead."""
    from retrieval.readers.fetch import Fetcher, is_url

    result = LoadResult()
    paths = list(paths)
    urls = [str(p) for p in paths if is_url(p)]
    own: list[Fetcher] = []

    def web() -> Fetcher:
        """The given fetcher, else one default fetcher made on first need (closed at the end)."""
        if fetcher is not None:
            return fetcher
        if not own:
            own.append(Fetcher())
        return own[0]

    try:
        _load_files([p for p in paths if not is_url(p)], result, max_bytes, web)
        if urls:
            from retrieval.readers.web import read_urls

            read_urls(urls, web(), result)
    finally:
        for made in own:
            made.close()
    return result


def _load_files(
    paths: list[str | Path], result: LoadResult, max_bytes: int, fetcher: Callable[[], Fetcher]
) -> None:
    """Read the files and folders into `result` (see load_articles)."""
    for raw in paths:
        path = Path(raw)
        mode = _mode(path)
        if stat.S_ISDIR(mode):
            files = list(_files_in(path))
            if not files:
                raise InputError(
                    f"{path}: no .txt, .md, .jsonl or .html articles (or .rss/.atom/.xml feeds) "
                    "in this folder"
                )
            for file in files:
                file_id = file.relative_to(path).with_suffix("").as_posix()
                _read_file(file, file_id, result, max_bytes, fetcher)
        elif not stat.S_ISREG(mode):
            raise InputError(f"{path}: not a regular file ({_kind(mode)}); give an article file or a folder")
        elif path.suffix.lower() in SUFFIXES:
            _read_file(path, path.stem, result, max_bytes, fetcher)
        else:
            raise InputError(f"{path}: not a .txt, .md, .jsonl, .html/.htm or .rss/.atom/.xml file")


def _mode(path: Path) -> int:
    """The path's file type and mode (symlinks followed); InputError when it cannot be had."""
    try:
        return path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _files_in(folder: Path) -> Iterator[Path]:
    """Regular article files below a folder, in a stable order (FIFOs, devices and sockets are
    left out; symlinked folders are not followed)."""
    for file in sorted(folder.rglob("*")):
        if file.suffix.lower() in SUFFIXES and file.is_file():
            yield file


def open_regular(path: Path) -> BinaryIO:
    """The regular file at `path` opened for binary reading; OSError for anything else. Opened
    non-blocking and checked, so that a FIFO or device is refused instead of blocking forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(mode)})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_file(
    path: Path, text_id: str, result: LoadResult, max_bytes: int, fetcher: Callable[[], Fetcher]
) -> None:
    """Read one file into `result`, recording problems instead of raising."""
    page = path.suffix.lower() in PAGE_SUFFIXES
    limit = max_bytes * PAGE_BYTES_FACTOR if page else max_bytes
    try:
        with open_regular(path) as f:
            if path.suffix.lower() == ".jsonl":
                _read_jsonl(path, f, result, max_bytes)
                return
            size = os.fstat(f.fileno()).st_size
            data = f.read(limit + 1) if size <= limit else b""
    except OSError as exc:
        result.problems.append(Problem(path, None, f"cannot read: {exc.strerror or exc}"))
        return
    if size > limit or len(data) > limit:
        result.problems.append(Problem(path, None, _too_large(max(size, len(data)), limit, page)))
        return
    if page:
        from retrieval.readers.feeds import kind_of
        from retrieval.readers.web import page_article, read_feed_file

        # By what the file holds, as for a URL (an .xml XHTML page is a page, an .html feed a
        # feed); its suffix only says what it is when the bytes do not.
        declared = "application/rss+xml" if path.suffix.lower() in FEED_SUFFIXES else "text/html"
        if kind_of(data, declared) == "feed":
            read_feed_file(path, data, fetcher, result)
        else:
            article = page_article(path, clean_text(text_id), data, result)
            if article is not None:
                result.articles.append(article)
        return
    content = _decode_text(path, data, result)
    if content is not None:
        _read_text(path, text_id, content, result)


def _read_text(path: Path, text_id: str, content: str, result: LoadResult) -> None:
    """Add a text article (with its front matter, if it has one), or the problem that skips it."""
    try:
        matter = split_front_matter(clean_text(content).lstrip("\ufeff"))
    except FrontMatterError as exc:
        result.problems.append(Problem(path, exc.line, f"{exc}; file skipped"))
        return
    declared = str(matter.fields.get("lang") or "") if matter else ""
    article = article_from_text(text_id, matter.body if matter else content, declared)
    if article is None:
        reason = "no text after the front matter" if matter else "empty file"
        result.problems.append(Problem(path, None, reason))
        return
    if matter:
        article = _with_front_matter(path, article, matter, result)
    result.articles.append(article)


def _with_front_matter(path: Path, article: Article, matter: FrontMatter, result: LoadResult) -> Article:
    """The article with its front matter's title, date, source, lang and other fields (in meta)."""
    fields = dict(matter.fields)
    title, source = (fields.pop(name, "") for name in ("title", "source"))
    fields.pop("lang", None)  # already the article's (article_from_text)
    try:
        date = iso_date(matter.date)
    except DateError as exc:
        result.problems.append(Problem(path, matter.date_line, f"date {exc}; left empty", kept=True))
        date = ""
    meta = {k: v for k, v in fields.items() if v not in ("", None)}
    return Article(
        id=article.id,
        text=article.text,
        title=shorten(title, MAX_TITLE_CHARS) if title else article.title,
        date=date,
        source=source or domain(fields.get("url", "")),
        lang=article.lang,
        meta=meta,
    )


def _too_large(size: int, limit: int, page: bool = False) -> str:
    """Why an article (or web page) over the size limit is skipped."""
    what, setting = ("pages", f"{PAGE_BYTES_FACTOR} × ") if page else ("articles", "")
    return (
        f"{size / 1e6:.1f} MB; {what} over {limit / 1e6:.1f} MB are skipped "
        f"({setting}setting NEWSBOT_MAX_ARTICLE_BYTES)"
    )


def _decode_text(path: Path, data: bytes, result: LoadResult) -> str | None:
    """A text article's bytes as text. A few invalid UTF-8 bytes are replaced by U+FFFD and
    reported as a kept problem; more than that, or NUL bytes, skip the file (None)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad = text.count(_REPLACEMENT) - data.count(_REPLACEMENT.encode("utf-8"))
        where = f"{exc.reason} at byte {exc.start}"
        if bad > max(1.0, _MAX_BAD_SHARE * len(data)):
            result.problems.append(Problem(path, None, f"not UTF-8 text ({where}; {bad} invalid sequences)"))
            return None
        result.problems.append(
            Problem(path, None, f"{bad} invalid UTF-8 sequence(s) replaced by U+FFFD ({where})", kept=True)
        )
    if "\x00" in text:
        result.problems.append(Problem(path, None, "holds NUL bytes: binary or UTF-16, not UTF-8 text"))
        return None
    return text


def clean_text(text: str) -> str:
    """The text with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD, one
    character for one, so offsets are kept."""
    return _SURROGATE.sub(_REPLACEMENT, text) if _SURROGATE.search(text) else text


def lone_surrogate(text: str) -> int | None:
    """Where the text's first lone surrogate is (an invalid UTF-8 byte that Python decoded with
    surrogateescape, or a bad JSON escape), or None when it has none."""
    match = _SURROGATE.search(text)
    return match.start() if match else None


def shorten(text: str, limit: int) -> str:
    """The text, cut at a word with '…' when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip() + "…"


def article_from_text(article_id: str, content: str, lang: str = "") -> Article | None:
    """A plain-text article: its title is the first non-empty line (shortened past
    MAX_TITLE_CHARS); its language `lang` when declared, else detected."""
    content = clean_text(content).lstrip("\ufeff")
    if not content.strip():
        return None
    title = next(line.strip() for line in content.splitlines() if line.strip())
    return Article(
        id=clean_text(article_id),
        text=content,
        title=shorten(title.lstrip("# ").strip(), MAX_TITLE_CHARS),
        lang=article_language(lang, content),
    )


def _lines(f: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(number, bytes) of each line (split at b"\\n" only, as JSONL is); None for a line over
    `limit` bytes, which is skipped without being held in memory."""
    number = 0
    while line := f.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, line


def _read_jsonl(path: Path, f: BinaryIO, result: LoadResult, max_bytes: int) -> None:
    """Read JSONL articles line by line; a bad line becomes a problem, the rest is read. A file
    whose first valid JSON value is a question is a question set: one problem, no articles."""
    early: list[Problem] = []  # problems met before the first valid line decides the file's kind
    decided = False
    for number, raw in _lines(f, max_bytes):
        problems = result.problems if decided else early
        try:
            record = _parse_line(raw, number, max_bytes)
        except ValueError as exc:
            problems.append(Problem(path, number, str(exc)))
            continue
        if record is _BLANK:
            continue
        if not decided:
            if isinstance(record, dict) and "question" in record and "text" not in record:
                result.problems.append(Problem(path, None, "a question set, not articles"))
                return
            decided = True
            result.problems.extend(early)
        _add_record(path, number, record, result)
    if not decided:
        result.problems.extend(early)


_BLANK = object()


def _parse_line(raw: bytes | None, number: int, max_bytes: int) -> Any:
    """One JSONL line parsed (_BLANK for a blank line); ValueError says why it cannot be."""
    if raw is None:
        raise ValueError(f"line over {max_bytes / 1e6:.1f} MB; skipped (setting NEWSBOT_MAX_ARTICLE_BYTES)")
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line)") from None
    if not line.strip():
        return _BLANK
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ValueError(f"invalid JSON ({exc})") from None


def _add_record(path: Path, number: int, record: Any, result: LoadResult) -> None:
    """Add the article of one parsed JSONL line, or the problem that skips it."""
    try:
        article, repaired = _record_article(record)
    except ValueError as exc:
        result.problems.append(Problem(path, number, str(exc)))
        return
    try:
        date = iso_date(article.date)
    except DateError as exc:
        result.problems.append(Problem(path, number, f"date {exc}; left empty", kept=True))
        date = ""
    result.articles.append(article if date == article.date else replace(article, date=date))
    if repaired:
        message = f"{repaired} string(s) with lone surrogates (\\ud800-\\udfff): replaced by U+FFFD"
        result.problems.append(Problem(path, number, message, kept=True))


def article_from_record(record: Any) -> Article:
    """An article from a JSON object; ValueError names the bad field. Lone surrogates in its
    strings are replaced by U+FFFD."""
    return _record_article(record)[0]


def _record_article(record: Any) -> tuple[Article, int]:
    """The article of a JSON object, and how many of its strings had lone surrogates replaced."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    record, repaired = _clean_json(record)
    values = _known_fields(record)
    meta = {k: v for k, v in record.items() if k not in _KNOWN_FIELDS}
    lang = article_language(values.pop("lang"), values["text"])
    return Article(lang=lang, meta=meta, **values), repaired


def _known_fields(record: dict[str, Any]) -> dict[str, str]:
    """id, text, title, date, source and lang of a JSON article, checked (ValueError names the
    bad field) and stripped (the text kept as it is), the title shortened past MAX_TITLE_CHARS."""
    for name in ("id", "text"):
        if name not in record:
            raise ValueError(f"missing required field '{name}'")
    if not isinstance(record["text"], str) or not record["text"].strip():
        raise ValueError("field 'text' must be a non-empty string")
    if not isinstance(record["id"], str | int) or not str(record["id"]).strip():
        raise ValueError("field 'id' must be a non-empty string")
    values = {"id": str(record["id"]).strip(), "text": record["text"]}
    for name in ("title", "date", "source", "lang"):
        value = record.get(name) or ""
        if not isinstance(value, str):
            raise ValueError(f"field '{name}' must be a string")
        values[name] = value.strip()
    for name in ("id", "date", "source", "lang"):
        if len(values[name]) > MAX_FIELD_CHARS:
            size = len(values[name])
            raise ValueError(f"field '{name}' is {size} characters long; the limit is {MAX_FIELD_CHARS}")
    values["title"] = shorten(values["title"], MAX_TITLE_CHARS)
    return values


def _clean_json(value: Any, depth: int = 0) -> tuple[Any, int]:
    """Parsed JSON with lone surrogates in its strings (keys too) replaced, and how many strings
    were; ValueError when it nests deeper than MAX_JSON_DEPTH."""
    if isinstance(value, str):
        clean = clean_text(value)
        return clean, int(clean is not value)
    if not isinstance(value, dict | list):
        return value, 0
    if depth >= MAX_JSON_DEPTH:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    repaired = 0
    if isinstance(value, list):
        items = []
        for item in value:
            clean, n = _clean_json(item, depth + 1)
            items.append(clean)
            repaired += n
        return items, repaired
    out = {}
    for key, item in value.items():
        clean_key, n = _clean_json(key, depth + 1)
        out[clean_key], m = _clean_json(item, depth + 1)
        repaired += n + m
    return out, repaired
