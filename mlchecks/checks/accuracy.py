"""Check results and the checks shared by the suites and the gate. No pytest, no keras.

A check is a function returning a :class:`CheckResult`; the suites record it (JUnit property,
terminal summary, gate decision) and fail when it did not pass. The same id means the same
check everywhere: report, ``--json`` and suites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks import stats
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec, Thresholds
    from mlchecks.stats.evaluation import Evaluation


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


def _class_label(index: int, names: tuple[str, ...] | None) -> str:
    """``3`` or ``3 ('cat')`` when the class has a name other than its id."""
    if names is not None and index < len(names) and names[index] != str(index):
        return f"{index} ({names[index]!r})"
    return str(index)


def per_class_details(
    evaluation: Evaluation, confidence: float, class_names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Per-class recall/precision with Wilson intervals and the confusion matrix (JSON-able)."""
    rows: list[dict[str, Any]] = []
    hits = evaluation.confusion.diagonal()
    predicted = evaluation.confusion.sum(axis=0)
    for c in range(evaluation.num_classes):
        support = int(evaluation.class_support[c])
        recall = evaluation.class_recall[c]
        precision = evaluation.class_precision[c]
        lo, hi = stats.wilson_interval(int(hits[c]), support, confidence)
        rows.append({
            "class": c,
            "name": class_names[c] if class_names and c < len(class_names) else str(c),
            "support": support,
            "correct": int(hits[c]),
            "predicted": int(predicted[c]),
            "recall": None if math.isnan(recall) else float(recall),
            "recall_lower": lo if support else None,
            "recall_upper": hi if support else None,
            "precision": None if math.isnan(precision) else float(precision),
        })  # fmt: skip
    return {"per_class": rows, "confusion": evaluation.confusion.tolist(), "confidence": confidence}


def accuracy_class_recall(
    evaluation: Evaluation,
    *,
    model: str,
    data: str,
    thresholds: Thresholds,
    class_names: tuple[str, ...] | None = None,
) -> CheckResult:
    """``accuracy.class_recall``: every class's recall is at least ``min_class_recall``.

    Judged on each class's point recall; the Wilson interval of each is in ``details`` (per-class
    test sets are small, e.g. 45 samples a class on digits, so demanding the lower bound clear the
    threshold would ask for near-perfect recall). Without a configured threshold the check is
    informational and still names the weakest class. ``details`` holds per-class recall,
    precision, support and the confusion matrix for the report.
    """
    recall = evaluation.class_recall
    present = [c for c in range(evaluation.num_classes) if evaluation.class_support[c] > 0]
    details = per_class_details(evaluation, thresholds.confidence, class_names)
    if not present:
        return CheckResult("accuracy.class_recall", "accuracy", False, None,
                           thresholds.min_class_recall, f"{model} on {data}: no test samples",
                           model=model, details=details)  # fmt: skip
    weakest = min(present, key=lambda c: (recall[c], c))
    worst = float(recall[weakest])
    label = _class_label(weakest, class_names)
    row = details["per_class"][weakest]
    figure = (
        f"{worst:.4f} ({row['correct']}/{row['support']}, {thresholds.confidence:.0%} interval "
        f"[{row['recall_lower']:.4f}, {row['recall_upper']:.4f}])"
    )
    details["weakest"] = weakest
    threshold = thresholds.min_class_recall
    if threshold is None:
        return CheckResult(
            "accuracy.class_recall", "accuracy", True, worst, None,
            f"weakest class of {model} on {data} is class {label}: recall {figure} (no "
            "min_class_recall configured)",
            model=model, severity="info", details=details,
        )  # fmt: skip
    below = [c for c in present if recall[c] < threshold]
    details["below"] = below
    if not below:
        message = (
            f"every class of {model} on {data} has recall >= {threshold:.4f}; weakest is "
            f"class {label}: {figure}"
        )
    else:
        others = ", ".join(f"{_class_label(c, class_names)}: {recall[c]:.4f}" for c in below)
        message = (
            f"recall of class {label} of {model} on {data} is {figure} < min_class_recall "
            f"{threshold:.4f}; {len(below)} class(es) below: {others}"
        )
    return CheckResult("accuracy.class_recall", "accuracy", not below, worst, threshold, message,
                       model=model, details=details)  # fmt: skip


def accuracy_ece(
    evaluation: Evaluation, *, model: str, data: str, thresholds: Thresholds, bins: int = 15
) -> CheckResult:
    """``accuracy.ece``: expected calibration error at most ``max_ece`` (info when unset)."""
    ece = evaluation.ece(bins)
    threshold = thresholds.max_ece
    details = {"bins": bins}
    if math.isnan(ece):
        message = (
            f"calibration error of {model} on {data} is undefined: its outputs are not "
            "probabilities (rows must be >= 0 and sum to 1; add a softmax output)"
        )
        return CheckResult("accuracy.ece", "accuracy", threshold is None, None, threshold,
                           message, model=model, severity="error" if threshold is not None
                           else "info", details=details)  # fmt: skip
    if threshold is None:
        message = f"expected calibration error of {model} on {data}: {ece:.4f} ({bins} bins)"
        return CheckResult("accuracy.ece", "accuracy", True, ece, None, message, model=model,
                           severity="info", details=details)  # fmt: skip
    passed = ece <= threshold
    relation = "<=" if passed else ">"
    message = (
        f"expected calibration error of {model} on {data}: {ece:.4f} {relation} max_ece "
        f"{threshold:.4f} ({bins} bins)"
        + ("" if passed else "; the model is over- or under-confident (temperature scaling helps)")
    )
    return CheckResult("accuracy.ece", "accuracy", passed, ece, threshold, message, model=model,
                       details=details)  # fmt: skip


def accuracy_loss(
    evaluation: Evaluation, *, model: str, data: str, thresholds: Thresholds
) -> CheckResult:
    """``accuracy.loss``: mean test cross-entropy at most ``max_loss`` (info when unset)."""
    loss = evaluation.loss
    threshold = thresholds.max_loss
    if math.isnan(loss):
        message = (
            f"cross-entropy of {model} on {data} is undefined: its outputs are not probabilities "
            "over every class (add a softmax output with one unit per class)"
        )
        return CheckResult("accuracy.loss", "accuracy", threshold is None, None, threshold,
                           message, model=model,
                           severity="error" if threshold is not None else "info")  # fmt: skip
    if threshold is None:
        message = f"test cross-entropy of {model} on {data}: {loss:.4f}"
        return CheckResult("accuracy.loss", "accuracy", True, loss, None, message, model=model,
                           severity="info")  # fmt: skip
    passed = loss <= threshold
    relation = "<=" if passed else ">"
    message = (
        f"test cross-entropy of {model} on {data}: {loss:.4f} {relation} max_loss {threshold:.4f}"
    )
    return CheckResult("accuracy.loss", "accuracy", passed, loss, threshold, message, model=model)


def accuracy_seeds(
    evaluations: Sequence[tuple[int, Evaluation]],
    *,
    model: str,
    data: str,
    backend: str,
    thresholds: Thresholds,
    spec: ModelSpec | None = None,
) -> CheckResult:
    """``accuracy.seeds``: the same recipe trained with K seeds; the worst seed must pass.

    Reports mean ± standard deviation (ddof=1) of accuracy across seeds; the worst seed is judged
    exactly like ``accuracy.min`` (Wilson lower bound against the same floor), so a recipe that
    passes only on a lucky seed fails here.
    """
    if not evaluations:
        raise ValueError("accuracy_seeds needs at least one (seed, evaluation) pair")
    accs = np.array([e.accuracy for _, e in evaluations])
    mean = float(accs.mean())
    std = float(accs.std(ddof=1)) if len(accs) > 1 else 0.0
    worst_index = int(accs.argmin())
    worst_seed, worst_eval = evaluations[worst_index]
    worst = accuracy_min(worst_eval, model=model, data=data, backend=backend,
                         thresholds=thresholds, spec=spec)  # fmt: skip
    lo = worst.details["lower"]
    spread = f"{mean:.4f} ± {std:.4f} (mean ± std of {len(accs)} seeds)"
    relation = ">=" if worst.passed else "<"
    message = (
        f"accuracy of {model} on {data} [{backend}]: {spread}; worst seed {worst_seed}: "
        f"{worst_eval.accuracy:.4f}, {thresholds.confidence:.0%} lower bound {lo:.4f} {relation} "
        f"{worst.threshold:.4f} ({worst.details['source']})"
    )
    details = {
        "seeds": [s for s, _ in evaluations],
        "accuracies": accs.tolist(),
        "mean": mean,
        "std": std,
        "worst_seed": worst_seed,
        "worst_lower": lo,
        "n": worst_eval.n,
        "confidence": thresholds.confidence,
        "source": worst.details["source"],
    }
    return CheckResult("accuracy.seeds", "accuracy", worst.passed, float(accs.min()),
                       worst.threshold, message, model=model, details=details)  # fmt: skip
