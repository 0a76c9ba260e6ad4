"""Report inputs for tests/test_report*.py, built from a real trained model's predictions.

The candidate is the reference MLP with class 3 planted as forgotten (its outputs for class 3
and 5 swapped on every true 3), judged against the unchanged MLP as champion: a rejected run
with per-class recall bars, a confusion matrix, negative flips, training curves and history.
The details follow the shapes :mod:`mlchecks.report.data` documents.
"""

from __future__ import annotations

import numpy as np

from mlchecks.checks.accuracy import accuracy_min
from mlchecks.config import ModelSpec, Thresholds
from mlchecks.report.data import ReportData, build
from mlchecks.result import CheckResult
from mlchecks.run.gate import GateDecision
from mlchecks.stats.evaluation import Evaluation

XSS = "<script>alert(1)</script>"
FORGOTTEN, CONFUSED_WITH = 3, 5


def forgetful(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``probs`` with classes 3 and 5 swapped on every sample of class 3."""
    out = probs.copy()
    rows = y == FORGOTTEN
    out[np.ix_(rows, [FORGOTTEN, CONFUSED_WITH])] = probs[np.ix_(rows, [CONFUSED_WITH, FORGOTTEN])]
    return out


def rejected_checks(
    champion: Evaluation, candidate: Evaluation, model: str = "mlp", names: list[str] | None = None
) -> list[CheckResult]:
    """The checks a gate would record for ``candidate`` against ``champion``."""
    k = candidate.num_classes
    names = names or [str(i) for i in range(k)]
    spec = ModelSpec(model, min_accuracy=0.95)
    acc = accuracy_min(candidate, model=model, data="digits", backend="tensorflow",
                       thresholds=Thresholds(), spec=spec)  # fmt: skip
    rows = [
        {"class": c, "name": names[c], "champion_recall": float(champion.class_recall[c]),
         "candidate_recall": float(candidate.class_recall[c])}
        for c in range(k)
    ]  # fmt: skip
    worst = min(rows, key=lambda r: r["candidate_recall"] - r["champion_recall"])
    per_class = CheckResult(
        "regression.per_class", "regression", False, worst["candidate_recall"],
        worst["champion_recall"] - 0.03,
        f"REGRESSION against champion 0001: recall of class {worst['name']} dropped", model=model,
        details={"champion": "0001", "classes": rows},
    )  # fmt: skip
    negative = np.flatnonzero(champion.correct & ~candidate.correct)
    flips = CheckResult(
        "regression.flip_rate", "regression", True, len(negative) / candidate.n, None,
        f"negative flip rate {len(negative) / candidate.n:.4f}; not gated", model=model,
        severity="info",
        details={"champion": "0001", "negative": negative.tolist(),
                 "negative_count": len(negative)},
    )  # fmt: skip
    forgetting = CheckResult(
        "regression.forgetting", "regression", True, 0.97, 0.96, "no forgetting", model=model,
        details={
            "holdouts": [{"holdout": "h0001", "introduced_by": "0001", "best_version": "0001",
                          "best_accuracy": 0.97, "candidate_accuracy": 0.968,
                          "forgetting": 0.002, "regressed": False}],
            # As mlchecks.run.gate builds it: holdout ids are content hashes.
            "matrix": {"versions": ["0001", "candidate"], "holdouts": ["9f2c41d0", "h-new"],
                       "introduced_by": ["0001", "candidate"],
                       "accuracy": [[0.97, None], [0.968, candidate.accuracy]]},
        },
    )  # fmt: skip
    speed = CheckResult(
        "speed.training", "speed", True, 0.007, None, "training throughput: recorded",
        model=model, severity="info", details={"normalised": 0.007, "samples_per_s": 2900.0},
    )  # fmt: skip
    return [acc, per_class, flips, forgetting, speed]


def rejected_report(
    digits, probs: np.ndarray, record=None, model: str = "mlp", name: str = "digits"
) -> tuple[ReportData, Evaluation, Evaluation]:
    """A rejected run's report data; returns (data, champion, candidate)."""
    champion = Evaluation(digits.y_test, probs, digits.num_classes)
    candidate = Evaluation(digits.y_test, forgetful(probs, digits.y_test), digits.num_classes)
    checks = rejected_checks(champion, candidate, model, list(digits.class_names))
    decision = GateDecision(
        accepted=False, name=name, checks=tuple(checks), champion_before="0001",
        champion_after="0001", notes=("rejected: registry unchanged",),
    )  # fmt: skip
    data = build(
        checks, name=name, decision=decision, dataset=digits, evaluations={model: candidate},
        records={model: record} if record is not None else None,
    )  # fmt: skip
    return data, champion, candidate
