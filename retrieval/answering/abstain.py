"""The abstention policy: when the evidence does not answer the question."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.answering.features import ABSTAIN_FEATURES
from retrieval.ranker import MODELS_DIR, LinearRanker, checked

_GERMAN = ABSTAIN_FEATURES.index("asked_in_german")
_COUNT_MISSING = ABSTAIN_FEATURES.index("count_missing")


@dataclass(frozen=True)
class AbstainPolicy:
    """Abstain when any evidence model's logit is below its floor (a floor per question language
    where `german_floors` gives one for German questions), or, with `strict_counts`, when a
    question asking for a number or a date gets a quote that holds none."""

    rules: tuple[tuple[LinearRanker, float], ...]
    strict_counts: bool = False
    german_floors: tuple[float, ...] | None = None

    def margin(self, evidence: np.ndarray) -> float:
        """How far the evidence (ABSTAIN_FEATURES order) clears the nearest floor (< 0: abstain)."""
        if self.strict_counts and evidence[_COUNT_MISSING] > 0:
            return -1.0
        floors = [floor for _, floor in self.rules]
        if self.german_floors is not None and evidence[_GERMAN] > 0:
            floors = list(self.german_floors)
        margins = [
            model.scores(evidence[None, :])[0] - floor
            for (model, _), floor in zip(self.rules, floors, strict=True)
        ]
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
    return policy_from_json(data, path)


def policy_from_json(data: dict, where: Path | str) -> AbstainPolicy:
    """The policy a calibration wrote (models checked against the code's feature names)."""
    rules = tuple(
        (checked(LinearRanker.from_json(r["model"]), ABSTAIN_FEATURES, where), float(r["floor"]))
        for r in data["rules"]
    )
    german = [r.get("german_floor") for r in data["rules"]]
    german_floors = tuple(float(f) for f in german) if all(f is not None for f in german) else None
    return AbstainPolicy(rules, bool(data.get("strict_counts", False)), german_floors)
