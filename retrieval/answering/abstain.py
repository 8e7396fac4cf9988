"""The abstention policy: when the evidence does not answer the question."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from retrieval.answering.features import ABSTAIN_FEATURES
from retrieval.ranker import MODELS_DIR, LinearRanker, checked


@dataclass(frozen=True)
class AbstainPolicy:
    """Abstain when any evidence model's logit is below its floor, or, with `strict_counts`, when a
    question asking for a number or a date gets a quote that holds none."""

    rules: tuple[tuple[LinearRanker, float], ...]
    strict_counts: bool = False

    def margin(self, evidence: np.ndarray) -> float:
        """How far the evidence (ABSTAIN_FEATURES order) clears the nearest floor (< 0: abstain)."""
        if self.strict_counts and evidence[ABSTAIN_FEATURES.index("count_missing")] > 0:
            return -1.0
        margins = [model.scores(evidence[None, :])[0] - floor for model, floor in self.rules]
        return float(min(margins, default=np.inf))

    def named(self, evidence: np.ndarray) -> dict[str, float]:
        """The evidence by feature name, with the margin as `confidence`."""
        named = dict(zip(ABSTAIN_FEATURES, evidence.tolist(), strict=True))
        named["confidence"] = self.margin(evidence)
        return named

    def abstains(self, evidence: np.ndarray) -> bool:
        """Whether the evidence is too weak to answer from."""
        return self.margin(evidence) < 0


def default_policy() -> AbstainPolicy:
    """The calibrated abstention rules from retrieval/models/abstain.json, if trained."""
    path = MODELS_DIR / "abstain.json"
    if not path.exists():
        weights = [0.0] * len(ABSTAIN_FEATURES)
        weights[ABSTAIN_FEATURES.index("relevance")] = 1.0
        return AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, weights), -3.0),))
    data = json.loads(path.read_text("utf-8"))
    rules = tuple(
        (checked(LinearRanker.from_json(r["model"]), ABSTAIN_FEATURES, path), float(r["floor"]))
        for r in data["rules"]
    )
    return AbstainPolicy(rules, bool(data.get("strict_counts", False)))
