"""An in-memory stand-in for the record store's vector side (the VectorSource protocol)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np


class _Kind:
    """One kind's rows: ids (ascending), vectors, the commit that added each row, and liveness."""

    def __init__(self, dim: int, dtype: type) -> None:
        self.dim, self.dtype = dim, dtype
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.removed: list[tuple[int, int]] = []  # (id, commit)
        self._dead: set[int] = set()
        self._joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def append(self, ids: np.ndarray, vectors: np.ndarray, commit: int) -> None:
        """Store new rows added by `commit`."""
        self.blocks.append((ids, vectors.astype(self.dtype), np.full(len(ids), commit, dtype=np.int64)))
        self._joined = None

    def joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All rows ever added: (ids, vectors, added-by commit)."""
        if self._joined is None:
            if self.blocks:
                ids, vectors, added = (np.concatenate(parts) for parts in zip(*self.blocks, strict=True))
            else:
                ids, vectors = np.zeros(0, np.int64), np.zeros((0, self.dim), self.dtype)
                added = np.zeros(0, np.int64)
            self._joined = (ids, vectors, added)
            self.blocks = [self._joined]
        return self._joined

    def alive(self) -> np.ndarray:
        """Mask of the rows not removed."""
        return self.alive_ids(self.joined()[0])

    def alive_ids(self, ids: np.ndarray) -> np.ndarray:
        """Mask of these ids that have not been removed."""
        if not self._dead:
            return np.ones(len(ids), dtype=bool)
        return ~np.isin(ids, np.fromiter(self._dead, dtype=np.int64))

    def kill(self, ids: Sequence[int] | np.ndarray, commit: int) -> None:
        """Mark rows removed by `commit`."""
        for i in ids:
            self._dead.add(int(i))
            self.removed.append((int(i), commit))


class FakeSource:
    """Vectors per kind (float16, like the record store) with a commit number, an add log and a
    removal log.

    Counts what derived indexes ask of it: `yielded` rows handed out by added_since, `calls` per
    method. Ids are global, increasing and never reused."""

    def __init__(
        self, dim: int, store_id: str = "store-a", dtype: type = np.float16, missing: str = "nan"
    ) -> None:
        self.dim = dim
        self.missing = missing  # vectors_of for an id not stored: "nan" rows or "raise" KeyError
        self._store_id = store_id
        self._commit = 0
        self._next_id = 1
        self._kinds = {kind: _Kind(dim, dtype) for kind in ("chunk", "sentence")}
        self.yielded = 0
        self.calls: Counter[str] = Counter()

    # ---------- writing (the test plays the writer) ----------
    def add(self, kind: str, vectors: np.ndarray) -> np.ndarray:
        """Add rows in one commit; their new ids."""
        ids = np.arange(self._next_id, self._next_id + len(vectors), dtype=np.int64)
        self._next_id += len(vectors)
        self._commit += 1
        self._kinds[kind].append(ids, np.asarray(vectors), self._commit)
        return ids

    def remove(self, kind: str, ids: Sequence[int] | np.ndarray) -> None:
        """Remove rows in one commit."""
        self._commit += 1
        self._kinds[kind].kill(ids, self._commit)

    def all_vectors(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of every stored row, for brute force in tests."""
        ids, vectors, _ = self._kinds[kind].joined()
        alive = self._kinds[kind].alive()
        return ids[alive], vectors[alive].astype(np.float32)

    # ---------- the VectorSource protocol ----------
    @property
    def store_id(self) -> str:
        """Random id made when the store was created."""
        return self._store_id

    def commit(self) -> int:
        """The current commit number."""
        self.calls["commit"] += 1
        return self._commit

    def count(self, kind: str) -> int:
        """Rows of that kind now stored."""
        self.calls["count"] += 1
        return int(self._kinds[kind].alive().sum())

    def added_since(
        self, kind: str, commit: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Rows added after `commit` that still exist, in batches."""
        self.calls["added_since"] += 1
        ids, vectors, added = self._kinds[kind].joined()
        rows = np.flatnonzero(self._kinds[kind].alive() & (added > commit))
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            self.yielded += len(part)
            yield ids[part], vectors[part].astype(np.float32)

    def removed_since(self, kind: str, commit: int) -> np.ndarray:
        """Ids removed after `commit`."""
        self.calls["removed_since"] += 1
        return np.array([i for i, c in self._kinds[kind].removed if c > commit], dtype=np.int64)

    def vectors_of(self, kind: str, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of these ids in order; NaN rows (or KeyError) for ids not stored."""
        self.calls["vectors_of"] += 1
        all_ids, vectors, _ = self._kinds[kind].joined()
        wanted = np.asarray(ids, dtype=np.int64)
        out = np.full((len(wanted), self.dim), np.nan, dtype=np.float32)
        if len(all_ids):
            rows = np.clip(np.searchsorted(all_ids, wanted), 0, len(all_ids) - 1)
            ok = (all_ids[rows] == wanted) & self._kinds[kind].alive_ids(wanted)
            out[ok] = vectors[rows[ok]]
        if self.missing == "raise" and np.isnan(out[:, 0]).any():
            raise KeyError(f"no stored {kind} vector for ids {wanted[np.isnan(out[:, 0])][:5].tolist()}")
        return out

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """Up to n stored vectors, drawn without replacement."""
        self.calls["sample"] += 1
        _, vectors, _ = self._kinds[kind].joined()
        rows = np.flatnonzero(self._kinds[kind].alive())
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(rows, size=min(n, len(rows)), replace=False))
        return vectors[chosen].astype(np.float32)


def clustered(n: int, dim: int, *, centroids: int = 20, spread: float = 0.5, seed: int = 0) -> np.ndarray:
    """n unit vectors around random unit centroids (noise of norm ~spread), float32."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((centroids, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    points = centers[rng.integers(0, centroids, n)] + spread * rng.standard_normal((n, dim)) / np.sqrt(dim)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
