"""What a report shows, as plain JSON-able data. No pytest, no keras, no jinja2.

:class:`ReportData` is built from the same :class:`~mlchecks.result.CheckResult` objects as the
gate's ``--json`` decision, plus figures a run has already computed (the dataset, evaluations,
training records). Nothing here predicts or trains: building a report never imports Keras.

A section is present only when its data exists. The other modules hand their figures over
through the checks' typed details (:mod:`mlchecks.result`); the check's ``model`` names the
model they belong to. Read:

- accuracy: ``accuracy.min`` (:class:`~mlchecks.result.AccuracyDetails`: Wilson interval, n).
- per-class recall and the confusion matrix: ``accuracy.class_recall``
  (:class:`~mlchecks.result.PerClassDetails`) and, against the champion,
  ``regression.per_class`` (:class:`~mlchecks.result.ClassRegressionDetails`).
- the interval of a regression check is of the candidate-champion delta
  (:class:`~mlchecks.result.RegressionDetails` ``ci``).
- negative flips: ``regression.flip_rate`` (:class:`~mlchecks.result.FlipDetails`: holdout
  indices the champion got right and the candidate gets wrong). Images and true labels come
  from the dataset's test split, the candidate's labels from its evaluation.
- speed checks: :class:`~mlchecks.result.SpeedDetails` (samples/s, fraction of the machine's
  matmul peak, the champion's figures).
- data checks: :class:`~mlchecks.result.DataDetails` (failing expectations: splits, counts,
  example indices) and :class:`~mlchecks.result.DriftDetails` (drifted distributions).
- version history: ``regression.forgetting`` (:class:`~mlchecks.result.ForgettingDetails`:
  accuracy on each holdout per version as a chart, and one row per earlier holdout; the matrix
  itself is the continual-learning section's table, shown once).
- continual learning: the same check's matrix R[i][j] (version x holdout, the candidate last),
  with each version's average accuracy and backward transfer from
  :func:`mlchecks.checks.continual.matrix_figures` and the rule that judged it (the
  class-incremental budget and floor, or the domain margin); shown from 2 versions or 2 holdouts.
- drift histograms: ``data.drift`` comparisons' ``histogram`` (reference and current shares per
  bin, read off the two profiles' percentile sketches by :func:`mlchecks.data.profile.histograms`).
- reliability diagram: the run's own evaluation (confidence bins as ``accuracy.ece`` draws
  them; the check's ``bins``).

A section left out is listed in ``absent`` with the reason the page gives. Each section is one
entry of :data:`SECTION_TITLES`, one :class:`ReportData` field, one ``_Sections`` method of the
same name, one reason in ``_Sections.absent`` and one template (``mlchecks.report.html``
``SECTIONS``); a new section is added the same way (``continual`` is the latest example).

Figures the run computed itself fill the gaps: an
:class:`~mlchecks.stats.evaluation.Evaluation` gives the accuracy interval, per-class recall and
the confusion matrix; a training record gives the training curves. Details that do not have
the documented shape (an old or foreign record: see ``Details.unreadable``) leave their section
out with a note, never the page: a report must never turn a verdict into a crash.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import math
import re
import secrets
import struct
import typing
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.result import (
    AccuracyDetails,
    CalibrationDetails,
    CheckResult,
    ClassRecallRow,
    ClassRegressionDetails,
    ClassRegressionRow,
    DataDetails,
    Details,
    DriftDetails,
    FlipDetails,
    ForgettingDetails,
    HoldoutRow,
    NoChampionDetails,
    PerClassDetails,
    RegressionDetails,
    SpeedDetails,
)

if TYPE_CHECKING:
    from mlchecks.data import Dataset
    from mlchecks.run.gate import GateDecision
    from mlchecks.run.session import Session
    from mlchecks.stats.evaluation import Evaluation

__all__ = [
    "MAX_FLIPS",
    "ReportData",
    "build",
    "checks_from_json",
    "from_decision",
    "from_session",
    "jsonable",
    "new_run_id",
]

VERDICTS = ("accepted", "rejected")
MAX_FLIPS = 48  # images shown; the total is always stated
MAX_DETAILS_CHARS = 1500  # a check's raw details, shown folded, are cut beyond this
MAX_EXAMPLES = 10


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python ones and NaN/inf into ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def new_run_id(name: str, source: str, now: _dt.datetime | None = None) -> str:
    """A sortable, path-safe run id: ``20260101-120000-gate-<name>-<6 hex>``.

    The random tail keeps two runs started in the same second apart.
    """
    now = now or _dt.datetime.now(_dt.UTC)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "run"
    return f"{now:%Y%m%d-%H%M%S}-{source}-{slug}-{secrets.token_hex(3)}"


def checks_from_json(items: Iterable[Mapping[str, Any]]) -> list[CheckResult]:
    """Rebuild check results from their ``to_json()`` form (``--json`` files, xdist workers)."""
    return [CheckResult.from_json(item) for item in items]


@dataclasses.dataclass(frozen=True)
class CheckRow:
    """One row of the check table."""

    id: str
    category: str
    model: str | None
    status: str  # "fail" (blocking), "warning", "info" (failed, not blocking), "not-judged", "pass"
    value: float | None
    threshold: float | None
    lower: float | None
    upper: float | None
    message: str
    details: str  # raw details as JSON, cut at MAX_DETAILS_CHARS
    interval_of: str = ""  # "" (of the value) or "Δ" (of the candidate-champion delta)


@dataclasses.dataclass(frozen=True)
class AccuracyRow:
    model: str
    accuracy: float
    lower: float | None
    upper: float | None
    n: int | None
    correct: int | None
    confidence: float | None
    threshold: float | None
    passed: bool | None


@dataclasses.dataclass(frozen=True)
class ClassRecall:
    model: str
    class_names: list[str]
    candidate: list[float | None]
    champion: list[float | None] | None


@dataclasses.dataclass(frozen=True)
class Confusion:
    model: str
    class_names: list[str]
    matrix: list[list[int]]


@dataclasses.dataclass(frozen=True)
class Flip:
    index: int
    true: str
    champion: str
    candidate: str
    image: str | None  # a data: URI (PNG), so the page stays one file


@dataclasses.dataclass(frozen=True)
class FlipSet:
    model: str
    total: int
    rate: float | None
    flips: list[Flip]


@dataclasses.dataclass(frozen=True)
class Curves:
    model: str
    series: dict[str, list[float | None]]  # keras history: loss, accuracy, val_loss, ...
    wall_time_s: float | None
    samples_per_s: float | None
    cached: bool


@dataclasses.dataclass(frozen=True)
class SpeedRow:
    id: str
    model: str | None
    status: str
    value: float | None
    unit: str
    samples_per_s: float | None
    champion_samples_per_s: float | None
    fraction_of_peak: float | None
    champion_fraction_of_peak: float | None
    threshold: float | None
    message: str


@dataclasses.dataclass(frozen=True)
class DataRow:
    id: str
    status: str
    split: str | None
    unexpected_count: int | None
    examples: list[str]
    message: str


@dataclasses.dataclass(frozen=True)
class History:
    model: str | None
    holdouts: list[str]
    matrix: list[list[float | None]]  # rows: matrix_versions, columns: holdouts
    matrix_versions: list[str]
    forgetting: list[dict[str, Any]]  # per earlier holdout: best earlier vs candidate accuracy


@dataclasses.dataclass(frozen=True)
class Continual:
    """The continual-learning view of a lineage (``regression.forgetting``): the accuracy
    matrix R[i][j] of version ``i`` (the candidate last) on holdout ``j`` (named by the version
    that brought it), each version's average accuracy over the holdouts it was evaluated on and
    its backward transfer (:func:`mlchecks.checks.continual.matrix_figures`), and the rule that
    judged the candidate.

    Accuracies and backward transfer are fractions (the page shows backward transfer in pp).
    """

    model: str | None
    scenario: str  # "class" (the forgetting budget) or "domain" (no forgetting beyond a margin)
    status: str  # the regression.forgetting check's row status (fail, pass, ...)
    versions: list[str]
    holdouts: list[str]  # the version that brought each holdout
    accuracy: list[list[float | None]]  # rows: versions, columns: holdouts; None: not evaluated
    average_accuracy: list[float | None]
    backward_transfer: list[float | None]
    budget: float | None  # forgetting allowed per earlier holdout (fraction)
    floor: float | None  # the candidate's lowest allowed backward transfer (fraction)
    rule: str
    regressed: list[str]  # holdouts (by the version that brought them) forgotten beyond budget


@dataclasses.dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per equal-width confidence bin, the samples' mean confidence
    (top-class probability) and their accuracy. A calibrated model's bars meet the diagonal."""

    model: str
    ece: float | None
    n: int
    bins: list[dict[str, Any]]  # lo, hi, count, confidence (mean), accuracy; count 0: None


@dataclasses.dataclass(frozen=True)
class DriftPlot:
    """One distribution ``data.drift`` compared: reference and current shares per bin.

    ``edges`` are the bins' bounds of a per-sample statistic (``len(reference) + 1`` of them);
    for the label distribution they are ``None`` and ``bins`` names the classes.
    """

    split: str
    what: str
    drifted: bool
    psi: float | None
    ks: float | None
    edges: list[float] | None
    bins: list[str]
    reference: list[float]
    current: list[float]


@dataclasses.dataclass(frozen=True)
class Absent:
    """A section the page does not show, and why (said on the page)."""

    section: str
    reason: str


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything one report page shows. JSON-able (``dataclasses.asdict``).

    Attributes:
        run_id: the folder name of this run under the report folder.
        name: the model lineage (``--name``).
        source: ``gate`` or ``pytest``.
        created: ISO 8601 time (UTC) the report was built.
        verdict: ``accepted`` or ``rejected``; what else is true of the run (a first version,
            not promoted, no champion to compare with) is in ``circumstances``.
        circumstances: short phrases shown after the verdict (``first version of lineage
            digits``).
        first_version: the run stored the first version of a lineage (an accepted gate that
            promoted with no champion before). A pytest session or a ``--no-promote`` gate
            stores nothing, so it is never a first version.
        lineages: the registry lineages the run judged (a gate's), in order.
        models: the models the run covers, in order.
        checks: every check, blocking failures first, then warnings, then the checks that
            could not be judged, then passes.
        skipped: sections left out because their details did not have the documented shape.
    """

    run_id: str
    name: str
    source: str
    created: str
    verdict: str
    circumstances: list[str]
    first_version: bool
    lineages: list[str]
    models: list[str]
    version: str | None
    champion_before: str | None
    champion_after: str | None
    notes: list[str]
    dataset: str | None
    environment: dict[str, str]
    checks: list[CheckRow]
    accuracy: list[AccuracyRow]
    class_recall: list[ClassRecall]
    confusion: list[Confusion]
    flips: list[FlipSet]
    curves: list[Curves]
    speed: list[SpeedRow]
    data: list[DataRow]
    history: list[History]
    skipped: list[str]
    calibration: list[Reliability] = dataclasses.field(default_factory=list)
    drift: list[DriftPlot] = dataclasses.field(default_factory=list)
    continual: list[Continual] = dataclasses.field(default_factory=list)
    absent: list[Absent] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> list[CheckRow]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[CheckRow]:
        return [c for c in self.checks if c.status == "warning"]

    @property
    def not_judged(self) -> list[CheckRow]:
        return [c for c in self.checks if c.status == "not-judged"]

    def summary(self) -> dict[str, Any]:
        """The index page's line for this run (written as ``summary.json`` beside the page)."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "source": self.source,
            "created": self.created,
            "verdict": self.verdict,
            "first_version": self.first_version,
            "circumstances": self.circumstances,
            "lineages": self.lineages or [self.name],
            "version": self.version,
            "champion_before": self.champion_before,
            "dataset": self.dataset,
            "checks": len(self.checks),
            "failed": len(self.failed),
            "not_judged": len(self.not_judged),
            "failed_ids": [c.id for c in self.failed][:8],
            "models": self.models,
            "accuracy": {a.model: a.accuracy for a in self.accuracy},
        }

    def to_json(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))  # type: ignore[no-any-return]


# --- building -------------------------------------------------------------------------------


def from_session(
    session: Session,
    *,
    decision: GateDecision | None = None,
    source: str = "pytest",
    run_id: str | None = None,
    checks: Sequence[CheckResult] | None = None,
) -> ReportData:
    """A report of a run from its :class:`~mlchecks.run.session.Session`, using only what it holds.

    The dataset, evaluations and training records are read only where the run already loaded
    them (a pytest session that never touched a model gets a page of checks), so a report
    never triggers a training, a prediction or a Keras import.

    Args:
        session: the run's session.
        decision: the gate's decision, when a gate ran. Defaults to deciding from the checks.
        source: ``gate`` or ``pytest``. Defaults to ``pytest``.
        run_id: the run's folder name. Defaults to a new id.
        checks: the checks to show. Defaults to the decision's, else the session's.
    """
    # Session keeps these lazily; reading the private fields avoids loading anything new.
    dataset = getattr(session, "_dataset", None)
    evaluations: dict[str, Evaluation] = dict(getattr(session, "_evaluations", {}) or {})
    models = dict(getattr(session, "_models", {}) or {})
    records = {name: m.record for name, m in models.items() if getattr(m, "record", None)}
    if checks is None:
        checks = decision.checks if decision is not None else list(session.checks)
    name = decision.name if decision is not None else session.settings.name
    files = {s.name: str(s.origin or s.path) for s in session.settings.models if s.is_file}
    return build(
        checks,
        name=name,
        source=source,
        run_id=run_id,
        decision=decision,
        dataset=dataset,
        evaluations=evaluations,
        records=records,
        model_files=files,
    )


def from_decision(decision: GateDecision, **kwargs: Any) -> ReportData:
    """A report of a gate decision alone (e.g. re-rendered from a ``--json`` file)."""
    return build(decision.checks, name=decision.name, decision=decision, **kwargs)


def build(
    checks: Sequence[CheckResult],
    *,
    name: str = "default",
    source: str = "gate",
    run_id: str | None = None,
    decision: GateDecision | None = None,
    dataset: Dataset | None = None,
    evaluations: Mapping[str, Evaluation] | None = None,
    records: Mapping[str, Any] | None = None,
    created: _dt.datetime | None = None,
    model_files: Mapping[str, str] | None = None,
) -> ReportData:
    """Collect a report's data from check results and already computed figures.

    Args:
        checks: the run's check results (the gate's ``--json`` list).
        name: model lineage name. Defaults to ``default``.
        source: ``gate`` or ``pytest``. Defaults to ``gate``.
        run_id: the run's folder name. Defaults to :func:`new_run_id`.
        decision: the gate's decision (verdict, versions, notes). Defaults to deciding from
            ``checks`` with :func:`mlchecks.run.gate.decide`.
        dataset: the dataset, for class names, flip images and labels. Defaults to none.
        evaluations: model name -> its evaluation on the test split. Defaults to none.
        records: model name -> its :class:`~mlchecks.model.training.TrainingRecord`. Defaults
            to none.
        created: time of the run. Defaults to now.
        model_files: model name -> the ``.keras`` file it was given as (it has no training
            record, and the page says so). Defaults to none.
    """
    from mlchecks.run.gate import decide

    now = created or _dt.datetime.now(_dt.UTC)
    evaluations = dict(evaluations or {})
    records = dict(records or {})
    checks = list(checks)
    accepted = decision.accepted if decision is not None else decide(checks)
    champion_before = decision.champion_before if decision is not None else None
    verdict = "accepted" if accepted else "rejected"
    first_lineages, circumstances, lineages = _circumstances(decision, checks, accepted)
    notes = list(decision.notes) if decision is not None else []
    if not checks:
        notes.append("no check ran: nothing was judged, so nothing is accepted")

    class_names = list(dataset.class_names) if dataset is not None else None
    skipped: list[str] = []
    builder = _Sections(checks, dataset, evaluations, records, class_names, skipped,
                        dict(model_files or {}))  # fmt: skip
    env: dict[str, str] = {}
    for record in records.values():  # the first model's environment stands for the run
        recorded = getattr(record, "environment", None) or {}
        env.update({str(k): str(v) for k, v in recorded.items()})
        break
    from mlchecks._version import __version__

    env["mlchecks"] = __version__
    parts = {
        field: builder.section(title, getattr(builder, field)) for field, title in SECTION_TITLES
    }
    return ReportData(
        run_id=run_id or new_run_id(name, source, now),
        name=name,
        source=source,
        created=now.isoformat(timespec="seconds"),
        verdict=verdict,
        circumstances=circumstances,
        first_version=bool(first_lineages),
        lineages=lineages,
        models=builder.models(),
        version=decision.version if decision is not None else None,
        champion_before=champion_before,
        champion_after=decision.champion_after if decision is not None else None,
        notes=notes,
        dataset=dataset.describe() if dataset is not None else None,
        environment=env,
        checks=_check_rows(checks),
        **parts,
        skipped=skipped + builder.notes + _unreadable_notes(checks),
        absent=builder.absent(parts),
    )


# Each optional section: the ReportData field, built by the _Sections method of that name, and
# its title in notes. A new section is one more entry here, a field, a method, a reason in
# _Sections.absent and a template under templates/sections/ (see mlchecks.report.html).
SECTION_TITLES = (
    ("accuracy", "accuracy"),
    ("class_recall", "per-class recall"),
    ("confusion", "confusion matrix"),
    ("calibration", "reliability diagram"),
    ("flips", "negative flips"),
    ("curves", "training curves"),
    ("speed", "speed"),
    ("data", "data expectations"),
    ("drift", "drift histograms"),
    ("history", "version history"),
    ("continual", "continual learning"),
)


def _circumstances(
    decision: GateDecision | None, checks: Sequence[CheckResult], accepted: bool
) -> tuple[list[str], list[str], list[str]]:
    """(lineages whose first version this run stored, circumstances, lineages judged).

    A first version is one the run stored: an accepted gate that promoted into a lineage with
    no champion. A pytest session or a ``--no-promote`` gate stores nothing.
    """
    circumstances: list[str] = []
    first: list[str] = []
    lineages: list[str] = []
    if decision is not None:
        outcomes = list(decision.lineages)
        if outcomes:
            lineages = [o.name for o in outcomes]
            first = [
                o.name for o in outcomes if o.version is not None and o.champion_before is None
            ]
        elif decision.version is not None and decision.champion_before is None:
            first = [decision.name]
        circumstances += [f"first version of lineage {name}" for name in first]
        if accepted and (
            any(o.version is None and "not promoted" in o.note for o in outcomes)
            or (not outcomes and decision.version is None and decision.champion_after is None
                and decision.champion_before is None)
        ):  # fmt: skip
            circumstances.append("not promoted: judged only")
    compared = any(
        c.category == "regression" and c.judged and not isinstance(c.details, NoChampionDetails)
        for c in checks
    )
    champion = decision is not None and decision.champion_before is not None
    if first or (checks and not compared and not champion):
        circumstances.append("no champion to compare with: absolute checks only")
    return first, circumstances, lineages


def _status(check: CheckResult) -> str:
    """The row's status: ``fail`` (blocking), ``warning``/``info`` (failed, not blocking),
    ``not-judged`` or ``pass``."""
    if check.status == "not_judged":
        return "not-judged"
    if check.status == "passed":
        return "pass"
    return "fail" if check.status == "failed" else check.severity


_ORDER = {"fail": 0, "warning": 1, "info": 2, "not-judged": 3, "pass": 4}


def _check_rows(checks: Sequence[CheckResult]) -> list[CheckRow]:
    rows = []
    for check in checks:
        d = check.details
        lower: float | None = None
        upper: float | None = None
        # Regression checks carry the interval of the delta against the champion, not of
        # their value (the candidate's figure): label it so.
        delta = isinstance(d, RegressionDetails) and d.ci is not None
        if isinstance(d, RegressionDetails) and d.ci is not None:
            lower, upper = _num(d.ci[0]), _num(d.ci[1])
        elif isinstance(d, AccuracyDetails):
            lower, upper = _num(d.lower), _num(d.upper)
        raw = json.dumps(jsonable(d.to_json()), sort_keys=True)
        if len(raw) > MAX_DETAILS_CHARS:
            raw = raw[:MAX_DETAILS_CHARS] + f" ... ({len(raw)} characters in all)"
        rows.append(
            CheckRow(
                id=check.id,
                category=check.category,
                model=check.model,
                status=_status(check),
                value=_num(check.value),
                threshold=_num(check.threshold),
                lower=lower,
                upper=upper,
                message=check.message,
                details="" if raw == "{}" else raw,
                interval_of="Δ" if delta else "",
            )
        )
    # Failing checks first: the reader came to see why the gate said no. sorted() is stable.
    return sorted(rows, key=lambda r: _ORDER.get(r.status, 9))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _floats(values: Any) -> list[float | None]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise TypeError(f"expected a list of numbers, got {type(values).__name__}")
    return [_num(v) for v in values]


def _unreadable_notes(checks: Sequence[CheckResult]) -> list[str]:
    """One note per check whose stored details held values of the wrong type."""
    notes = []
    for c in checks:
        if c.details.unreadable:
            where = f" [{c.model}]" if c.model else ""
            notes.append(
                f"{c.id}{where}: details left out, malformed: {'; '.join(c.details.unreadable)}"
            )
    return notes


D = typing.TypeVar("D", bound=Details)


class _Sections:
    """Builds each optional section; a malformed detail skips its section (see ``section``)."""

    def __init__(
        self,
        checks: list[CheckResult],
        dataset: Dataset | None,
        evaluations: dict[str, Evaluation],
        records: dict[str, Any],
        class_names: list[str] | None,
        skipped: list[str],
        model_files: dict[str, str] | None = None,
    ) -> None:
        self.model_files = model_files or {}
        self.checks = checks
        self.dataset = dataset
        self.evaluations = evaluations
        self.records = records
        self.class_names = class_names
        self.skipped = skipped
        self.notes: list[str] = []

    def section(self, title: str, make: Any) -> list[Any]:
        try:
            return list(make())
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            self.skipped.append(f"{title}: left out, its details are malformed ({exc})")
            return []

    def _models(self) -> list[str]:
        names = [c.model for c in self.checks if c.model] + list(self.evaluations)
        return list(dict.fromkeys(names))

    def models(self) -> list[str]:
        """The models the run covers, in the order their checks ran."""
        return self._models()

    def _check(self, model: str | None, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.model == model and c.id == check_id), None)

    def calibration(self) -> Iterable[Reliability]:
        for model in self._models():
            ev = self.evaluations.get(model)
            if ev is None or not ev.n or not ev.is_simplex:
                continue
            check = self._check(model, "accuracy.ece")
            d = check.details if check is not None else None
            bins = d.bins if isinstance(d, CalibrationDetails) and d.bins else RELIABILITY_BINS
            yield Reliability(model, _num(check.value) if check else _num(ev.ece(bins)), ev.n,
                              reliability_bins(ev, bins))  # fmt: skip

    def drift(self) -> Iterable[DriftPlot]:
        for c in self.checks:
            d = c.details
            if c.id != "data.drift" or not isinstance(d, DriftDetails):
                continue
            k = len(self.class_names or [])
            for row in sorted(d.comparisons or (), key=lambda r: not r.drifted):
                hist = row.extra.get("histogram")
                if not isinstance(hist, Mapping):
                    continue
                reference, current = _floats(hist["reference"]), _floats(hist["current"])
                edges: list[float] | None = None
                if hist.get("edges") is not None:
                    raw = _floats(hist["edges"])
                    if any(e is None for e in raw):
                        raise ValueError(f"drift histogram of {row.what} has a non-finite edge")
                    edges = [float(e) for e in raw if e is not None]
                if edges is not None and len(edges) != len(reference) + 1:
                    raise ValueError(f"drift histogram of {row.what} has {len(edges)} edges "
                                     f"for {len(reference)} bins")  # fmt: skip
                if len(current) != len(reference):
                    raise ValueError(f"drift histograms of {row.what} differ in length")
                bins = [] if edges is not None else self._names(max(k, len(reference)))
                yield DriftPlot(
                    row.split, row.what or str(row.stat), bool(row.drifted), _num(row.psi),
                    _num(row.ks), edges, bins[: len(reference)],
                    [v or 0.0 for v in reference], [v or 0.0 for v in current],
                )  # fmt: skip

    def absent(self, parts: Mapping[str, list[Any]]) -> list[Absent]:
        """Why each section the page leaves out is not there (one line each)."""
        out: list[Absent] = []
        models = self._models()
        ran = {c.id for c in self.checks}
        if not parts["accuracy"]:
            out.append(Absent("accuracy", "no accuracy: no accuracy.min check ran and this run "
                                          "evaluated no model"))  # fmt: skip
        if not parts["class_recall"] and not parts["confusion"]:
            out.append(
                Absent(
                    "class-recall",
                    "no per-class recall or confusion matrix: no "
                    "accuracy.class_recall check ran and this run evaluated no model",
                )
            )
        shown = {r.model for r in parts["calibration"]}
        for model in models:
            if model in shown:
                continue
            ev = self.evaluations.get(model)
            why = ("its outputs are not probabilities" if ev is not None and ev.n
                   else "this run holds none of its predictions (a report built from checks "
                        "alone)")  # fmt: skip
            out.append(Absent("calibration", f"no reliability diagram for {model}: {why}"))
        if not parts["flips"]:
            flip = [c for c in self.checks if c.id == "regression.flip_rate"]
            if not flip:
                why = "no regression.flip_rate check ran"
            elif all(isinstance(c.details, NoChampionDetails) for c in flip):
                why = "no champion to compare with"
            else:
                why = "the candidate gets right every holdout sample the champion got right"
            out.append(Absent("flips", f"no negative flips: {why}"))
        trained = {c.model for c in parts["curves"]}
        for model in models:
            if model in trained:
                continue
            if model in self.model_files:
                why = f"the candidate was given as a .keras file ({self.model_files[model]})"
            else:
                why = "this run holds no training record of it (mlchecks did not train it here)"
            out.append(Absent("curves", f"no training curves for {model}: {why}"))
        if not parts["speed"]:
            out.append(Absent("speed", "no speed: no speed check ran"))
        if not parts["data"]:
            out.append(Absent("data", "no data expectations: no data check ran"))
        if not parts["drift"]:
            why = ("no data.drift check ran" if "data.drift" not in ran
                   else "the data.drift check stored no histograms (not measurable, or "
                        "recorded by an older mlchecks)")  # fmt: skip
            out.append(Absent("drift", f"no drift histograms: {why}"))
        if not parts["history"]:
            forgetting = [c for c in self.checks if c.id == "regression.forgetting"]
            if forgetting and all(isinstance(c.details, NoChampionDetails) for c in forgetting):
                why = "no champion yet, so no earlier version to compare with"
            else:
                why = "no regression.forgetting check compared the candidate with earlier versions"
            out.append(Absent("history", f"no version history: {why}"))
        if not parts["continual"]:
            forgetting = [c for c in self.checks if c.id == "regression.forgetting"]
            if not forgetting:
                why = "no regression.forgetting check ran"
            elif any(n.startswith("continual learning: left out") for n in self.skipped):
                why = "its accuracy matrix is malformed (see the notes)"
            elif all(isinstance(c.details, NoChampionDetails) for c in forgetting):
                why = "no champion yet: the lineage's first version has no earlier one"
            elif any(isinstance(c.details, ForgettingDetails) and c.details.matrix is not None
                     for c in forgetting):  # fmt: skip
                why = "the matrix has one version and one holdout"
            else:
                why = ("regression.forgetting holds no accuracy matrix (not judged, or "
                       "recorded by an older mlchecks)")  # fmt: skip
            out.append(Absent("continual", f"no continual-learning matrix: {why}"))
        return out

    def _find(self, model: str | None, check_id: str, kind: type[D]) -> tuple[CheckResult, D]:
        """The check ``check_id`` of ``model`` and its details, when they are a ``kind``."""
        for check in self.checks:
            if check.model == model and check.id == check_id and isinstance(check.details, kind):
                return check, check.details
        raise LookupError(check_id)

    def _get(self, model: str | None, check_id: str, kind: type[D]) -> D | None:
        try:
            return self._find(model, check_id, kind)[1]
        except LookupError:
            return None

    def _names(self, k: int) -> list[str]:
        names = list(self.class_names or [])
        return [names[i] if i < len(names) else str(i) for i in range(k)]

    def accuracy(self) -> Iterable[AccuracyRow]:
        from mlchecks import stats

        for model in self._models():
            check = next(
                (c for c in self.checks if c.model == model and c.id == "accuracy.min"), None
            )
            ev = self.evaluations.get(model)
            if check is not None and check.value is not None:
                d = check.details if isinstance(check.details, AccuracyDetails) else None
                yield AccuracyRow(
                    model, float(check.value),
                    _num(d.lower) if d else None, _num(d.upper) if d else None,
                    d.n if d else None, d.correct if d else None, d.confidence if d else None,
                    _num(check.threshold), check.passed,
                )  # fmt: skip
            elif ev is not None and ev.n:
                lower, upper = stats.wilson_interval(ev.n_correct, ev.n, 0.95)
                yield AccuracyRow(
                    model, ev.accuracy, lower, upper, ev.n, ev.n_correct, 0.95, None, None
                )

    def class_recall(self) -> Iterable[ClassRecall]:
        for model in self._models():
            ev = self.evaluations.get(model)
            k = ev.num_classes if ev is not None else len(self.class_names or [])
            names = self._names(k)
            candidate: list[float | None] | None = None
            champion: list[float | None] | None = None
            # The candidate against the champion, class by class (regression.per_class), and
            # the candidate's own recall of every class (accuracy.class_recall).
            compared = self._get(model, "regression.per_class", ClassRegressionDetails)
            if compared is not None and compared.classes:
                rows = compared.classes
                k = max(k, 1 + max(r.index for r in rows))
                names = _row_names(rows, self._names(k))
                candidate = _by_class({r.index: r.candidate_recall for r in rows}, k)
                champion = _by_class({r.index: r.champion_recall for r in rows}, k)
            own = self._get(model, "accuracy.class_recall", PerClassDetails)
            if own is not None and own.per_class:
                k = max(k, 1 + max(r.index for r in own.per_class))
                names = _row_names(own.per_class, self._names(k))
                # every class, not only those the champion's holdout has
                candidate = _by_class({r.index: r.recall for r in own.per_class}, k)
            if candidate is None and ev is not None:
                candidate = _floats(ev.class_recall)
            if candidate is None:
                continue
            if champion is not None:
                champion = (champion + [None] * len(candidate))[: len(candidate)]
            names = (names + [str(i) for i in range(len(names), len(candidate))])[: len(candidate)]
            yield ClassRecall(model, names, candidate, champion)

    def confusion(self) -> Iterable[Confusion]:
        for model in self._models():
            own = self._get(model, "accuracy.class_recall", PerClassDetails)
            ev = self.evaluations.get(model)
            if own is not None and own.confusion:
                matrix = np.asarray(own.confusion, dtype=np.int64)
            elif ev is not None:
                matrix = ev.confusion
            else:
                continue
            if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
                raise ValueError(f"confusion of {model} has shape {matrix.shape}; expected k x k")
            names = self._names(matrix.shape[0])
            if own is not None and own.per_class:
                names = _row_names(own.per_class, names)
            yield Confusion(model, names, matrix.tolist())

    def flips(self) -> Iterable[FlipSet]:
        for model in self._models():
            try:
                check, d = self._find(model, "regression.flip_rate", FlipDetails)
            except LookupError:
                continue
            if not d.negative:
                continue
            indices = list(d.negative)
            total = d.negative_count if d.negative_count is not None else len(indices)
            ev = self.evaluations.get(model)
            names = self._names(self.dataset.num_classes if self.dataset else 0)
            shown = indices[:MAX_FLIPS]
            # The indices are into the champion's holdout. It is this run's test split only
            # when the gate ran on the same data; otherwise images and labels would be of other
            # samples, so they are shown only when every flip is a mistake of the candidate here.
            ds = self.dataset
            local = False
            same_size = ds is not None and ev is not None and ev.n == ds.n_test
            if same_size and ev is not None and ds is not None and d.n in (None, ev.n):
                local = all(0 <= i < ev.n and ev.y_pred[i] != ds.y_test[i] for i in shown)
            if not local and shown and ds is not None:
                self.notes.append(
                    f"negative flips of {model}: indices into the champion's holdout, which is "
                    "not this run's test split; images and labels left out"
                )
            flips = []
            for index in shown:
                true = cand = None
                if local and ds is not None and ev is not None:
                    true, cand = int(ds.y_test[index]), int(ev.y_pred[index])
                # a negative flip is one the champion got right: its label is the true one
                label = _label(true, names)
                flips.append(
                    Flip(index, label, label, _label(cand, names),
                         self._image(index) if local else None)
                )  # fmt: skip
            yield FlipSet(model, total, _num(check.value), flips)

    def _image(self, index: int) -> str | None:
        if self.dataset is None or not 0 <= index < self.dataset.n_test:
            return None
        return png_data_uri(self.dataset.x_test[index], self.dataset.value_range)

    def curves(self) -> Iterable[Curves]:
        for model, record in self.records.items():
            history = getattr(record, "history", None) or {}
            series = {str(k): _floats(list(v)) for k, v in history.items() if len(v) > 0}
            if not series:
                continue
            yield Curves(
                model,
                series,
                _num(getattr(record, "wall_time_s", None)),
                _num(getattr(record, "samples_per_s", None)),
                bool(getattr(record, "cached", False)),
            )

    def speed(self) -> Iterable[SpeedRow]:
        for c in self.checks:
            if c.category != "speed":
                continue
            d = c.details if isinstance(c.details, SpeedDetails) else SpeedDetails()
            yield SpeedRow(
                c.id, c.model, _status(c), _num(c.value), d.unit or SPEED_UNITS.get(c.id, ""),
                _num(d.samples_per_s), d.champion_figure("samples_per_s"),
                _num(d.normalised), d.champion_figure("normalised"),
                _num(c.threshold), c.message,
            )  # fmt: skip

    def data(self) -> Iterable[DataRow]:
        for c in self.checks:
            if c.category != "data":
                continue
            d = c.details
            splits: tuple[str, ...] = ()
            count: int | None = None
            examples: tuple[Any, ...] = ()
            if isinstance(d, DataDetails):
                splits, count, examples = d.splits, d.unexpected_count, d.examples
            elif isinstance(d, DriftDetails) and d.comparisons:
                rows = d.drifted or tuple(d.comparisons)
                splits = tuple(dict.fromkeys(r.split for r in rows))
                count = len(d.drifted)  # distributions that drifted
                examples = tuple(x for r in d.drifted for x in r.examples or ())
            yield DataRow(
                c.id, _status(c), ", ".join(splits) or None, count,
                [_short(e) for e in examples[:MAX_EXAMPLES]], c.message,
            )  # fmt: skip

    def history(self) -> Iterable[History]:
        seen: set[str | None] = set()
        for c in self.checks:
            d = c.details
            if c.id != "regression.forgetting" or not isinstance(d, ForgettingDetails):
                continue
            if c.model in seen:
                continue
            seen.add(c.model)
            matrix: list[list[float | None]] = []
            holdouts: list[str] = []
            rows: list[str] = []
            if d.matrix is not None:
                matrix = [_floats(list(row)) for row in d.matrix.accuracy]
                holdouts = [str(h) for h in d.matrix.holdouts]
                introduced = d.matrix.introduced_by
                if introduced is not None and len(introduced) == len(holdouts):
                    holdouts = [f"holdout of {v}" for v in introduced]  # ids are content hashes
                rows = [str(v) for v in d.matrix.versions]
                if matrix and (len(rows) != len(matrix) or any(len(r) != len(holdouts)
                                                               for r in matrix)):  # fmt: skip
                    raise ValueError("forgetting matrix does not match versions x holdouts")
            table = [_holdout_row(r) for r in d.holdouts or ()]
            if matrix or table:
                yield History(c.model, holdouts, matrix, rows, table)

    def continual(self) -> Iterable[Continual]:
        from mlchecks.checks import continual

        seen: set[str | None] = set()
        for c in self.checks:
            d = c.details
            if c.id != "regression.forgetting" or not isinstance(d, ForgettingDetails):
                continue
            if c.model in seen or d.matrix is None:
                continue
            seen.add(c.model)
            m = d.matrix
            versions = [str(v) for v in m.versions]
            ids = [str(h) for h in m.holdouts]
            accuracy = [_floats(list(row)) for row in m.accuracy]
            if len(accuracy) != len(versions) or any(len(r) != len(ids) for r in accuracy):
                raise ValueError(
                    f"accuracy matrix of {c.model or 'the model'} has {len(accuracy)} rows for "
                    f"{len(versions)} versions and rows of {sorted({len(r) for r in accuracy})} "
                    f"cells for {len(ids)} holdouts; expected versions x holdouts"
                )
            if len(versions) < 2 and len(ids) < 2:
                continue  # one version on one holdout: nothing continual to show
            introduced = [str(v) for v in m.introduced_by or ()]
            if len(introduced) != len(ids):  # ids are content hashes: a short one, then
                introduced = [f"holdout {h[:10]}" for h in ids]
            figures = continual.matrix_figures({"versions": versions, "holdouts": ids,
                                                "introduced_by": introduced,
                                                "accuracy": accuracy})  # fmt: skip
            scenario = str(d.scenario or "domain")
            budget = _num(d.margin)
            floor = _num(d.min_backward_transfer)
            per_holdout = (f"forgetting up to {budget * 100:g} pp per earlier holdout (a drop "
                           "beyond it and significant, Holm across holdouts, rejects)"
                           if budget is not None else "forgetting per earlier holdout")  # fmt: skip
            if scenario == continual.CLASS:
                rule = f"class-incremental budget: {per_holdout}" + (
                    f"; backward transfer at least {floor * 100:g} pp" if floor is not None else ""
                )
            else:
                rule = f"domain rule: {per_holdout}; no backward-transfer floor"
            by_id = dict(zip(ids, introduced, strict=True))
            regressed = [by_id.get(str(h), str(h)) for h in d.failed or ()]
            yield Continual(c.model, scenario, _status(c), versions, introduced, accuracy,
                            _floats(figures["average_accuracy"]),
                            _floats(figures["backward_transfer"]), budget, floor, rule,
                            regressed)  # fmt: skip


RELIABILITY_BINS = 15  # as Evaluation.ece, when the accuracy.ece check does not say


def reliability_bins(evaluation: Evaluation, bins: int) -> list[dict[str, Any]]:
    """Equal-width bins of top-class confidence, as :meth:`Evaluation.ece` draws them."""
    conf = evaluation.probs.max(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append({
            "lo": float(edges[b]), "hi": float(edges[b + 1]), "count": count,
            "confidence": float(conf[mask].mean()) if count else None,
            "accuracy": float(evaluation.correct[mask].mean()) if count else None,
        })  # fmt: skip
    return out


SPEED_UNITS = {
    "speed.training": "of peak",
    "speed.predict_latency": "ms (p50)",
    "speed.predict_throughput": "samples/s",
    "speed.peak_memory": "MiB",
}


def _by_class(values: Mapping[int, float | None], k: int) -> list[float | None]:
    out: list[float | None] = [None] * k
    for index, value in values.items():
        out[index] = _num(value)
    return out


def _row_names(rows: Sequence[ClassRecallRow | ClassRegressionRow], names: list[str]) -> list[str]:
    names = list(names)
    for row in rows:
        if row.name is not None and row.index < len(names):
            names[row.index] = row.name
    return names


def _holdout_row(row: HoldoutRow) -> dict[str, Any]:
    return {
        "holdout": row.holdout,
        "introduced_by": row.introduced_by or "",
        "best_version": row.best_version or "",
        "best_accuracy": _num(row.best_accuracy),
        "candidate_accuracy": _num(row.candidate_accuracy),
        "forgetting": _num(row.forgetting),
        "regressed": bool(row.regressed),
    }


def _label(value: Any, names: list[str]) -> str:
    if value is None:
        return "?"
    if isinstance(value, int | np.integer) and 0 <= int(value) < len(names):
        return names[int(value)]
    return str(value)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(jsonable(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- small images without an imaging library --------------------------------------------------


def png_data_uri(sample: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> str | None:
    """One input sample as a ``data:image/png`` URI, or ``None`` when it is not an image.

    Accepts ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` and flat vectors of a square size; values
    are scaled from ``value_range`` to 0..255.
    """
    x = np.asarray(sample, dtype=np.float64)
    if x.ndim == 1:
        side = math.isqrt(x.size)
        if side * side != x.size or side < 2:
            return None
        x = x.reshape(side, side)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3)) or x.shape[0] > 256:
        return None
    lo, hi = value_range
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
    pixels = np.clip(np.nan_to_num((x - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(_png(pixels)).decode("ascii")


def _png(pixels: np.ndarray) -> bytes:
    height, width = pixels.shape[:2]
    color = 2 if pixels.ndim == 3 else 0  # truecolour or greyscale, 8 bits
    rows = pixels.reshape(height, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
