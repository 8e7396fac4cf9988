"""YAML front matter of a .md/.txt article: a block between a first line `---` and a line `---`
(or `...`), parsed with PyYAML's safe loader.

A file that opens a block and never closes it, a block that is not valid YAML, and a known field
of the wrong kind (`title: [a, b]`) raise `FrontMatterError` with the line it is on: the whole
file is then skipped (its body is not read), because indexing it without its date and source, or
with the YAML as its first lines, would store a wrong article quietly. A block that is valid YAML
but no mapping (a line of text between two `---` rules) is no front matter: the file is read as
plain text, as before front matter was read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

OPEN = "---"
CLOSE = ("---", "...")
# A longer block is not front matter but a mistake (and YAML's cost grows with it).
MAX_BLOCK_CHARS = 64_000
# Fields with a meaning; any others are kept in the article's meta as they are.
TEXT_FIELDS = ("title", "source", "url", "lang", "author")


class FrontMatterError(ValueError):
    """Front matter that cannot be read; `line` is 1-based within the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class FrontMatter:
    """A text article's front matter, and its body: what follows the block."""

    fields: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    date: object = None  # as written: a string, or a date YAML has already read
    date_line: int = 0


def split_front_matter(content: str) -> FrontMatter | None:
    """The front matter and body of a text article, or None when it has no front matter (its first
    line is not `---`). FrontMatterError when the block is there but cannot be read."""
    lines = content.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != OPEN:
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in CLOSE), None)
    if end is None:
        raise FrontMatterError(1, "front matter opened with '---' is never closed by a line '---'")
    block = "".join(lines[1:end])
    if len(block) > MAX_BLOCK_CHARS:
        raise FrontMatterError(1, f"front matter of {len(block)} characters; the limit is {MAX_BLOCK_CHARS}")
    try:
        _refuse_aliases(block)
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # an error found at the end of the block is put on its last line
        line = min(mark.line + 2, end) if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(line, f"front matter is not valid YAML: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None  # text between two '---' rules, not front matter: the file is read as it is
    fields = {str(k): v for k, v in data.items()}
    for name in TEXT_FIELDS:
        if name in fields:
            fields[name] = _text(fields[name], name, _key_line(lines, end, name))
    matter = FrontMatter(fields=fields, body="".join(lines[end + 1 :]))
    if "date" in fields:
        matter.date = fields.pop("date")
        matter.date_line = _key_line(lines, end, "date")
    return matter


def _refuse_aliases(block: str) -> None:
    """FrontMatterError at the first YAML alias (`*name`): aliases can expand a small block into
    gigabytes ("billion laughs"), and front matter has no need of them."""
    for event in yaml.parse(block, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 2 if event.start_mark else 1
            raise FrontMatterError(line, "front matter uses a YAML alias (*name); write the value out")


def _text(value: Any, name: str, line: int) -> str:
    """A scalar field as text ("" for an empty one); FrontMatterError for a list or mapping."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        raise FrontMatterError(line, f"front matter field '{name}' must be text, not a list or mapping")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _key_line(lines: list[str], end: int, name: str) -> int:
    """The 1-based line of a top-level key in the block (the block's first line if not found)."""
    pattern = re.compile(rf"^['\"]?{re.escape(name)}['\"]?\s*:")
    return next((i + 1 for i in range(1, end) if pattern.match(lines[i])), 2)
