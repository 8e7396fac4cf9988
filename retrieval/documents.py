"""Articles and reading them from .txt, .md and .jsonl files or folders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.language import guess_language

SUFFIXES = (".jsonl", ".txt", ".md")
_KNOWN_FIELDS = ("id", "text", "title", "date", "source", "lang")


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
    """A skipped input: which file, which line, what was wrong."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


@dataclass
class LoadResult:
    """Articles read and problems met while reading."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_articles(paths: Iterable[str | Path]) -> LoadResult:
    """Read every article under the given files and folders."""
    result = LoadResult()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            files = list(_files_in(path))
            if not files:
                raise InputError(f"{path}: no .txt, .md or .jsonl articles in this folder")
            for file in files:
                _read_file(file, file.relative_to(path).with_suffix("").as_posix(), result)
        elif path.suffix.lower() in SUFFIXES:
            _read_file(path, path.stem, result)
        else:
            raise InputError(f"{path}: not a .txt, .md or .jsonl file")
    return result


def _files_in(folder: Path) -> Iterator[Path]:
    """Article files below a folder, in a stable order."""
    for file in sorted(folder.rglob("*")):
        if file.is_file() and file.suffix.lower() in SUFFIXES:
            yield file


def _read_file(path: Path, text_id: str, result: LoadResult) -> None:
    """Read one file into `result`, recording problems instead of raising."""
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        result.problems.append(Problem(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return
    except OSError as exc:
        result.problems.append(Problem(path, None, f"cannot read: {exc.strerror or exc}"))
        return
    if path.suffix.lower() == ".jsonl":
        _read_jsonl(path, content, result)
        return
    article = article_from_text(text_id, content)
    if article is None:
        result.problems.append(Problem(path, None, "empty file"))
    else:
        result.articles.append(article)


def article_from_text(article_id: str, content: str) -> Article | None:
    """A plain-text article: its title is the first non-empty line."""
    content = content.lstrip("\ufeff")
    if not content.strip():
        return None
    title = next(line.strip() for line in content.splitlines() if line.strip())
    return Article(
        id=article_id, text=content, title=title.lstrip("# ").strip(), lang=guess_language(content)
    )


def _read_jsonl(path: Path, content: str, result: LoadResult) -> None:
    """Read JSONL articles; bad lines become problems, the rest is kept."""
    if _is_question_set(content):
        result.problems.append(Problem(path, None, "a question set, not articles"))
        return
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result.articles.append(article_from_record(json.loads(line)))
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(path, number, f"invalid JSON ({exc.msg})"))
        except ValueError as exc:
            result.problems.append(Problem(path, number, str(exc)))


def _is_question_set(content: str) -> bool:
    """Whether the JSONL's first valid object is a question, not an article."""
    for line in content.splitlines():
        try:
            first = json.loads(line)
        except json.JSONDecodeError:
            continue
        return isinstance(first, dict) and "question" in first and "text" not in first
    return False


def article_from_record(record: Any) -> Article:
    """An article from a JSON object; ValueError names the bad field."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for name in ("id", "text"):
        if name not in record:
            raise ValueError(f"missing required field '{name}'")
    if not isinstance(record["text"], str) or not record["text"].strip():
        raise ValueError("field 'text' must be a non-empty string")
    if not isinstance(record["id"], str | int) or not str(record["id"]).strip():
        raise ValueError("field 'id' must be a non-empty string")
    values = {}
    for name in ("title", "date", "source", "lang"):
        value = record.get(name) or ""
        if not isinstance(value, str):
            raise ValueError(f"field '{name}' must be a string")
        values[name] = value.strip()
    meta = {k: v for k, v in record.items() if k not in _KNOWN_FIELDS}
    lang = values.pop("lang") or guess_language(record["text"])
    return Article(id=str(record["id"]).strip(), text=record["text"], lang=lang, meta=meta, **values)
