"""What a report shows, as plain JSON-able data. No pytest, no keras, no jinja2.

:class:`ReportData` is built from the same :class:`~mlchecks.checks.CheckResult` objects as the
gate's ``--json`` decision, plus figures a run has already computed (the dataset, evaluations,
training records). Nothing here predicts or trains: building a report never imports Keras.

A section is present only when its data exists. The other modules hand their figures over
through ``CheckResult.details``; the check's ``model`` names the model they belong to. Read:

- interval of a check's value: ``lower`` and ``upper``, or ``ci: [lower, upper]``.
- per-class recall: ``accuracy.class_recall`` ``per_class`` rows (``class``, ``name``,
  ``recall``); ``regression.per_class`` ``classes`` rows (``class``, ``name``,
  ``candidate_recall``, ``champion_recall``); or plain lists ``class_recall`` /
  ``champion_class_recall`` (one entry per class, ``null`` where a class has no sample).
- ``confusion``: the candidate's confusion matrix (rows true class, columns predicted).
- negative flips: ``regression.flip_rate`` ``negative`` (holdout indices the champion got
  right and the candidate gets wrong) and ``negative_count``; or ``negative_flips``, a list of
  indices or of ``{"index", "true", "champion", "candidate"}``. Images and true labels come from
  the dataset's test split, the candidate's labels from its evaluation.
- speed checks (category ``speed``): ``samples_per_s``, ``normalised`` (fraction of the
  machine's matmul peak), ``unit``, and ``champion`` (the champion's figures or stored check).
- data checks (category ``data``): ``split``, ``unexpected_count`` (or ``count``) and
  ``examples`` (or ``example_indices``: a few failing samples).
- version history: ``history`` (``[{"version", "accuracy"}, ...]``, oldest first);
  ``forgetting_matrix`` or ``matrix`` (``{"versions": [...], "holdouts": [...], "values":
  [[...]]}``: accuracy of each version, row, on each holdout, column); and
  ``regression.forgetting`` ``holdouts`` rows (``holdout``, ``introduced_by``,
  ``best_version``, ``best_accuracy``, ``candidate_accuracy``, ``forgetting``, ``regressed``).

Figures the run computed itself fill the gaps: an :class:`~mlchecks.stats.evaluation.Evaluation` gives
the accuracy interval, per-class recall and the confusion matrix; a training record gives the
training curves. Details that do not have the documented shape are skipped, not fatal: a report
must never turn a verdict into a crash.
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
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.result import CheckResult

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

VERDICTS = ("accepted", "rejected", "first version")
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
    out = []
    for item in items:
        out.append(
            CheckResult(
                id=str(item["id"]),
                category=str(item["category"]),
                passed=bool(item["passed"]),
                value=_num(item.get("value")),
                threshold=_num(item.get("threshold")),
                message=str(item.get("message", "")),
                model=None if item.get("model") is None else str(item["model"]),
                severity=str(item.get("severity", "error")),
                details=dict(item.get("details") or {}),
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class CheckRow:
    """One row of the check table."""

    id: str
    category: str
    model: str | None
    status: str  # "fail" (blocking), "warning", "info" (failed, not blocking) or "pass"
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
    versions: list[str]
    accuracy: list[float | None]
    holdouts: list[str]
    matrix: list[list[float | None]]  # rows: matrix_versions, columns: holdouts
    matrix_versions: list[str]
    forgetting: list[dict[str, Any]]  # per earlier holdout: best earlier vs candidate accuracy


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything one report page shows. JSON-able (``dataclasses.asdict``).

    Attributes:
        run_id: the folder name of this run under the report folder.
        name: the model lineage (``--name``).
        source: ``gate`` or ``pytest``.
        created: ISO 8601 time (UTC) the report was built.
        verdict: ``accepted``, ``rejected`` or ``first version`` (accepted, and there was no
            champion to compare with).
        checks: every check, blocking failures first, then warnings, then passes.
        skipped: sections left out because their details did not have the documented shape.
    """

    run_id: str
    name: str
    source: str
    created: str
    verdict: str
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

    @property
    def failed(self) -> list[CheckRow]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[CheckRow]:
        return [c for c in self.checks if c.status == "warning"]

    def summary(self) -> dict[str, Any]:
        """The index page's line for this run (written as ``summary.json`` beside the page)."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "source": self.source,
            "created": self.created,
            "verdict": self.verdict,
            "version": self.version,
            "champion_before": self.champion_before,
            "dataset": self.dataset,
            "checks": len(self.checks),
            "failed": len(self.failed),
            "failed_ids": [c.id for c in self.failed][:8],
            "models": sorted({c.model for c in self.checks if c.model}),
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
    return build(
        checks,
        name=name,
        source=source,
        run_id=run_id,
        decision=decision,
        dataset=dataset,
        evaluations=evaluations,
        records=records,
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
        records: model name -> its :class:`~mlchecks.model.training.TrainingRecord`. Defaults to none.
        created: time of the run. Defaults to now.
    """
    from mlchecks.run.gate import decide

    now = created or _dt.datetime.now(_dt.UTC)
    evaluations = dict(evaluations or {})
    records = dict(records or {})
    checks = list(checks)
    accepted = decision.accepted if decision is not None else decide(checks)
    champion_before = decision.champion_before if decision is not None else None
    if decision is not None:
        first = champion_before is None
    else:  # a pytest session: first when no regression check had a champion to compare with
        first = not any(c.category == "regression" and c.details.get("champion") for c in checks)
    verdict = "rejected" if not accepted else ("first version" if first else "accepted")
    notes = list(decision.notes) if decision is not None else []
    if not checks:
        notes.append("no check ran: nothing was judged, so nothing is accepted")

    class_names = list(dataset.class_names) if dataset is not None else None
    skipped: list[str] = []
    builder = _Sections(checks, dataset, evaluations, records, class_names, skipped)
    env: dict[str, str] = {}
    for record in records.values():  # the first model's environment stands for the run
        recorded = getattr(record, "environment", None) or {}
        env.update({str(k): str(v) for k, v in recorded.items()})
        break
    from mlchecks._version import __version__

    env["mlchecks"] = __version__
    return ReportData(
        run_id=run_id or new_run_id(name, source, now),
        name=name,
        source=source,
        created=now.isoformat(timespec="seconds"),
        verdict=verdict,
        version=decision.version if decision is not None else None,
        champion_before=champion_before,
        champion_after=decision.champion_after if decision is not None else None,
        notes=notes,
        dataset=dataset.describe() if dataset is not None else None,
        environment=env,
        checks=_check_rows(checks),
        accuracy=builder.section("accuracy", builder.accuracy),
        class_recall=builder.section("per-class recall", builder.class_recall),
        confusion=builder.section("confusion matrix", builder.confusion),
        flips=builder.section("negative flips", builder.flips),
        curves=builder.section("training curves", builder.curves),
        speed=builder.section("speed", builder.speed),
        data=builder.section("data expectations", builder.data),
        history=builder.section("version history", builder.history),
        skipped=skipped + builder.notes,
    )


def _status(check: CheckResult) -> str:
    if check.passed:
        return "pass"
    return "fail" if check.severity == "error" else check.severity


_ORDER = {"fail": 0, "warning": 1, "info": 2, "pass": 3}


def _check_rows(checks: Sequence[CheckResult]) -> list[CheckRow]:
    rows = []
    for check in checks:
        # Regression checks carry the interval of the delta against the champion, not of
        # their value (the candidate's figure): label it so.
        delta = check.category == "regression" and isinstance(check.details.get("ci"), list)
        lower, upper = _interval({"ci": check.details["ci"]} if delta else check.details)
        raw = json.dumps(jsonable(check.details), sort_keys=True)
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


def _interval(details: Mapping[str, Any]) -> tuple[float | None, float | None]:
    if "lower" in details or "upper" in details:
        return _num(details.get("lower")), _num(details.get("upper"))
    ci = details.get("ci")
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return _num(ci[0]), _num(ci[1])
    return None, None


def _floats(values: Any) -> list[float | None]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise TypeError(f"expected a list of numbers, got {type(values).__name__}")
    return [_num(v) for v in values]


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
    ) -> None:
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

    def _detail(
        self, model: str | None, key: str, kind: Any = object
    ) -> tuple[Any, CheckResult] | None:
        """The first check of ``model`` whose ``details[key]`` is a ``kind`` (regression first)."""
        ranked = sorted(self.checks, key=lambda c: c.category != "regression")
        for check in ranked:
            if check.model == model and isinstance(check.details.get(key), kind):
                return check.details[key], check
        return None

    def _by_id(self, model: str | None, check_id: str, key: str) -> tuple[Any, CheckResult] | None:
        for check in self.checks:
            if check.model == model and check.id == check_id and check.details.get(key):
                return check.details[key], check
        return None

    def _names(self, k: int, found: CheckResult | None = None) -> list[str]:
        names = list(self.class_names or [])
        if found is not None and isinstance(found.details.get("class_names"), list | tuple):
            names = [str(n) for n in found.details["class_names"]]
        return [names[i] if i < len(names) else str(i) for i in range(k)]

    def accuracy(self) -> Iterable[AccuracyRow]:
        from mlchecks import stats

        for model in self._models():
            check = next(
                (c for c in self.checks if c.model == model and c.id == "accuracy.min"), None
            )
            ev = self.evaluations.get(model)
            if check is not None and check.value is not None:
                d = check.details
                lower, upper = _interval(d)
                yield AccuracyRow(
                    model, float(check.value), lower, upper,
                    _int(d.get("n")), _int(d.get("correct")), _num(d.get("confidence")),
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
            # Per-class rows: regression.per_class ("classes": candidate_recall,
            # champion_recall) and accuracy.class_recall ("per_class": recall).
            regression = self._by_id(model, "regression.per_class", "classes")
            if regression is not None:
                k = max(k, 1 + max(int(r["class"]) for r in regression[0]))
                names = _row_names(regression[0], self._names(k))
                candidate = _by_class(regression[0], "candidate_recall", k)
                champion = _by_class(regression[0], "champion_recall", k)
            own = self._by_id(model, "accuracy.class_recall", "per_class")
            if own is not None:
                k = max(k, 1 + max(int(r["class"]) for r in own[0]))
                names = _row_names(own[0], self._names(k))
                candidate = _by_class(own[0], "recall", k)  # every class, not only the compared
            listed = self._detail(model, "class_recall", list | tuple | np.ndarray)
            if listed is not None:
                candidate = _floats(listed[0])
                names = self._names(len(candidate), listed[1])
            listed = self._detail(model, "champion_class_recall", list | tuple | np.ndarray)
            if listed is not None:
                champion = _floats(listed[0])
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
            found = self._detail(model, "confusion", list | tuple | np.ndarray)
            ev = self.evaluations.get(model)
            if found is not None:
                matrix = np.asarray(found[0], dtype=np.int64)
                source: CheckResult | None = found[1]
            elif ev is not None:
                matrix, source = ev.confusion, None
            else:
                continue
            if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
                raise ValueError(f"confusion of {model} has shape {matrix.shape}; expected k x k")
            names = self._names(matrix.shape[0], source)
            if source is not None and isinstance(source.details.get("per_class"), list):
                names = _row_names(source.details["per_class"], names)
            yield Confusion(model, names, matrix.tolist())

    def flips(self) -> Iterable[FlipSet]:
        for model in self._models():
            # regression.flip_rate lists them as "negative"; other checks as "negative_flips".
            found = self._by_id(model, "regression.flip_rate", "negative")
            if found is None:
                found = self._detail(model, "negative_flips", list | tuple | np.ndarray)
            if found is None:
                continue
            items, check = found
            d = check.details
            total = _int(d.get("negative_count", d.get("n_negative_flips")))
            total = len(items) if total is None else total
            champion_pred = d.get("champion_pred")
            ev = self.evaluations.get(model)
            names = self._names(self.dataset.num_classes if self.dataset else 0, check)
            shown = list(items)[:MAX_FLIPS]
            indices = [int(i["index"]) if isinstance(i, Mapping) else int(i) for i in shown]
            # The indices are into the champion's holdout. It is this run's test split only
            # when the gate ran on the same data; otherwise images and labels would be of other
            # samples, so they are shown only when every flip is a mistake of the candidate here.
            ds = self.dataset
            local = False
            same_size = ds is not None and ev is not None and ev.n == ds.n_test
            if same_size and ev is not None and ds is not None and _int(d.get("n")) in (None, ev.n):
                local = all(0 <= i < ev.n and ev.y_pred[i] != ds.y_test[i] for i in indices)
            if not local and indices and ds is not None:
                self.notes.append(
                    f"negative flips of {model}: indices into the champion's holdout, which is "
                    "not this run's test split; images and labels left out"
                )
            flips = []
            for item, index in zip(shown, indices, strict=True):
                true = champ = cand = None
                if isinstance(item, Mapping):
                    true, champ, cand = (
                        item.get("true"),
                        item.get("champion"),
                        item.get("candidate"),
                    )
                if local and ds is not None and ev is not None:
                    true = int(ds.y_test[index]) if true is None else true
                    cand = int(ev.y_pred[index]) if cand is None else cand
                if champ is None and champion_pred is not None:
                    champ = int(champion_pred[index])
                if champ is None:
                    champ = true  # a negative flip is one the champion got right
                image = self._image(index) if local else None
                flips.append(
                    Flip(
                        index, _label(true, names), _label(champ, names), _label(cand, names), image
                    )
                )
            rate = check.value if check.id == "regression.flip_rate" else None
            yield FlipSet(model, total, _num(rate), flips)

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
            d = c.details
            raw = d.get("champion")
            champion: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            yield SpeedRow(
                c.id, c.model, _status(c), _num(c.value),
                str(d.get("unit") or SPEED_UNITS.get(c.id, "")),
                _pick(d, "samples_per_s"), _pick(champion, "samples_per_s"),
                _pick(d, "fraction_of_peak", "normalised"),
                _pick(champion, "fraction_of_peak", "normalised")
                if champion else _num(d.get("champion_fraction_of_peak")),
                _num(c.threshold), c.message,
            )  # fmt: skip

    def data(self) -> Iterable[DataRow]:
        for c in self.checks:
            if c.category != "data":
                continue
            d = c.details
            examples: Any = next((d[k] for k in EXAMPLE_KEYS if d.get(k) is not None), [])
            if not isinstance(examples, list | tuple):
                examples = [examples]
            count = next((d[k] for k in COUNT_KEYS if d.get(k) is not None), None)
            yield DataRow(
                c.id, _status(c), None if d.get("split") is None else str(d["split"]),
                _int(count), [_short(e) for e in list(examples)[:MAX_EXAMPLES]], c.message,
            )  # fmt: skip

    def history(self) -> Iterable[History]:
        seen: set[str | None] = set()
        for c in sorted(self.checks, key=lambda c: c.id != "regression.forgetting"):
            d = c.details
            fm = d.get("forgetting_matrix") or d.get("matrix")
            rows_in = d.get("holdouts") if c.id == "regression.forgetting" else None
            if c.model in seen or not (d.get("history") or fm or rows_in):
                continue
            seen.add(c.model)
            versions: list[str] = []
            accuracy: list[float | None] = []
            for entry in d.get("history") or []:
                versions.append(str(entry["version"]))
                accuracy.append(_num(entry.get("accuracy")))
            fm = fm if isinstance(fm, Mapping) else {}
            matrix = [_floats(row) for row in fm.get("values", fm.get("accuracy")) or []]
            holdouts = [str(h) for h in fm.get("holdouts", [])]
            introduced = fm.get("introduced_by")
            if isinstance(introduced, list | tuple) and len(introduced) == len(holdouts):
                holdouts = [f"holdout of {v}" for v in introduced]  # ids are content hashes
            rows = [str(v) for v in fm.get("versions", [])]
            if matrix and (
                (rows and len(rows) != len(matrix)) or any(len(r) != len(holdouts) for r in matrix)
            ):
                raise ValueError("forgetting_matrix values do not match versions x holdouts")
            if matrix and not rows:
                rows = [str(i + 1) for i in range(len(matrix))]
            table = [_holdout_row(r) for r in rows_in or [] if isinstance(r, Mapping)]
            yield History(c.model, versions, accuracy, holdouts, matrix, rows, table)


SPEED_UNITS = {
    "speed.training": "of peak",
    "speed.predict_latency": "ms (p50)",
    "speed.predict_throughput": "samples/s",
    "speed.peak_memory": "MiB",
}
EXAMPLE_KEYS = ("examples", "example_indices", "indices")
COUNT_KEYS = ("unexpected_count", "count", "n_failed")


def _pick(data: Mapping[str, Any], *keys: str) -> float | None:
    """A figure from ``data`` or its ``details`` (a stored check), under the first key found."""
    for source in (data, data.get("details") if isinstance(data.get("details"), Mapping) else {}):
        for key in keys:
            value = _num(source.get(key))  # type: ignore[union-attr]
            if value is not None:
                return value
    return None


def _by_class(rows: Sequence[Mapping[str, Any]], key: str, k: int) -> list[float | None]:
    out: list[float | None] = [None] * k
    for row in rows:
        out[int(row["class"])] = _num(row.get(key))
    return out


def _row_names(rows: Sequence[Mapping[str, Any]], names: list[str]) -> list[str]:
    names = list(names)
    for row in rows:
        i = int(row["class"])
        if row.get("name") is not None and i < len(names):
            names[i] = str(row["name"])
    return names


def _holdout_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "holdout": str(row.get("holdout", "")),
        "introduced_by": str(row.get("introduced_by", "")),
        "best_version": str(row.get("best_version", "")),
        "best_accuracy": _num(row.get("best_accuracy")),
        "candidate_accuracy": _num(row.get("candidate_accuracy")),
        "forgetting": _num(row.get("forgetting")),
        "regressed": bool(row.get("regressed", False)),
    }


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


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
