"""What a candidate is judged against: its lineage's champion and history, read from the registry,
and the ``regression.*`` results against them. Imports neither pytest nor keras.

How a candidate is judged against its lineage:

- Each version in the registry keeps its **holdout**: the test split of the data it was gated
  on (``--data``), stored once per lineage by content hash, and its predictions on it.
- A candidate is compared with the champion **on the champion's holdout**
  (``regression.accuracy``, ``regression.per_class``, ``regression.flip_rate``) and with the
  best earlier version **on every earlier active version's holdout** (``regression.forgetting``).
  When ``--data`` is the same data as before, these holdouts are the current test split and
  the candidate's predictions come from the model-cache memo (no Keras import on a warm run);
  otherwise the candidate predicts the stored holdouts.
- The champion's side of each comparison is its stored predictions: the regression checks
  never load the champion's model, they only check the model file's sha256 (a tampered
  champion is an error). Only the speed suite loads it (sha256-checked, safe mode), to time
  both models' training steps in the same run.
- On acceptance the candidate becomes the next version, its holdout the current test split.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.checks import continual
from mlchecks.checks import regression as compare
from mlchecks.errors import ModelError, RegistryError
from mlchecks.registry import Holdout, VersionRecord
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec
    from mlchecks.data import Dataset
    from mlchecks.model.training import TrainedModel
    from mlchecks.registry import Registry
    from mlchecks.run.session import Session


# --------------------------------------------------------------------------- baselines
@dataclasses.dataclass(frozen=True, eq=False)
class EarlierHoldout:
    """One earlier holdout and who did best on it."""

    holdout: Holdout
    introduced_by: str
    first_accuracy: float
    best_version: str
    best_pred: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class Baseline:
    """What a candidate of one lineage is judged against, read (and verified) from the registry.

    Attributes:
        lineage: the lineage name.
        registry: where the registry lives (for messages).
        record: the champion's version record (metrics, stored checks, data profile, ...).
        holdout: the champion's holdout.
        champion_pred: the champion's predicted class ids on it.
        earlier: every active version's holdout (the champion's included), with the best
            earlier version on it.
        matrix: accuracy of each active version on each holdout (``None`` where never
            evaluated): ``{"versions": [...], "holdouts": [...], "introduced_by": [...],
            "accuracy": [[...]]}``.
    """

    lineage: str
    registry: str
    record: VersionRecord
    holdout: Holdout
    champion_pred: np.ndarray
    earlier: tuple[EarlierHoldout, ...]
    matrix: dict[str, Any]

    @property
    def version(self) -> str:
        return self.record.version

    @property
    def holdouts(self) -> tuple[Holdout, ...]:
        return tuple(e.holdout for e in self.earlier)


def load_baseline(registry: Registry, lineage: str) -> Baseline | None:
    """The champion of ``lineage`` and the history the candidate must not forget.

    Returns ``None`` when the lineage has no champion yet.

    Raises:
        RegistryError: the index, a record, the champion's model file, a holdout or stored
            predictions fail their integrity checks.
    """
    state = registry.state(lineage)
    if state.champion is None:
        return None
    champion = registry.record(lineage, state.champion)
    # sha256 check: never judge against a tampered champion
    registry.model_path(lineage, champion.version)
    versions = [v.version for v in state.active]
    records = {v: registry.record(lineage, v) for v in versions}
    preds = {v: registry.predictions(lineage, v) for v in versions}
    holdouts: dict[str, Holdout] = {}
    introduced: dict[str, str] = {}
    for v in versions:
        hid = records[v].holdout
        if hid not in holdouts:
            holdouts[hid] = registry.holdout(lineage, hid)
            introduced[hid] = v
    accuracy: list[list[float | None]] = []
    for v in versions:
        row: list[float | None] = []
        for hid, h in holdouts.items():
            p = preds[v].get(hid)
            row.append(None if p is None or p.shape != h.y.shape else float((p == h.y).mean()))
        accuracy.append(row)
    earlier: list[EarlierHoldout] = []
    for j, (hid, h) in enumerate(holdouts.items()):
        scored = [(accuracy[i][j], i) for i in range(len(versions)) if accuracy[i][j] is not None]
        # ties go to the later version (the one the lineage moved on to)
        _, best_i = max(scored)  # type: ignore[type-var]
        first = accuracy[versions.index(introduced[hid])][j]
        earlier.append(EarlierHoldout(h, introduced[hid], float(first or 0.0),
                                      versions[best_i], preds[versions[best_i]][hid]))  # fmt: skip
    if champion.holdout not in preds[champion.version]:
        msg = f"champion {champion.version} of {lineage!r} has no predictions on its own holdout"
        raise RegistryError(msg)
    matrix = {"versions": versions, "holdouts": list(holdouts),
              "introduced_by": [introduced[h] for h in holdouts], "accuracy": accuracy}  # fmt: skip
    return Baseline(lineage, registry.location, champion, holdouts[champion.holdout],
                    preds[champion.version][champion.holdout], tuple(earlier), matrix)  # fmt: skip


def current_holdout(dataset: Dataset) -> Holdout:
    """The test split of ``dataset`` as a holdout (what an accepted version keeps)."""
    return Holdout.from_arrays(dataset.x_test, dataset.y_test, dataset.num_classes,
                               tuple(dataset.class_names))  # fmt: skip


def check_fits(baseline: Baseline, dataset: Dataset, model: str) -> None:
    """Refuse to compare across input shapes or a shrinking class space (a new lineage is
    needed). The class space may grow: a later version learns new classes (a wider head, or a
    wider ``classes``), and every earlier holdout is judged on its own classes.

    Raises:
        ModelError: the champion's holdouts cannot be fed to a model of ``dataset``'s shape,
            or the class space (the data's, widened to the model's head) shrank.
    """
    for h in baseline.holdouts:
        shape = tuple(h.x.shape[1:])
        if shape == tuple(dataset.input_shape) and h.num_classes > dataset.num_classes:
            msg = (
                f"{model}: lineage {baseline.lineage!r} holds versions with a class space of "
                f"{h.num_classes} classes, but the candidate and --data give "
                f"{dataset.num_classes}: a lineage's class space may grow, never shrink; give "
                f"the model an output head of at least {h.num_classes} units (or classes = "
                f"{h.num_classes}), or use another --name for this model"
            )
            raise ModelError(msg)
        if shape != tuple(dataset.input_shape):
            msg = (
                f"{model}: lineage {baseline.lineage!r} holds versions for input "
                f"{tuple(h.x.shape[1:])} with {h.num_classes} classes, but --data gives input "
                f"{dataset.input_shape} with {dataset.num_classes} classes; a lineage keeps its "
                "input and classes: use another --name for this model"
            )
            raise ModelError(msg)


def holdout_predictions(session: Session, trained: TrainedModel, holdout: Holdout) -> np.ndarray:
    """The candidate's predicted class ids on ``holdout`` (memoised per model and holdout).

    The current test split reuses :meth:`Session.predictions` (memoised in the model-cache
    entry); other holdouts are predicted once and memoised by their content hash.
    """
    # reseeds share a name: their files tell them apart
    key = ("pred", str(trained.path or id(trained)), holdout.id)
    memo = session.gate_memo
    if key not in memo:
        dataset = session.dataset
        if holdout.id == session_holdout(session).id:
            probs = session.predictions(trained, "test")
        else:
            probs = session.predictions_on(trained, f"holdout:{holdout.id}", holdout.x)
        if probs.ndim != 2:
            msg = f"model {trained.name} outputs shape {probs.shape}; expected (samples, classes)"
            raise ModelError(msg)
        memo[key] = probs.argmax(axis=1).astype(np.int64)
        del dataset
    return memo[key]  # type: ignore[return-value]


def session_holdout(session: Session) -> Holdout:
    key = ("holdout",)
    if key not in session.gate_memo:
        session.gate_memo[key] = current_holdout(session.dataset)
    return session.gate_memo[key]  # type: ignore[return-value]


# --------------------------------------------------------------------------- the checks
def regression_checks(session: Session, spec: ModelSpec) -> list[CheckResult]:
    """The four ``regression.*`` results of ``spec``'s model against its lineage's champion.

    Computed once per session and model; the suite records them one test per id.
    """
    key = ("regression", spec.name)
    if key in session.gate_memo:
        return session.gate_memo[key]  # type: ignore[return-value]
    thresholds = session.settings.thresholds
    by_class = session.settings.scenario == continual.CLASS
    lineage = session.lineage(spec)
    baseline = session.baseline(spec)
    if baseline is None:
        results = compare.no_champion_checks(lineage, session.registry.location, model=spec.name)
    else:
        trained = session.model(spec)
        h = baseline.holdout
        cand = holdout_predictions(session, trained, h)
        champion = f"{baseline.version} of {lineage!r}"
        pairs = []
        rows = [list(r) for r in baseline.matrix["accuracy"]]
        cand_row: list[float | None] = []
        for e in baseline.earlier:
            pred = holdout_predictions(session, trained, e.holdout)
            y = e.holdout.y
            pairs.append(compare.HoldoutPair(e.holdout.id, e.introduced_by, e.first_accuracy,
                                             e.best_version, e.best_pred == y,
                                             pred == y))  # fmt: skip
            cand_row.append(float((pred == y).mean()))
        matrix = {**baseline.matrix, "versions": [*baseline.matrix["versions"], "candidate"],
                  "accuracy": [*rows, cand_row]}  # fmt: skip
        current = session_holdout(session)
        arrived = continual.new_classes(current.y, [e.holdout.y for e in baseline.earlier])
        forget_thresholds = champion_thresholds = thresholds
        if by_class:
            # the class-incremental budget (mlchecks.checks.continual); the candidate's own
            # holdout joins the matrix, so each row's average covers every task it has seen
            budget = thresholds.forgetting_budget
            forget_thresholds = dataclasses.replace(thresholds, max_forgetting=budget)
            if arrived:  # the champion's holdout is an earlier task's: forgetting, budgeted
                champion_thresholds = dataclasses.replace(
                    thresholds,
                    max_accuracy_drop=max(thresholds.max_accuracy_drop, budget),
                    max_class_recall_drop=max(thresholds.max_class_recall_drop, budget),
                )
            if current.id not in matrix["holdouts"]:
                own = holdout_predictions(session, trained, current)
                matrix = {**matrix, "holdouts": [*matrix["holdouts"], current.id],
                          "introduced_by": [*matrix["introduced_by"], "candidate"],
                          "accuracy": [*[[*r, None] for r in rows],
                                       [*cand_row, float((own == current.y).mean())]]}  # fmt: skip
        matrix = continual.matrix_figures(matrix)
        forgetting = compare.forgetting_check(pairs, thresholds=forget_thresholds, matrix=matrix,
                                              model=spec.name)  # fmt: skip
        if by_class:
            forgetting = continual.apply_bwt_floor(forgetting, thresholds.min_backward_transfer,
                                                   thresholds.forgetting_budget)  # fmt: skip
        elif arrived and forgetting.blocking:
            forgetting = continual.hint_class_scenario(forgetting, arrived)
        results = [
            compare.accuracy_check(baseline.champion_pred == h.y, cand == h.y,
                                   thresholds=champion_thresholds, champion=champion,
                                   model=spec.name),
            compare.per_class_check(h.y, baseline.champion_pred, cand, h.num_classes,
                                    thresholds=champion_thresholds, champion=champion,
                                    class_names=h.class_names or None, model=spec.name),
            compare.flip_rate_check(baseline.champion_pred == h.y, cand == h.y,
                                    thresholds=thresholds, champion=champion, model=spec.name,
                                    reseed_flip_rate=reseed_flip_rate(session, spec, h)),
            forgetting,
        ]  # fmt: skip
    session.gate_memo[key] = results
    return results


def reseed_flip_rate(session: Session, spec: ModelSpec, holdout: Holdout) -> float | None:
    """Mean negative flip rate between the model and its reseeds on ``holdout`` (``--seeds K``,
    K > 1): how much the recipe flips by chance, to read ``regression.flip_rate`` against."""
    seeds = session.settings.seeds
    if seeds <= 1 or spec.is_file:
        return None
    y = holdout.y
    base = holdout_predictions(session, session.model(spec), holdout) == y
    rates = []
    for k in range(1, seeds):
        other = session.model_for_seed(spec, session.settings.seed + k)
        rates.append(float((base & (holdout_predictions(session, other, holdout) != y)).mean()))
    return float(np.mean(rates))


def describe_baseline(session: Session, spec: ModelSpec) -> str:
    """One line: what ``spec`` is compared with."""
    lineage = session.lineage(spec)
    baseline = session.baseline(spec)
    if baseline is None:
        return (
            f"{spec.name}: no champion yet in lineage {lineage!r} ({session.registry.location}): "
            "absolute checks only"
        )
    others = len(baseline.earlier) - 1
    extra = f" and {others} earlier holdout(s)" if others > 0 else ""
    return (
        f"{spec.name}: champion {baseline.version} of {lineage!r} "
        f"(accuracy {baseline.record.metrics.get('accuracy', float('nan')):.4f} on its holdout of "
        f"{baseline.holdout.n}){extra}"
    )
