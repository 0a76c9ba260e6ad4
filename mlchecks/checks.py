"""Check results and the checks shared by the suites and the gate. No pytest, no keras.

A check is a function returning a :class:`CheckResult`; the suites record it (JUnit property,
terminal summary, gate decision) and fail when it did not pass. The same id means the same
check everywhere: report, ``--json`` and suites.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from mlchecks import stats

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec, Thresholds
    from mlchecks.evaluation import Evaluation

CATEGORIES = ("setup", "data", "accuracy", "behaviour", "speed", "regression")
SEVERITIES = ("error", "warning", "info")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's outcome.

    Attributes:
        id: stable check id, ``<category>.<name>`` (e.g. ``accuracy.min``).
        category: one of :data:`CATEGORIES`.
        passed: whether the check passed. Warnings and infos never block a gate.
        value: the measured figure, when there is one.
        threshold: the figure it was judged against, when there is one.
        message: one sentence a person understands: what, value, threshold, where, what next.
        model: the model the check is about (``None`` for data-only checks).
        severity: ``error`` (blocks when failed), ``warning`` or ``info``.
        details: extra JSON-able data for reports (intervals, per-class figures, examples).
    """

    id: str
    category: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str
    model: str | None = None
    severity: str = "error"
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            msg = f"check {self.id!r} has category {self.category!r}; expected one of {CATEGORIES}"
            raise ValueError(msg)
        if self.severity not in SEVERITIES:
            msg = f"check {self.id!r} has severity {self.severity!r}; expected one of {SEVERITIES}"
            raise ValueError(msg)

    @property
    def blocking(self) -> bool:
        """A failed error-severity check rejects the candidate."""
        return not self.passed and self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {
            "id": self.id,
            "category": self.category,
            "passed": self.passed,
            "value": clean(self.value),
            "threshold": clean(self.threshold),
            "message": self.message,
            "model": self.model,
            "severity": self.severity,
            "details": self.details,
        }


def accuracy_floor(
    evaluation: Evaluation, spec: ModelSpec | None, thresholds: Thresholds, backend: str
) -> tuple[float, str]:
    """The accuracy threshold that applies and where it came from.

    Precedence: command line / ``[tool.mlchecks.thresholds]`` ``min_accuracy``, then the model's
    own per-backend ``min_accuracy``, then the default rule (beat the majority-class rate).
    """
    if thresholds.min_accuracy is not None:
        return thresholds.min_accuracy, "min_accuracy"
    if spec is not None:
        own = spec.min_accuracy_for(backend)
        if own is not None:
            return own, f"min_accuracy of model {spec.name} on {backend}"
    return evaluation.majority_rate, "majority-class rate"


def accuracy_min(
    evaluation: Evaluation,
    *,
    model: str,
    data: str,
    backend: str,
    thresholds: Thresholds,
    spec: ModelSpec | None = None,
) -> CheckResult:
    """``accuracy.min``: the Wilson lower confidence bound of accuracy clears the threshold.

    Judging the lower bound rather than the point estimate means a lucky run on a small test set
    cannot pass and an honest one is not failed by noise; a test set too small to show the
    threshold fails with the number of samples that would be needed.
    """
    conf = thresholds.confidence
    threshold, source = accuracy_floor(evaluation, spec, thresholds, backend)
    k, n = evaluation.n_correct, evaluation.n
    lo, hi = stats.wilson_interval(k, n, conf)
    acc = evaluation.accuracy
    passed = lo > threshold if source == "majority-class rate" else lo >= threshold
    where = f"{model} on {data} [{backend}]"
    pct = f"{conf:.0%}"
    if passed:
        message = (
            f"accuracy of {where}: {acc:.4f} ({k}/{n}), {pct} lower bound {lo:.4f} >= "
            f"{threshold:.4f} ({source})"
        )
    elif acc > threshold:
        need = stats.samples_needed(acc, threshold, conf)
        message = (
            f"accuracy of {where}: {acc:.4f} ({k}/{n}) is above {threshold:.4f} ({source}) but its "
            f"{pct} lower bound {lo:.4f} is not: {n} test samples cannot show it; about {need} "
            f"samples at this accuracy would"
        )
    else:
        message = (
            f"accuracy of {where}: {acc:.4f} ({k}/{n}), {pct} interval [{lo:.4f}, {hi:.4f}], "
            f"is below {threshold:.4f} ({source})"
        )
    return CheckResult(
        id="accuracy.min",
        category="accuracy",
        passed=passed,
        value=acc,
        threshold=threshold,
        message=message,
        model=model,
        details={"lower": lo, "upper": hi, "n": n, "correct": k, "confidence": conf,
                 "source": source, "backend": backend, "data": data},
    )  # fmt: skip
