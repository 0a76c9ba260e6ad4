"""Checks -> one decision -> promotion. Shared by ``mlchecks gate``, the pytest plugin and
``mlchecks evolve``; imports neither pytest nor keras.

How a candidate is judged against its lineage (see DESIGN.md):

- Each version in the registry keeps its **holdout**: the test split of the data it was gated
  on (``--data``), stored once per lineage by content hash, and its predictions on it.
- A candidate is compared with the champion **on the champion's holdout**
  (``regression.accuracy``, ``regression.per_class``, ``regression.flip_rate``) and with the
  best earlier version **on every earlier active version's holdout** (``regression.forgetting``).
  When ``--data`` is the same data as before, these holdouts are the current test split and
  the candidate's predictions come from the model-cache memo (no Keras import on a warm run);
  otherwise the candidate predicts the stored holdouts.
- The champion's side of each comparison is its stored predictions: a gate never loads the
  champion's model, it only checks the model file's sha256 (a tampered champion is an error).
- On acceptance the candidate becomes the next version, its holdout the current test split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks._util.io import atomic_write
from mlchecks.checks import regression as compare
from mlchecks.errors import GateExit, ModelError, RegistryError
from mlchecks.registry import Holdout, NewVersion, VersionRecord, sha256_file
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec
    from mlchecks.data import Dataset
    from mlchecks.model.training import TrainedModel
    from mlchecks.registry import Registry
    from mlchecks.run.session import Session

__all__ = [
    "Baseline",
    "GateDecision",
    "GateExit",
    "LineageOutcome",
    "decide",
    "lineage_locks",
    "load_baseline",
    "prepare",
    "promote_all",
    "promote_model",
    "regression_checks",
    "write_json",
]


@dataclasses.dataclass(frozen=True)
class LineageOutcome:
    """What the gate did to one lineage of the registry."""

    name: str
    model: str
    champion_before: str | None
    champion_after: str | None
    version: str | None = None  # the version this run created (None: nothing promoted)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """The outcome of a gate run, as written by ``--json`` (see DESIGN.md).

    ``name``/``version``/``champion_before``/``champion_after`` describe the (first) lineage;
    ``lineages`` lists every one when the gate judged several configured models.
    """

    accepted: bool
    name: str
    checks: tuple[CheckResult, ...]
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    report: str | None = None
    notes: tuple[str, ...] = ()
    lineages: tuple[LineageOutcome, ...] = ()

    @property
    def exit_code(self) -> GateExit:
        return GateExit.ACCEPTED if self.accepted else GateExit.REJECTED

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "accepted" if self.accepted else "rejected",
            "name": self.name,
            "version": self.version,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "checks": [c.to_json() for c in self.checks],
            "report": self.report,
            "notes": list(self.notes),
            "lineages": [lineage.to_json() for lineage in self.lineages],
        }


def decide(checks: Sequence[CheckResult]) -> bool:
    """Accept when no error-severity check failed (and at least one check ran)."""
    return bool(checks) and not any(c.blocking for c in checks)


def write_json(decision: GateDecision, path: Path) -> None:
    """Write the decision atomically (temp file + rename)."""
    text = json.dumps(decision.to_json(), indent=2, allow_nan=False) + "\n"
    atomic_write(path, text)


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
    """Refuse to compare across input shapes or class counts (a new lineage is needed).

    Raises:
        ModelError: the champion's holdouts cannot be fed to a model of ``dataset``'s shape.
    """
    for h in baseline.holdouts:
        shape = tuple(h.x.shape[1:])
        if shape != tuple(dataset.input_shape) or h.num_classes != dataset.num_classes:
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
        results = [
            compare.accuracy_check(baseline.champion_pred == h.y, cand == h.y,
                                   thresholds=thresholds, champion=champion, model=spec.name),
            compare.per_class_check(h.y, baseline.champion_pred, cand, h.num_classes,
                                    thresholds=thresholds, champion=champion,
                                    class_names=h.class_names or None, model=spec.name),
            compare.flip_rate_check(baseline.champion_pred == h.y, cand == h.y,
                                    thresholds=thresholds, champion=champion, model=spec.name,
                                    reseed_flip_rate=reseed_flip_rate(session, spec, h)),
            compare.forgetting_check(pairs, thresholds=thresholds, matrix=matrix, model=spec.name),
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


# --------------------------------------------------------------------------- promotion
def model_sha256(session: Session, spec: ModelSpec) -> str:
    """sha256 of the model file under judgement, taken once (before the suites run), so
    promotion can refuse a file that changed meanwhile."""
    key = ("sha256", spec.name)
    if key not in session.gate_memo:
        trained = session.model(spec)
        if trained.path is None:
            msg = f"model {spec.name} has no file to promote (trained without a cache)"
            raise ModelError(msg)
        session.gate_memo[key] = sha256_file(trained.path)
    return session.gate_memo[key]  # type: ignore[return-value]


def _metrics(session: Session, spec: ModelSpec) -> dict[str, Any]:
    ev = session.evaluation(spec)
    out: dict[str, Any] = {"accuracy": ev.accuracy, "n": ev.n, "loss": ev.loss,
                           "ece": ev.ece(), "class_recall": ev.class_recall.tolist()}  # fmt: skip
    trained = session.model(spec)
    if trained.record is not None:
        out["training"] = {"epochs": trained.record.epochs, "seed": trained.record.seed,
                           "samples_per_s": trained.record.samples_per_s,
                           "wall_time_s": trained.record.wall_time_s}  # fmt: skip
    return out


def _data_profile(dataset: Dataset) -> dict[str, Any] | None:
    """The data profile later drift checks compare with (``mlchecks.data.profile``)."""
    try:
        from mlchecks.data.profile import profile
    except ImportError:  # pragma: no cover - the data-profile module is optional
        return None
    return profile(dataset)


def _environment(trained: TrainedModel) -> dict[str, Any]:
    if trained.record is not None and trained.record.environment:
        return dict(trained.record.environment)
    from mlchecks.model.training import environment_light

    return dict(environment_light())


def promote_model(session: Session, spec: ModelSpec) -> LineageOutcome:
    """Store ``spec``'s judged model as the next version of its lineage and make it champion.

    A candidate whose file is byte-identical to the champion's is not stored again.

    Raises:
        RegistryError: the champion changed since it was read, or the file changed since it
            was judged (nothing is written then).
    """
    registry = session.registry
    lineage = session.lineage(spec)
    baseline = session.baseline(spec)
    before = baseline.version if baseline else None
    sha = model_sha256(session, spec)
    if baseline is not None and sha == baseline.record.model_sha256:
        return LineageOutcome(lineage, spec.name, before, before, None,
                              f"{spec.name} is already champion {before} of {lineage!r} "
                              "(same sha256): nothing to promote")  # fmt: skip
    trained = session.model(spec)
    holdout = session_holdout(session)
    predictions = {holdout.id: holdout_predictions(session, trained, holdout)}
    for h in baseline.holdouts if baseline else ():
        predictions[h.id] = holdout_predictions(session, trained, h)
    dataset = session.dataset
    checks = tuple(c.to_json() for c in session.checks if c.model in (spec.name, None))
    assert trained.path is not None  # model_sha256 checked it
    new = NewVersion(
        model_file=trained.path,
        model_sha256=sha,
        holdout=holdout,
        predictions=predictions,
        metrics=_metrics(session, spec),
        checks=checks,
        data={"name": dataset.name, "fingerprint": dataset.fingerprint,
              "n_train": dataset.n_train, "n_test": dataset.n_test,
              "input_shape": list(dataset.input_shape), "num_classes": dataset.num_classes},
        data_profile=_data_profile(dataset),
        environment=_environment(trained),
    )  # fmt: skip
    record = registry.promote(lineage, new, expected_champion=before)
    return LineageOutcome(lineage, spec.name, before, record.version, record.version,
                          f"{spec.name} promoted to {lineage!r} version "
                          f"{record.version}")  # fmt: skip


def unchanged(session: Session, spec: ModelSpec, reason: str) -> LineageOutcome:
    """The lineage outcome when nothing is promoted."""
    lineage = session.lineage(spec)
    baseline = session.baseline(spec)
    before = baseline.version if baseline else None
    return LineageOutcome(lineage, spec.name, before, before, None, reason)


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


# --------------------------------------------------------------------------- the gate's steps
def lineage_locks(session: Session, promote: bool) -> contextlib.ExitStack:
    """Hold the gate lock of every lineage the run may promote into (none with ``--no-promote``).

    Enter it before :func:`prepare`: a concurrent gate then waits, and judges its candidate
    against whatever this one promoted.
    """
    stack = contextlib.ExitStack()
    if promote:
        registry = session.registry
        with contextlib.ExitStack() as pending:
            for spec in session.settings.models:
                pending.enter_context(registry.gate_lock(session.lineage(spec)))
            stack.push(pending.pop_all())
    return stack


def prepare(session: Session, hash_models: bool) -> list[str]:
    """Read (and verify) each model's baseline before the suites run; say what it is.

    Args:
        session: the run.
        hash_models: take each model file's sha256 now (when the run may promote), so a file
            that changes while the suites run is not promoted.

    Raises:
        RegistryError: a damaged or tampered registry (exit 2 before any check runs).
        ModelError: the data does not fit the lineage's holdouts.
    """
    lines: list[str] = []
    for spec in session.settings.models:
        baseline = session.baseline(spec)
        if baseline is not None:
            check_fits(baseline, session.dataset, spec.name)
        if hash_models:
            model_sha256(session, spec)
        lines.append(describe_baseline(session, spec))
    return lines


def promote_all(session: Session, accepted: bool, promote: bool) -> list[LineageOutcome]:
    """Promote every model of an accepted run (unless ``promote`` is false); else say why not.

    Lineages are independent: with several configured models each is promoted into its own
    lineage, one after the other.
    """
    outcomes: list[LineageOutcome] = []
    for spec in session.settings.models:
        if not accepted:
            outcomes.append(unchanged(session, spec, "rejected: registry unchanged"))
        elif not promote:
            outcomes.append(unchanged(session, spec, "accepted; not promoted (--no-promote)"))
        else:
            outcomes.append(promote_model(session, spec))
    return outcomes
