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


# --- samples of the browser and layout tests (issue 15, items 16-19) --------------------------

AB_RATIOS = [1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01]


def _model_checks(evaluation: Evaluation, model: str, names: tuple[str, ...]) -> list[CheckResult]:
    from mlchecks.checks import accuracy as acc

    thresholds = Thresholds(min_accuracy=0.9)
    return [
        acc.accuracy_min(evaluation, model=model, data="digits", backend="tensorflow",
                         thresholds=thresholds),
        acc.accuracy_class_recall(evaluation, model=model, data="digits", thresholds=thresholds,
                                  class_names=names),
        acc.accuracy_ece(evaluation, model=model, data="digits", thresholds=thresholds),
    ]  # fmt: skip


def first_version_report(digits, probs: np.ndarray, record=None, name: str = "digits"):
    """An accepted gate that found no champion and stored version 0001 of lineage ``name``."""
    from mlchecks.checks import regression, speed
    from mlchecks.run.promote import LineageOutcome

    ev = Evaluation(digits.y_test, probs, digits.num_classes)
    checks = _model_checks(ev, "mlp", tuple(digits.class_names))
    checks += regression.no_champion_checks(name, ".mlchecks/registry", model="mlp")
    checks.append(speed.speed_check({"normalised": 0.012, "samples_per_s": 2500.0}, None,
                                    model="mlp"))  # fmt: skip
    decision = GateDecision(
        accepted=True, name=name, checks=tuple(checks), version="0001", champion_before=None,
        champion_after="0001", lineages=(LineageOutcome(name, "mlp", None, "0001", "0001"),),
    )  # fmt: skip
    return build(checks, name=name, decision=decision, dataset=digits, evaluations={"mlp": ev},
                 records={"mlp": record} if record is not None else None)  # fmt: skip


def two_model_report(digits, mlp_probs: np.ndarray, cnn_probs: np.ndarray, mlp_record=None):
    """An accepted gate of two models, each against its champion (same-run speed A/B, drift).

    mlp was trained by mlchecks (training curves); cnn was given as a ``.keras`` file.
    """
    from mlchecks.checks import regression, speed
    from mlchecks.data import profile as pf
    from mlchecks.run.promote import LineageOutcome

    names = tuple(digits.class_names)
    evaluations = {}
    checks: list[CheckResult] = []
    stored = {"id": "speed.training", "value": 0.011,
              "details": {"normalised": 0.011, "samples_per_s": 2400.0}}  # fmt: skip
    for model, probs in (("mlp", mlp_probs), ("cnn", cnn_probs)):
        ev = evaluations[model] = Evaluation(digits.y_test, probs, digits.num_classes)
        checks += _model_checks(ev, model, names)
        correct = ev.correct
        checks.append(regression.accuracy_check(correct, correct, thresholds=Thresholds(),
                                                champion="0003", model=model))  # fmt: skip
        checks.append(speed.ab_check(
            AB_RATIOS, model=model, champion="0003", history=stored,
            measurement={"steps": 5, "batch_size": 32, "candidate_samples_per_s": 2500.0,
                         "champion_samples_per_s": 2480.0},
            current={"normalised": 0.012, "samples_per_s": 2500.0},
        ))  # fmt: skip
    brighter = digits.replace(x_test=np.clip(digits.x_test + 0.3, 0, 1),
                              x_train=np.clip(digits.x_train + 0.3, 0, 1))  # fmt: skip
    # a warning: the page shows the drift, the verdict stays accepted
    checks.append(pf.drift(pf.profile(digits), pf.profile(brighter), severity="warning"))
    lineages = (LineageOutcome("mlp", "mlp", "0003", "0004", "0004"),
                LineageOutcome("cnn", "cnn", "0003", "0004", "0004"))  # fmt: skip
    decision = GateDecision(accepted=True, name="mlp", checks=tuple(checks), version="0004",
                            champion_before="0003", champion_after="0004",
                            lineages=lineages)  # fmt: skip
    return build(
        checks, name="mlp", decision=decision, dataset=digits, evaluations=evaluations,
        records={"mlp": mlp_record} if mlp_record is not None else None,
        model_files={"cnn": "candidates/cnn.keras"},
    )  # fmt: skip


LONG_FAILS = [
    "accuracy.min",
    "accuracy.class_recall",
    "regression.accuracy",
    "regression.per_class",
    "regression.flip_rate",
    "regression.forgetting",
    "data.drift",
    "speed.training",
]


def history_folder(folder, digits=None) -> dict[str, str]:
    """A reports folder of six runs in two lineages; returns ``{run id: what it was}``.

    Only ``first`` stored a first version; ``pytest`` (a pytest session) and ``no-promote`` (a
    gate that judged only) found no champion either and stored nothing.
    """
    import datetime as dt

    from mlchecks.report import write_report
    from mlchecks.run.promote import LineageOutcome

    def check(model: str, passed: bool, value: float, check_id: str = "accuracy.min"):
        return CheckResult(check_id, "accuracy", passed, value, 0.9, "m", model=model)

    def write(run_id: str, minute: int, checks, decision=None, source="gate", name="digits"):
        when = dt.datetime(2026, 1, 1, 12, minute, tzinfo=dt.UTC)
        data = build(checks, name=name, decision=decision, source=source, run_id=run_id,
                     created=when)  # fmt: skip
        write_report(data, folder)

    def gate(accepted, checks, before, version, name="digits"):
        after = version or before
        lineage = LineageOutcome(name, "mlp", before, after, version)
        return GateDecision(accepted=accepted, name=name, checks=tuple(checks), version=version,
                            champion_before=before, champion_after=after,
                            lineages=(lineage,))  # fmt: skip

    runs = {}
    ok = [check("mlp", True, 0.95)]
    write("r1-pytest", 1, ok, source="pytest")
    runs["r1-pytest"] = "pytest"
    write("r2-no-promote", 2, ok, gate(True, ok, None, None))
    runs["r2-no-promote"] = "no-promote"
    write("r3-first", 3, ok, gate(True, ok, None, "0001"))
    runs["r3-first"] = "first"
    better = [check("mlp", True, 0.962)]
    write("r4-second", 4, better, gate(True, better, "0001", "0002"))
    runs["r4-second"] = "second"
    bad = [check("mlp", False, 0.71, i) for i in LONG_FAILS]
    write("r5-rejected", 5, bad, gate(False, bad, "0002", None))
    runs["r5-rejected"] = "rejected"
    other = [check("cnn", True, 0.97)]
    write("r6-other", 6, other, gate(True, other, None, "0001", name="fashion"), name="fashion")
    runs["r6-other"] = "other lineage"
    return runs
