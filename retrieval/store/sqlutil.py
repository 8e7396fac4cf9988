"""Binding many values to one SQL statement: `IN (...)` lists cut to what SQLite accepts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
# Values bound per statement: below SQLite's oldest limit on bound variables (999), with room to spare
SQL_VARS = 900


def batches(values: Sequence[T], size: int = SQL_VARS) -> Iterator[list[T]]:
    """`values` in consecutive lists of at most `size`."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def marks(n: int) -> str:
    """The placeholders of an `IN (...)` list of n values: '?,?,...'."""
    return ",".join("?" * n)
