"""The abstention policy: when the evidence is too weak to answer from."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from retrieval.answering.features import ABSTAIN_FEATURES
from retrieval.ranker import MODELS_DIR, LinearRanker


@dataclass(frozen=True)
class AbstainPolicy:
    """Abstain when any evidence model's logit is below its floor, or, with `strict_counts`, when a
    question asking for a number or a date gets quotes that hold none."""

    rules: tuple[tuple[LinearRanker, float], ...]
    strict_counts: bool = False

    def abstains(self, evidence: np.ndarray) -> bool:
        """Whether the evidence (ABSTAIN_FEATURES order) is too weak to answer from."""
        if self.strict_counts and evidence[ABSTAIN_FEATURES.index("count_missing")] > 0:
            return True
        return any(model.scores(evidence[None, :])[0] < floor for model, floor in self.rules)


def default_policy() -> AbstainPolicy:
    """The calibrated abstention rules from retrieval/models/abstain.json, if trained."""
    path = MODELS_DIR / "abstain.json"
    if not path.exists():
        return AbstainPolicy(((LinearRanker.uniform(ABSTAIN_FEATURES, [1.0] + [0.0] * 10), -3.0),))
    data = json.loads(path.read_text("utf-8"))
    rules = tuple((LinearRanker.from_json(r["model"]), float(r["floor"])) for r in data["rules"])
    return AbstainPolicy(rules, bool(data.get("strict_counts", False)))
