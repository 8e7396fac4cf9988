"""Small linear (logistic) rankers whose weights are JSON data, not code."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.errors import ModelError

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class LinearRanker:
    """score = bias + sum(weight_i * feature_i); probability = sigmoid(score)."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Logits for a (n, len(features)) matrix of raw feature values."""
        if rows.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return ((rows - self.mean) / self.scale) @ self.weights + self.bias

    @staticmethod
    def probability(logits: np.ndarray) -> np.ndarray:
        """Sigmoid of the logits."""
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "features": list(self.features),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> LinearRanker:
        """Read a ranker from its JSON dict."""
        return cls(
            tuple(data["features"]),
            np.asarray(data["weights"], dtype=np.float64),
            float(data["bias"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
        )

    @classmethod
    def uniform(cls, features: Sequence[str], weights: Sequence[float]) -> LinearRanker:
        """A ranker with given weights over unscaled features."""
        n = len(features)
        return cls(tuple(features), np.asarray(weights, dtype=np.float64), 0.0, np.zeros(n), np.ones(n))


def checked(model: LinearRanker, features: Sequence[str], where: Path | str) -> LinearRanker:
    """The model, when its feature names are the code's, in the code's order; else ModelError."""
    if tuple(model.features) != tuple(features):
        ours, theirs = set(features), set(model.features)
        detail = (
            f"missing {sorted(ours - theirs)}, unknown {sorted(theirs - ours)}"
            if ours != theirs
            else "same names in another order"
        )
        raise ModelError(f"{where}: the model's features do not match the code's ({detail}); retrain it")
    return model


@lru_cache(maxsize=8)
def load_ranker(name: str, features: tuple[str, ...]) -> LinearRanker:
    """A ranker from retrieval/models/NAME.json, checked against the code's feature names."""
    path = MODELS_DIR / f"{name}.json"
    return checked(LinearRanker.from_json(json.loads(path.read_text("utf-8"))), features, path)


def trained_or(name: str, fallback: LinearRanker) -> LinearRanker:
    """A trained ranker from retrieval/models (its features checked against the fallback's, which
    are the code's), or `fallback` before training."""
    try:
        return load_ranker(name, tuple(fallback.features))
    except FileNotFoundError:
        return fallback


def fit_logistic(
    x: np.ndarray, y: np.ndarray, features: Sequence[str], l2: float = 1.0, iterations: int = 50
) -> LinearRanker:
    """Fit L2-regularized logistic regression by Newton's method on standardized features."""
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return LinearRanker(tuple(features), w[:-1], float(w[-1]), mean, scale)


def fit_listwise(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    features: Sequence[str],
    l2: float = 1.0,
    iterations: int = 300,
) -> LinearRanker:
    """Fit a softmax-over-candidates ranker: maximize each group's probability of its positives."""
    x_all = np.vstack([x for x, _ in groups])
    mean = x_all.mean(axis=0)
    scale = np.where(x_all.std(axis=0) > 1e-9, x_all.std(axis=0), 1.0)
    usable = [((x - mean) / scale, y) for x, y in groups if y.any()]
    w = np.zeros(len(features))
    for _ in range(iterations):
        gradient, hessian = l2 * w, np.diag(np.full(len(w), float(l2)))
        for z, y in usable:
            logits = z @ w
            p = np.exp(logits - logits.max())
            p /= p.sum()
            masked = np.where(y > 0, logits, -np.inf)
            q = np.exp(masked - masked.max())
            q /= q.sum()  # posterior over the positives
            gradient -= z.T @ (q - p)
            centered = z - p @ z
            hessian += (centered * p[:, None]).T @ centered
        step = np.linalg.solve(hessian, gradient)
        step *= min(1.0, 2.0 / max(float(np.abs(step).max()), 1e-12))  # damped Newton
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return LinearRanker(tuple(features), w, 0.0, mean, scale)
