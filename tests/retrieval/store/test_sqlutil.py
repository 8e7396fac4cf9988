"""IN lists cut to what SQLite accepts."""

from __future__ import annotations

import sqlite3

from retrieval.store.sqlutil import SQL_VARS, batches, marks


def test_batches_cover_every_value_once_within_the_limit() -> None:
    values = list(range(2 * SQL_VARS + 5))
    parts = list(batches(values))
    assert [len(p) for p in parts] == [SQL_VARS, SQL_VARS, 5]
    assert [v for p in parts for v in p] == values
    assert list(batches([])) == []


def test_marks_bind_one_value_each() -> None:
    db = sqlite3.connect(":memory:")
    part = next(batches(list(range(SQL_VARS + 10))))
    assert db.execute(f"SELECT COUNT(*) WHERE 3 IN ({marks(len(part))})", part).fetchone() == (1,)
