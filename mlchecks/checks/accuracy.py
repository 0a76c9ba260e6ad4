"""The ``accuracy.*`` checks: Wilson-bounded accuracy (``accuracy.min``, with the default bar a
first version must clear), per-class recall, calibration error, loss and the worst of K seeds.

Each is a pure function of an :class:`~mlchecks.stats.evaluation.Evaluation` and the thresholds
returning a :class:`~mlchecks.result.CheckResult`. No pytest, no keras.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks import stats
from mlchecks.result import (
    AccuracyDetails,
    CalibrationDetails,
    CheckResult,
    PerClassDetails,
    SeedsDetails,
)

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec, Thresholds
    from mlchecks.data import Dataset
    from mlchecks.stats.evaluation import Evaluation


DEFAULT_BAR = "default bar"
# The default bar, used only where no min_accuracy is configured (see default_bar for why).
DEFAULT_CHANCE_MULTIPLE = 3.0
DEFAULT_GAP_SHARE = 0.5
HOW_TO_SET = (
    "set the bar with --min-accuracy FRACTION or min_accuracy in [tool.mlchecks.thresholds] "
    "(or the model's own min_accuracy)"
)


@dataclasses.dataclass(frozen=True)
class DefaultBar:
    """What :func:`default_bar` demands of a model on one test split (JSON via ``to_json``)."""

    floor: float
    chance: float
    rule: str
    majority_rate: float
    num_classes: int
    min_support: int
    never_recognised: tuple[int, ...]
    classes_held: int = 0  # classes the test split holds (0: all num_classes)

    def to_json(self) -> dict[str, Any]:
        return {
            "floor": self.floor, "chance": self.chance, "rule": self.rule,
            "majority_rate": self.majority_rate, "num_classes": self.num_classes,
            "classes_held": self.classes_held or self.num_classes,
            "multiple": DEFAULT_CHANCE_MULTIPLE, "gap_share": DEFAULT_GAP_SHARE,
            "min_support": self.min_support, "never_recognised": list(self.never_recognised),
        }  # fmt: skip


def default_bar(evaluation: Evaluation, confidence: float) -> DefaultBar:
    """The bar a model must clear when no ``min_accuracy`` is configured anywhere.

    Two demands, both judged on the test split:

    1. The Wilson lower bound of accuracy is above ``min(3 x chance, chance + (1 - chance) / 2)``
       where *chance* is the better of the majority-class rate and ``1 / K`` (what a constant
       or a uniformly random guess scores), ``K`` the number of classes the test split holds:
       a class-incremental holdout of 2 of a 10-unit head's classes has chance 1/2, not 1/10.
       With many classes the floor is three times chance (0.30 on 10 balanced classes, 0.03
       on 100): a model that only edges past chance has learnt next to nothing, while any model
       that learnt the task clears it by a wide margin (the reference MLP scores ~0.97 on
       digits and MNIST; a logistic regression ~0.9 on MNIST and ~0.4 on CIFAR-10). With few
       classes three times chance is unreachable (1.5 for 2 classes), so the floor is capped
       halfway from chance to perfect: the model makes at most half the errors of the constant
       guess (0.75 for two balanced classes, 0.625 for four). Issue 12: "lower bound above the
       majority-class rate" accepted a 13.6% model on 10-class MNIST (0.121 > 0.116) as the
       first champion.
    2. Every class the model never gets right is one with too few test samples to tell: a
       class with 0 of ``n`` right fails when its Wilson upper bound ``z^2 / (n + z^2)`` is
       below the recall of a uniform guess among the classes held ``1 / K``, i.e. when
       ``n > z^2 (K - 1)`` (35 samples for 10 classes at 95%, 8 for 3, 4 for 2 classes).
       Such a model ignores a class outright (the 13.6% model had recall 0.000 on class 3),
       which no accuracy figure should hide.

    A configured ``min_accuracy`` (command line, ``[tool.mlchecks.thresholds]``, the model's
    own per-backend value) replaces both demands.
    """
    support = evaluation.class_support
    # the classes the test split holds, not the head's: a subset (class-incremental) is judged
    # against a guess among its own classes
    k = max(int(np.count_nonzero(support)), 1)
    chance = max(evaluation.majority_rate, 1.0 / k)
    multiple = DEFAULT_CHANCE_MULTIPLE * chance
    halfway = chance + DEFAULT_GAP_SHARE * (1.0 - chance)
    floor, rule = (
        (multiple, f"{DEFAULT_CHANCE_MULTIPLE:g}x chance")
        if multiple <= halfway
        else (halfway, "halfway from chance to 1")
    )
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    min_support = math.floor(z * z * (k - 1)) + 1 if k > 1 else 1
    hits = evaluation.confusion.diagonal()
    never = tuple(c for c in range(evaluation.num_classes)
                  if support[c] >= min_support and hits[c] == 0)  # fmt: skip
    return DefaultBar(floor=float(floor), chance=float(chance), rule=rule,
                      majority_rate=float(evaluation.majority_rate),
                      num_classes=max(int(evaluation.num_classes), 1), min_support=min_support,
                      never_recognised=never, classes_held=k)  # fmt: skip


def inputs_not_finite(
    check_id: str,
    category: str,
    dataset: Dataset,
    *,
    model: str | None = None,
    trained_here: bool = False,
) -> CheckResult | None:
    """``check_id`` not judged because the data's inputs hold NaN or inf, else ``None``.

    A check that judges a model from its predictions (``accuracy.*``, ``behaviour.*``) says
    nothing about the model when the inputs are not numbers: a NaN input gives a NaN output,
    or, through a ReLU, an arbitrary finite one (which backend does which differs). Those
    inputs are the data's fault, and ``data.finite`` fails on them (and rejects), so the check
    is not judged and points there. The test split counts for every model; the train split
    only for a model trained in this run (``trained_here``), which learnt from it. Call it
    first in a suite of your own: ``inputs_not_finite(...) or accuracy_min(...)``.
    """
    splits = ("train", "test") if trained_here else ("test",)
    counts = dataset.nonfinite
    if not any(counts[s] for s in splits):
        return None
    parts = []
    if counts["test"]:
        parts.append(f"{counts['test']} of {dataset.n_test} test samples")
    if trained_here and counts["train"]:
        parts.append(f"{counts['train']} of {dataset.n_train} train samples it was trained on")
    who = f" of {model}" if model else ""
    message = (
        f"not judged: inputs contain NaN or inf ({' and '.join(parts)}), so {check_id}{who} "
        "would judge the data, not the model; see data.finite and fix the data"
    )
    return CheckResult.not_judged(check_id, category, message, model=model)


def accuracy_floor(
    evaluation: Evaluation, spec: ModelSpec | None, thresholds: Thresholds, backend: str
) -> tuple[float, str]:
    """The accuracy threshold that applies and where it came from.

    Precedence: command line / ``[tool.mlchecks.thresholds]`` ``min_accuracy``, then the model's
    own per-backend ``min_accuracy``, then the :func:`default_bar` (source ``"default bar"``).
    """
    if thresholds.min_accuracy is not None:
        return thresholds.min_accuracy, "min_accuracy"
    if spec is not None:
        own = spec.min_accuracy_for(backend)
        if own is not None:
            return own, f"min_accuracy of model {spec.name} on {backend}"
    return default_bar(evaluation, thresholds.confidence).floor, DEFAULT_BAR


def accuracy_min(
    evaluation: Evaluation,
    *,
    model: str,
    data: str,
    backend: str,
    thresholds: Thresholds,
    spec: ModelSpec | None = None,
    class_names: tuple[str, ...] | None = None,
) -> CheckResult:
    """``accuracy.min``: the Wilson lower confidence bound of accuracy clears the threshold.

    Judging the lower bound rather than the point estimate means a lucky run on a small test set
    cannot pass and an honest one is not failed by noise; a test set too small to show the
    threshold fails with the number of samples that would be needed. Without a configured
    ``min_accuracy`` the :func:`default_bar` applies, and the message and ``details`` (
    ``default_bar``, and ``warning`` when it passes) say so and how to set a bar.
    """
    conf = thresholds.confidence
    threshold, source = accuracy_floor(evaluation, spec, thresholds, backend)
    bar = default_bar(evaluation, conf) if source == DEFAULT_BAR else None
    k, n = evaluation.n_correct, evaluation.n
    lo, hi = stats.wilson_interval(k, n, conf)
    acc = evaluation.accuracy
    shown = f" ({source})"
    if bar is not None:
        held = bar.classes_held or bar.num_classes
        chance = "majority-class rate" if bar.majority_rate >= 1 / held else f"1/{held} classes"
        rule = (f"halfway from chance {bar.chance:.4f} to 1"
                if bar.rule.startswith("halfway")
                else f"{bar.rule} {bar.chance:.4f}")  # fmt: skip
        shown = f", the DEFAULT BAR of {rule} as no min_accuracy is configured,"
        passed = lo > threshold and not bar.never_recognised
    else:
        passed = lo >= threshold
    where = f"{model} on {data} [{backend}]"
    pct = f"{conf:.0%}"
    if lo > threshold or (bar is None and lo >= threshold):
        relation = ">" if bar is not None else ">="
        message = (
            f"accuracy of {where}: {acc:.4f}, {pct} lower bound {lo:.4f} {relation} "
            f"{threshold:.4f}{shown.rstrip(',')}"
        )
    elif acc > threshold:
        need = stats.samples_needed(acc, threshold, conf)
        message = (
            f"accuracy of {where}: {acc:.4f} ({k}/{n}) is above {threshold:.4f}{shown} but its "
            f"{pct} lower bound {lo:.4f} is not: {n} test samples cannot show it; about {need} "
            f"samples at this accuracy would"
        )
    else:
        message = f"accuracy of {where}: {acc:.4f} ({k}/{n}) is below {threshold:.4f}" + (
            shown.rstrip(",")
        )
    details: dict[str, Any] = {
        "lower": lo, "upper": hi, "n": n, "correct": k, "confidence": conf, "source": source,
        "backend": backend, "data": data,
    }  # fmt: skip
    if bar is not None:
        explanation = [f"{pct} interval [{lo:.4f}, {hi:.4f}]; chance is the {chance}"]
        if bar.classes_held and bar.classes_held < bar.num_classes:
            explanation.append(
                f"the test split holds {bar.classes_held} of the {bar.num_classes} classes: "
                f"chance and the class rule count those {bar.classes_held}"
            )
        if bar.never_recognised:
            support = evaluation.class_support
            named = [f"class {_class_label(c, class_names)} (recall 0/{int(support[c])})"
                     for c in bar.never_recognised]  # fmt: skip
            more = len(named) - 1
            message += f"; never right on {named[0]}" + (f" and {more} more" if more else "")
            explanation.append(
                f"never right on {', '.join(named)}: the default bar needs every class with >= "
                f"{bar.min_support} test samples recognised"
            )
        explanation.append(HOW_TO_SET)
        details["explanation"] = "; ".join(explanation)
        details["default_bar"] = bar.to_json()
        if passed:
            details["warning"] = (
                f"judged on the DEFAULT BAR ({rule}, floor {threshold:.4f}): no min_accuracy "
                f"is configured for {model}; set one with --min-accuracy FRACTION"
            )
    return CheckResult(
        id="accuracy.min",
        category="accuracy",
        passed=passed,
        value=acc,
        threshold=threshold,
        message=message,
        model=model,
        details=AccuracyDetails.from_json(details, strict=True),
    )


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
                           model=model, details=PerClassDetails.from_json(details, strict=True),
                           )  # fmt: skip
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
            model=model, severity="info", details=PerClassDetails.from_json(details, strict=True),
        )  # fmt: skip
    below = [c for c in present if recall[c] < threshold]
    details["below"] = below
    if not below:
        message = (
            f"every class of {model} on {data} has recall >= {threshold:.4f}; weakest is "
            f"class {label}: {figure}"
        )
    else:
        ordered = sorted(below, key=lambda c: (recall[c], c))
        others = ", ".join(f"{_class_label(c, class_names)}: {recall[c]:.4f}" for c in ordered)
        message = (
            f"recall of class {label} of {model} on {data} is {worst:.4f} ({row['correct']}/"
            f"{row['support']}) < min_class_recall {threshold:.4f}"
        )
        if len(below) > 1:
            message += f"; {len(below) - 1} more class(es) below"
        details["explanation"] = (
            f"weakest class {label}: recall {figure}; {len(below)} class(es) below: {others}"
        )
    return CheckResult("accuracy.class_recall", "accuracy", not below, worst, threshold, message,
                       model=model, details=PerClassDetails.from_json(details, strict=True),
                       )  # fmt: skip


def accuracy_ece(
    evaluation: Evaluation, *, model: str, data: str, thresholds: Thresholds, bins: int = 15
) -> CheckResult:
    """``accuracy.ece``: expected calibration error at most ``max_ece`` (info when unset)."""
    ece = evaluation.ece(bins)
    threshold = thresholds.max_ece
    details = CalibrationDetails(bins=bins)
    if math.isnan(ece):
        message = (
            f"calibration error of {model} on {data} is undefined: its outputs are not "
            "probabilities (rows must be >= 0 and sum to 1; add a softmax output)"
        )
        if threshold is None:
            return CheckResult.not_judged("accuracy.ece", "accuracy", f"not judged: {message}",
                                          model=model, details=details)  # fmt: skip
        return CheckResult("accuracy.ece", "accuracy", False, None, threshold, message,
                           model=model, details=details)  # fmt: skip
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
        if threshold is None:
            return CheckResult.not_judged("accuracy.loss", "accuracy", f"not judged: {message}",
                                          model=model)  # fmt: skip
        return CheckResult("accuracy.loss", "accuracy", False, None, threshold, message,
                           model=model)  # fmt: skip
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
    judged = worst.details
    assert isinstance(judged, AccuracyDetails) and judged.lower is not None  # accuracy_min's
    lo = judged.lower
    spread = f"{mean:.4f} ± {std:.4f} (mean ± std of {len(accs)} seeds)"
    relation = ">=" if worst.passed else "<"
    message = (
        f"accuracy of {model} on {data} [{backend}]: {spread}; worst seed {worst_seed}: "
        f"{worst_eval.accuracy:.4f}, {thresholds.confidence:.0%} lower bound {lo:.4f} {relation} "
        f"{worst.threshold:.4f} ({judged.source})"
    )
    details = SeedsDetails(
        seeds=[s for s, _ in evaluations],
        accuracies=accs.tolist(),
        mean=mean,
        std=std,
        worst_seed=worst_seed,
        worst_lower=lo,
        n=worst_eval.n,
        confidence=thresholds.confidence,
        source=judged.source,
    )
    return CheckResult("accuracy.seeds", "accuracy", worst.passed, float(accs.min()),
                       worst.threshold, message, model=model, details=details)  # fmt: skip
