"""Prompt and message templates, kept as text files with named {placeholders}."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=64)
def template(name: str) -> str:
    """The text of prompts/NAME.txt, without its trailing newline."""
    return resources.files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def render(name: str, **values: object) -> str:
    """A template with its named placeholders filled in."""
    return template(name).format(**values)
