"""Promotion: an accepted model becomes the next version of its lineage, under its lock.

The bytes promoted are the bytes judged: the sha256 is taken once, before the checks run
(:func:`model_sha256`), and the registry refuses a file whose hash changed. Imports neither
pytest nor keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

from mlchecks.errors import ModelError
from mlchecks.registry import NewVersion, sha256_file
from mlchecks.run.baseline import holdout_predictions, session_holdout

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec
    from mlchecks.data import Dataset
    from mlchecks.model.training import TrainedModel
    from mlchecks.run.session import Session


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
