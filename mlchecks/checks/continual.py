"""The class-incremental forgetting rule and the continual-learning figures of a lineage.

Pure numpy. In a class-incremental lineage (``scenario = "class"``) each version learns new
classes with one growing class space, and some loss on old classes is the price of learning new
ones: a replay-trained MLP on Split MNIST loses 4-27 pp of an earlier task's accuracy, and even
joint training loses a little. So the class scenario judges forgetting against a **budget**
instead of the domain scenario's "no forgetting" margin:

- every earlier holdout: forgetting (best earlier accuracy on it minus the candidate's) beyond
  ``forgetting_budget`` pp, judged by the regression rule (significant and beyond the budget;
  Holm across holdouts), rejects (``regression.forgetting``);
- backward transfer (BWT, Lopez-Paz & Ranzato 2017: the mean over earlier holdouts of the
  candidate's accuracy minus the accuracy of the version that brought the holdout, when it was
  accepted) below ``min_backward_transfer`` pp rejects;
- when the data brings classes no earlier holdout held (a *learning step*), the champion's
  holdout is an earlier task's: ``regression.accuracy`` and ``regression.per_class`` judge it
  with the same budget as their margin.

The defaults (50 pp, -30 pp) are measured (``benchmarks/class_incremental.py``): on Split
MNIST, replay of 100 samples per old digit forgets at most 26.7 pp of a holdout with BWT
>= -15.8 pp; naive fine-tuning forgets >= 97.5 pp with BWT <= -98.5 pp, at every step.

:func:`matrix_figures` gives the accuracy matrix R[i][j] (version x holdout) its per-version
average accuracy over the holdouts seen and backward transfer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from mlchecks.result import CheckResult

__all__ = ["CLASS", "apply_bwt_floor", "hint_class_scenario", "matrix_figures", "new_classes"]

CLASS = "class"


def new_classes(current: np.ndarray, earlier: Iterable[np.ndarray]) -> list[int]:
    """Class ids the current labels hold that no earlier holdout's labels held."""
    seen: set[int] = set()
    for y in earlier:
        seen.update(int(c) for c in np.unique(y))
    return [int(c) for c in np.unique(current) if int(c) not in seen]


def matrix_figures(matrix: Mapping[str, Any]) -> dict[str, Any]:
    """``matrix`` with each version's average accuracy and backward transfer.

    Row ``i`` averages the holdouts it was evaluated on; its backward transfer is the mean over
    those holdouts brought by an earlier version of ``R[i][j] - R[intro(j)][j]`` (``None`` when
    there are none, e.g. the first version).
    """
    versions = list(matrix["versions"])
    introduced = list(matrix.get("introduced_by") or [])
    rows = [list(r) for r in matrix["accuracy"]]
    average: list[float | None] = []
    backward: list[float | None] = []
    for i, row in enumerate(rows):
        seen = [a for a in row if a is not None]
        average.append(float(np.mean(seen)) if seen else None)
        deltas = []
        for j, value in enumerate(row):
            by = introduced[j] if j < len(introduced) else None
            if value is None or by is None or by == versions[i] or by not in versions:
                continue
            first = rows[versions.index(by)][j]
            if first is not None and versions.index(by) < i:
                deltas.append(value - first)
        backward.append(float(np.mean(deltas)) if deltas else None)
    return {**matrix, "average_accuracy": average, "backward_transfer": backward}


def apply_bwt_floor(result: CheckResult, floor_pp: float, budget_pp: float) -> CheckResult:
    """``regression.forgetting`` under the class scenario: also fails when its backward
    transfer is below ``floor_pp``; the details say which rule judged it."""
    details = result.details
    bwt = getattr(details, "backward_transfer", None)
    if bwt is None:  # not judged: no earlier holdout
        return result
    below = bwt * 100 < floor_pp - 1e-9
    passed = result.passed and not below
    rule = (
        f"class-incremental budget: forgetting <= {budget_pp:g} pp per earlier holdout, "
        f"backward transfer >= {floor_pp:g} pp"
    )
    message = result.message
    floor = f"backward transfer {bwt * 100:+.2f} pp is below the floor {floor_pp:g} pp"
    if below and result.passed:  # no holdout beyond the budget, but too much forgotten overall
        message = f"FORGETTING: {floor} ({message})"
    elif below:
        message = f"{message}; {floor}"
    changes: dict[str, Any] = {"scenario": CLASS, "min_backward_transfer": floor_pp / 100}
    if "explanation" in {f.name for f in dataclasses.fields(details)}:
        before = getattr(details, "explanation", None)
        changes["explanation"] = f"{before}; {rule}" if before else rule
    else:
        message = f"{message} ({rule})"
    return dataclasses.replace(result, passed=passed, message=message,
                               details=dataclasses.replace(details, **changes))  # fmt: skip


def hint_class_scenario(result: CheckResult, arrived: list[int]) -> CheckResult:
    """A domain-scenario forgetting failure on data that brings new classes: say that a
    class-incremental lineage is judged by the forgetting budget."""
    shown = ", ".join(str(c) for c in arrived[:8]) + (", ..." if len(arrived) > 8 else "")
    hint = (
        f"this data brings classes no earlier holdout held ({shown}): for a class-incremental "
        'lineage set scenario = "class" (a forgetting budget; README: Continual learning)'
    )
    return dataclasses.replace(result, message=f"{result.message}; {hint}")
