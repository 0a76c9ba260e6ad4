"""Check results and their typed details. No pytest, no keras, no numpy.

A check is a function returning a :class:`CheckResult`; the suites record it (JUnit property,
terminal summary, gate decision) and fail when it blocks. The same id means the same check
everywhere: report, ``--json`` and suites.

Each result has one of four outcomes (:attr:`CheckResult.status`): ``passed``, ``failed``
(blocks the gate), ``warning`` (failed, but its severity does not block) or ``not_judged``: the
check could not judge this run (no champion to compare with, no reference profile, no confident
prediction, ...) and its message says why. A not-judged check never blocks; ``passed`` stays
``True`` for it, as it was before statuses existed. A figure that is only recorded by design
(batch-1 latency, a calibration error with no ``max_ece`` configured) is judged and passes.

A check's ``details`` are one of the typed classes below, one per check family. Each has
``to_json()`` (the keys the JSON of ``--json`` and of registry records has always had) and
``from_json()`` (accepts that JSON, old registry records included: unknown keys are kept in
``extra`` and written back unchanged; a value that does not have its field's type is kept raw
in ``extra`` and named in ``unreadable``, never an exception). Details also read like the
mapping they used to be (``result.details["lower"]``, the JSON view) for scripts written
against it; code in mlchecks reads the attributes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

CATEGORIES = ("setup", "data", "accuracy", "behaviour", "speed", "regression")
SEVERITIES = ("error", "warning", "info")
STATUSES = ("passed", "failed", "warning", "not_judged")

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "STATUSES",
    "AccuracyDetails",
    "BehaviourDetails",
    "CalibrationDetails",
    "CheckResult",
    "ClassRecallRow",
    "ClassRegressionDetails",
    "ClassRegressionRow",
    "DataDetails",
    "Details",
    "DriftDetails",
    "DriftRow",
    "ExpectationRow",
    "FlipDetails",
    "ForgettingDetails",
    "ForgettingMatrix",
    "HoldoutRow",
    "MemoryDetails",
    "NoChampionDetails",
    "PerClassDetails",
    "RegressionDetails",
    "SeedsDetails",
    "SetupDetails",
    "SpeedDetails",
    "details_class",
    "details_from_json",
    "status_counts",
]


# --------------------------------------------------------------------------- field loading
def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"expected a number, got {type(value).__name__} {value!r}")
    return float(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"expected an integer, got {type(value).__name__} {value!r}")
    if isinstance(value, numbers.Integral):
        return operator.index(value)
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(number)


def _str(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool | numbers.Integral):
        raise TypeError(f"expected true or false, got {type(value).__name__} {value!r}")
    return bool(value)


def _any(value: Any) -> Any:
    return value


def _loader(hint: Any) -> Any:
    """A function that checks and normalises a value for a field annotated ``hint``.

    Sequences become tuples, rows (:class:`_Record` subclasses) are built from mappings, and
    ``None`` passes wherever the annotation allows it.
    """
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        load = _loader(inner[0]) if len(inner) == 1 else _any
        nullable = len(inner) < len(args)

        def optional(value: Any) -> Any:
            return None if value is None and nullable else load(value)

        return optional
    if hint is float:
        return _float
    if hint is int:
        return _int
    if hint is str:
        return _str
    if hint is bool:
        return _bool
    if isinstance(hint, type) and issubclass(hint, _Record):
        return hint._load
    if origin in (tuple, Sequence) or hint in (tuple, Sequence):
        if (len(args) == 2 and args[1] is Ellipsis) or origin is Sequence:
            item = _loader(args[0]) if args else _any

            def sequence(value: Any) -> tuple[Any, ...]:
                if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
                    raise TypeError(f"expected a list, got {type(value).__name__}")
                return tuple(item(v) for v in value)

            return sequence
        items = [_loader(a) for a in args]

        def fixed(value: Any) -> tuple[Any, ...]:
            values = list(value) if isinstance(value, list | tuple) else None
            if values is None or len(values) != len(items):
                raise TypeError(f"expected a list of {len(items)} values, got {value!r}")
            return tuple(load(v) for load, v in zip(items, values, strict=True))

        return fixed
    if origin in (dict, Mapping) or hint in (dict, Mapping):

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return {str(k): v for k, v in value.items()}

        return mapping
    return _any


def _dump(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


_SPECIAL = frozenset({"extra", "unreadable"})
_LOADERS: dict[type, dict[str, Any]] = {}


@dataclasses.dataclass(frozen=True)
class _Record:
    """A frozen record with a JSON form: fields by their JSON key, unknown keys kept in ``extra``.

    ``to_json`` leaves out a field that is ``None`` unless it is named in ``ALWAYS`` (the
    producers always wrote those keys, ``null`` included). ``KEYS`` maps a field to its JSON key
    where they differ (``class`` is a Python keyword).
    """

    ALWAYS: ClassVar[frozenset[str]] = frozenset()
    KEYS: ClassVar[Mapping[str, str]] = {}

    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, kw_only=True)
    unreadable: tuple[str, ...] = dataclasses.field(
        default=(), kw_only=True, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for name, load in self._loaders().items():
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, load(value))
            except (TypeError, ValueError) as exc:
                msg = f"{type(self).__name__}.{name} = {value!r} is invalid: {exc}"
                raise type(exc)(msg) from None
        object.__setattr__(self, "extra", dict(self.extra))

    @classmethod
    def _loaders(cls) -> dict[str, Any]:
        found = _LOADERS.get(cls)
        if found is None:
            hints = typing.get_type_hints(cls)
            found = {f.name: _loader(hints[f.name]) for f in dataclasses.fields(cls)
                     if f.name not in _SPECIAL}  # fmt: skip
            _LOADERS[cls] = found
        return found

    @classmethod
    def _load(cls, value: Any) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cls.__name__}, got {type(value).__name__}")
        return cls.from_json(value, strict=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON form: the keys the producers have always written, then ``extra``."""
        out: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _SPECIAL:
                continue
            value = getattr(self, f.name)
            if value is None and f.name not in self.ALWAYS:
                continue
            # "warning" came last in the dicts; "explanation" was added after it
            target = late if f.name in ("warning", "explanation") else out
            target[self.KEYS.get(f.name, f.name)] = _dump(value)
        out.update(late)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, *, strict: bool = False) -> Self:
        """Rebuild from the JSON form (or any mapping, e.g. an old registry record).

        Args:
            data: the JSON object; ``None`` gives the empty record.
            strict: raise on a value of the wrong type instead of keeping it in ``extra``.
                Defaults to False.
        """
        if isinstance(data, _Record):
            data = data.to_json()
        rest = dict(data or {})
        kwargs: dict[str, Any] = {}
        unreadable: list[str] = []
        for name, load in cls._loaders().items():
            key = cls.KEYS.get(name, name)
            if key not in rest:
                continue
            try:
                kwargs[name] = load(rest[key])
            except (TypeError, ValueError, KeyError) as exc:
                if strict:
                    raise
                unreadable.append(f"{key}: {exc}")
                continue
            del rest[key]
        return cls(**kwargs, extra=rest, unreadable=tuple(unreadable))


# --------------------------------------------------------------------------- details
@dataclasses.dataclass(frozen=True)
class Details(_Record, Mapping[str, Any]):
    """Details of a check that has none of its own (and the base of every details class).

    Attributes:
        warning: a caveat of a check that passed (e.g. a holdout too small to see the margin);
            the gate prints it. Defaults to None.
        explanation: the rest of the account the message leads with: the statistics behind
            the verdict (test, p-values, Holm, power, bounds) and longer advice on what to do.
            The message stays one short sentence or two; reports and ``--json`` show this.
            Defaults to None.
        extra: keys the class does not know (old records, user checks); written back as is.
        unreadable: ``"key: why"`` for each value of the wrong type found by ``from_json``
            (kept raw in ``extra``). Not part of the JSON.
    """

    warning: str | None = dataclasses.field(default=None, kw_only=True)
    explanation: str | None = dataclasses.field(default=None, kw_only=True)

    # The mapping view: the JSON form, read-only.
    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())


@dataclasses.dataclass(frozen=True)
class AccuracyDetails(Details):
    """``accuracy.min``: the Wilson interval of the accuracy and where the threshold came from
    (``default_bar``: what the default bar demanded, when no ``min_accuracy`` is configured)."""

    lower: float | None = None
    upper: float | None = None
    n: int | None = None
    correct: int | None = None
    confidence: float | None = None
    source: str | None = None
    backend: str | None = None
    data: str | None = None
    default_bar: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class SeedsDetails(Details):
    """``accuracy.seeds``: accuracy of each seed; the worst one is judged like accuracy.min."""

    seeds: Sequence[int] | None = None
    accuracies: Sequence[float] | None = None
    mean: float | None = None
    std: float | None = None
    worst_seed: int | None = None
    worst_lower: float | None = None
    n: int | None = None
    confidence: float | None = None
    source: str | None = None


@dataclasses.dataclass(frozen=True)
class CalibrationDetails(Details):
    """``accuracy.ece``: how many confidence bins the calibration error was measured on."""

    bins: int | None = None


@dataclasses.dataclass(frozen=True)
class ClassRecallRow(_Record):
    """One class of ``accuracy.class_recall``: recall with its Wilson interval, precision."""

    ALWAYS = frozenset({"name", "recall", "recall_lower", "recall_upper", "precision"})
    KEYS: ClassVar[Mapping[str, str]] = {"index": "class"}

    index: int
    name: str | None = None
    support: int | None = None
    correct: int | None = None
    predicted: int | None = None
    recall: float | None = None
    recall_lower: float | None = None
    recall_upper: float | None = None
    precision: float | None = None


@dataclasses.dataclass(frozen=True)
class PerClassDetails(Details):
    """``accuracy.class_recall``: every class's recall and the confusion matrix.

    Attributes:
        per_class: one row per class, in class order.
        confusion: the confusion matrix, rows true class, columns predicted class.
        weakest: the class with the lowest recall (absent when no class has a sample).
        below: the classes below ``min_class_recall`` (absent when none is configured).
    """

    per_class: Sequence[ClassRecallRow] | None = None
    confusion: Sequence[Sequence[int]] | None = None
    confidence: float | None = None
    weakest: int | None = None
    below: Sequence[int] | None = None


@dataclasses.dataclass(frozen=True)
class _Verdict(Details):
    """The regression rule's figures for one paired comparison (see checks.regression)."""

    regressed: bool | None = None
    drop: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    lower: float | None = None
    ci: tuple[float, float] | None = None
    detectable_drop: float | None = None
    margin: float | None = None


@dataclasses.dataclass(frozen=True)
class RegressionDetails(_Verdict):
    """``regression.accuracy``: the candidate against the champion on the champion's holdout.

    ``ci`` is the interval of the candidate-minus-champion delta; ``negative_flips`` and
    ``positive_flips`` count samples (the flipped indices are in ``regression.flip_rate``).
    """

    ALWAYS = frozenset({"warning"})

    champion: str | None = None
    n: int | None = None
    champion_accuracy: float | None = None
    candidate_accuracy: float | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None
    mode: str | None = None


@dataclasses.dataclass(frozen=True)
class ClassRegressionRow(_Record):
    """One class of ``regression.per_class``: recall of champion and candidate, and the rule."""

    KEYS: ClassVar[Mapping[str, str]] = {"index": "class"}

    index: int
    name: str | None = None
    support: int | None = None
    champion_recall: float | None = None
    candidate_recall: float | None = None
    delta: float | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None
    regressed: bool | None = None
    drop: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    lower: float | None = None
    ci: tuple[float, float] | None = None
    detectable_drop: float | None = None
    margin: float | None = None


@dataclasses.dataclass(frozen=True)
class ClassRegressionDetails(Details):
    """``regression.per_class``: each class's recall against the champion (Holm-adjusted)."""

    ALWAYS = frozenset({"warning"})

    champion: str | None = None
    classes: Sequence[ClassRegressionRow] | None = None
    failed: Sequence[str] | None = None
    mode: str | None = None
    margin: float | None = None


@dataclasses.dataclass(frozen=True)
class FlipDetails(Details):
    """``regression.flip_rate``: the holdout indices the champion got right and the candidate
    gets wrong (``negative``, at most 1000 listed; ``negative_count`` is exact) and back."""

    ALWAYS = frozenset({"reseed_flip_rate"})

    champion: str | None = None
    n: int | None = None
    negative: Sequence[int] | None = None
    positive: Sequence[int] | None = None
    negative_count: int | None = None
    positive_count: int | None = None
    positive_rate: float | None = None
    reseed_flip_rate: float | None = None


@dataclasses.dataclass(frozen=True)
class HoldoutRow(_Record):
    """One earlier holdout of ``regression.forgetting``: best earlier version vs candidate."""

    ALWAYS = frozenset({"warning"})

    holdout: str
    introduced_by: str | None = None
    best_version: str | None = None
    best_accuracy: float | None = None
    candidate_accuracy: float | None = None
    forgetting: float | None = None
    n: int | None = None
    negative_flips: int | None = None
    positive_flips: int | None = None
    warning: str | None = None
    regressed: bool | None = None
    drop: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    lower: float | None = None
    ci: tuple[float, float] | None = None
    detectable_drop: float | None = None
    margin: float | None = None


@dataclasses.dataclass(frozen=True)
class ForgettingMatrix(_Record):
    """Accuracy of each version (row) on each version's holdout (column); ``None``: never
    evaluated. Holdout ids are content hashes; ``introduced_by`` names the version of each."""

    versions: Sequence[str] = ()
    holdouts: Sequence[str] = ()
    introduced_by: Sequence[str] | None = None
    accuracy: Sequence[Sequence[float | None]] = ()
    # per version (row): mean accuracy over the holdouts it was evaluated on, and backward
    # transfer (mean of R[i][j] - R[intro(j)][j] over earlier versions' holdouts)
    average_accuracy: Sequence[float | None] | None = None
    backward_transfer: Sequence[float | None] | None = None


@dataclasses.dataclass(frozen=True)
class ForgettingDetails(Details):
    """``regression.forgetting``: the candidate on every earlier accepted version's holdout."""

    ALWAYS = frozenset({"warning", "matrix"})

    holdouts: Sequence[HoldoutRow] | None = None
    backward_transfer: float | None = None
    margin: float | None = None
    failed: Sequence[str] | None = None
    matrix: ForgettingMatrix | None = None
    # "class" when judged by the class-incremental budget (margin = forgetting_budget)
    scenario: str | None = None
    min_backward_transfer: float | None = None


@dataclasses.dataclass(frozen=True)
class NoChampionDetails(Details):
    """A ``regression.*`` check of a lineage that has no champion yet: not judged."""

    ALWAYS = frozenset({"champion"})

    champion: None = None
    lineage: str | None = None


@dataclasses.dataclass(frozen=True)
class SpeedDetails(Details):
    """``speed.*``: the figures measured (``normalised`` is the fraction of the machine's float32
    matmul rate), and for ``speed.training`` the champion's figures it was compared with.

    ``champion_figures`` (JSON key ``champion``) is what the champion stored: its figures, or
    its whole ``speed.training`` check (figures under ``details``), or for a same-run A/B what
    was measured of it and what it stored. ``unit`` is the unit of the check's value when it is
    not the id's usual one (an A/B ratio). Figures of a measurement this class does not name
    (rounds, ratios, calibration, device, ...) are in ``extra``.
    """

    ALWAYS = frozenset({"samples_per_s"})
    KEYS: ClassVar[Mapping[str, str]] = {"champion_figures": "champion"}

    unit: str | None = None
    normalised: float | None = None
    samples_per_s: float | None = None
    tolerance: float | None = None
    current: Mapping[str, Any] | None = None
    champion_figures: Mapping[str, Any] | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None

    def champion_figure(self, key: str) -> float | None:
        """The champion's ``key`` figure (``normalised``, ``samples_per_s``), when stored."""
        if self.champion_figures is None:
            return None
        inner = self.champion_figures.get("details")
        for source in (self.champion_figures, inner if isinstance(inner, Mapping) else {}):
            value = source.get(key)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            number = value if is_number else None
            if number is not None and math.isfinite(number):
                return float(number)
        if key == "normalised" and self.champion_figures.get("id") == "speed.training":
            value = self.champion_figures.get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value) if math.isfinite(value) else None
        return None


@dataclasses.dataclass(frozen=True)
class MemoryDetails(Details):
    """``speed.peak_memory``: peak memory while training, in MiB (``None``: not measurable
    here); ``scope`` is ``block`` (measured around training) or the process peak."""

    ALWAYS = frozenset({"rss_peak_mib", "rss_before_mib", "device_peak_mib", "scope"})

    rss_peak_mib: float | None = None
    rss_before_mib: float | None = None
    device_peak_mib: float | None = None
    scope: str | None = None


@dataclasses.dataclass(frozen=True)
class ExpectationRow(_Record):
    """One Great Expectations expectation of a ``data.*`` check, on one split."""

    ALWAYS = frozenset({"split", "unexpected_count", "error"})

    expectation: str
    split: str | None = None
    success: bool = False
    unexpected_count: int | None = None
    examples: Sequence[Any] = ()
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class DataDetails(Details):
    """``data.*`` (but drift): the expectations of the check, each with its outcome."""

    expectations: Sequence[ExpectationRow] | None = None

    @property
    def failing(self) -> tuple[ExpectationRow, ...]:
        return tuple(e for e in self.expectations or () if not e.success)

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits of the failing expectations (of all of them when none fails)."""
        rows = self.failing or tuple(self.expectations or ())
        return tuple(dict.fromkeys(e.split for e in rows if e.split))

    @property
    def unexpected_count(self) -> int | None:
        """Samples (or rows) failing an expectation, summed; ``None`` when none counts any."""
        counts = [e.unexpected_count for e in self.expectations or ()]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None

    @property
    def examples(self) -> tuple[Any, ...]:
        """A few failing samples (indices), from the failing expectations."""
        return tuple(x for e in self.failing for x in e.examples)


@dataclasses.dataclass(frozen=True)
class DriftRow(_Record):
    """One distribution compared by ``data.drift`` (a per-sample statistic or the labels)."""

    ALWAYS = frozenset({"stat"})

    split: str
    what: str | None = None
    stat: str | None = None
    psi: float | None = None
    ks: float | None = None
    drifted: bool | None = None
    outside: int | None = None
    examples: Sequence[int] | None = None


@dataclasses.dataclass(frozen=True)
class DriftDetails(Details):
    """``data.drift``: the reference profile and every comparison with it."""

    reference: str | None = None
    method: str | None = None
    comparisons: Sequence[DriftRow] | None = None

    @property
    def drifted(self) -> tuple[DriftRow, ...]:
        return tuple(r for r in self.comparisons or () if r.drifted)


@dataclasses.dataclass(frozen=True)
class BehaviourDetails(Details):
    """``behaviour.*``: how hard Hypothesis searched, and the counterexample it found.

    ``value`` is ``"inf"`` or ``"nan"`` when the measured figure was not finite (the result's
    value is then ``None``); ``error`` is what the model raised when it could not be called.
    """

    examples: int | None = None
    tolerance: float | None = None
    scale: float | None = None
    amplitude: float | None = None
    confident_at: float | None = None
    confident: int | None = None
    counterexample: Mapping[str, Any] | None = None
    error: str | None = None
    value: str | None = None


@dataclasses.dataclass(frozen=True)
class SetupDetails(Details):
    """``setup.*``: a lint finding: what is wrong, in which layer, and the fix."""

    what: str | None = None
    where: str | None = None
    fix: str | None = None


_BY_ID: dict[str, type[Details]] = {
    "accuracy.min": AccuracyDetails,
    "accuracy.seeds": SeedsDetails,
    "accuracy.class_recall": PerClassDetails,
    "accuracy.ece": CalibrationDetails,
    "regression.accuracy": RegressionDetails,
    "regression.per_class": ClassRegressionDetails,
    "regression.flip_rate": FlipDetails,
    "regression.forgetting": ForgettingDetails,
    "data.drift": DriftDetails,
    "speed.peak_memory": MemoryDetails,
}
_BY_CATEGORY: dict[str, type[Details]] = {
    "speed": SpeedDetails,
    "data": DataDetails,
    "behaviour": BehaviourDetails,
    "setup": SetupDetails,
}


def details_class(check_id: str, category: str) -> type[Details]:
    """The details class a check of this id and category carries (``Details`` if none)."""
    return _BY_ID.get(check_id) or _BY_CATEGORY.get(category) or Details


def details_from_json(check_id: str, category: str, data: Mapping[str, Any] | None) -> Details:
    """Typed details of a check from their JSON form (a ``--json`` file, a registry record).

    Empty (or no) details are the plain :class:`Details`, whatever the check.
    """
    if not data:
        return Details()
    if category == "regression" and "lineage" in data and data.get("champion") is None:
        return NoChampionDetails.from_json(data)
    return details_class(check_id, category).from_json(data)


# --------------------------------------------------------------------------- results
def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's outcome.

    Attributes:
        id: stable check id, ``<category>.<name>`` (e.g. ``accuracy.min``).
        category: one of :data:`CATEGORIES`.
        passed: whether the check passed. Warnings, infos and not-judged checks never block a
            gate; a not-judged check has ``passed`` true.
        value: the measured figure, when there is one.
        threshold: the figure it was judged against, when there is one.
        message: one sentence a person understands: what, value, threshold, where, what next
            (about 200 characters at most: a terminal line, the report's banner); the
            statistics and longer advice go to ``details.explanation``. For a not-judged
            check: why it could not be judged.
        model: the model the check is about (``None`` for data-only checks).
        severity: ``error`` (blocks when failed), ``warning`` or ``info``.
        details: typed extra data for reports (a :class:`Details` subclass). A plain mapping
            (old JSON, a user's check) is converted with :func:`details_from_json`.
        status: ``passed``, ``failed``, ``warning`` or ``not_judged``. Only ``not_judged`` is
            given (see :meth:`not_judged`); the other three always follow from ``passed`` and
            ``severity``.
    """

    id: str
    category: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str
    model: str | None = None
    severity: str = "error"
    details: Details = dataclasses.field(default_factory=Details)
    status: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            msg = f"check {self.id!r} has category {self.category!r}; expected one of {CATEGORIES}"
            raise ValueError(msg)
        if self.severity not in SEVERITIES:
            msg = f"check {self.id!r} has severity {self.severity!r}; expected one of {SEVERITIES}"
            raise ValueError(msg)
        if not isinstance(self.details, Details):
            if self.details is not None and not isinstance(self.details, Mapping):
                msg = (
                    f"check {self.id!r} has details of type {type(self.details).__name__}; "
                    "expected a mlchecks.result.Details (or a dict of JSON values)"
                )
                raise TypeError(msg)
            typed = details_from_json(self.id, self.category, self.details)
            object.__setattr__(self, "details", typed)
        if self.status and self.status not in STATUSES:
            msg = f"check {self.id!r} has status {self.status!r}; expected one of {STATUSES}"
            raise ValueError(msg)
        if self.status == "not_judged":
            if not self.passed:
                msg = (
                    f"check {self.id!r} is not judged but has passed=False; a not-judged check "
                    "never blocks: give passed=True (or judge it and leave status out)"
                )
                raise ValueError(msg)
            return
        # passed, failed and warning follow from passed and severity: derived every time, so
        # dataclasses.replace(result, passed=False) gives a failed result.
        derived = "passed" if self.passed else ("failed" if self.severity == "error" else "warning")
        object.__setattr__(self, "status", derived)

    @classmethod
    def not_judged(
        cls,
        id: str,
        category: str,
        reason: str,
        *,
        value: float | None = None,
        threshold: float | None = None,
        model: str | None = None,
        details: Details | None = None,
    ) -> CheckResult:
        """A check that could not judge this run; ``reason`` is its message (say why)."""
        return cls(id, category, True, value, threshold, reason, model=model, severity="info",
                   details=details if details is not None else Details(),
                   status="not_judged")  # fmt: skip

    @property
    def blocking(self) -> bool:
        """A failed error-severity check rejects the candidate."""
        return self.status == "failed"

    @property
    def judged(self) -> bool:
        return self.status != "not_judged"

    @property
    def label(self) -> str:
        """How a summary line shows the status: ``PASS``, ``FAIL``, ``WARNING`` or ``INFO`` (a
        failed check of that severity), ``NOT JUDGED``."""
        if self.status == "not_judged":
            return "NOT JUDGED"
        if self.status == "passed":
            return "PASS"
        return "FAIL" if self.status == "failed" else self.severity.upper()

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {
            "id": self.id,
            "category": self.category,
            "passed": self.passed,
            "status": self.status,
            "value": clean(self.value),
            "threshold": clean(self.threshold),
            "message": self.message,
            "model": self.model,
            "severity": self.severity,
            "details": self.details.to_json(),
        }

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from its :meth:`to_json` form (``--json``, registry, xdist workers).

        Records written before statuses existed have none: theirs is derived from ``passed``
        and ``severity``.
        """
        check_id, category = str(item["id"]), str(item["category"])
        raw = item.get("details")
        return cls(
            id=check_id,
            category=category,
            passed=bool(item["passed"]),
            value=_num(item.get("value")),
            threshold=_num(item.get("threshold")),
            message=str(item.get("message", "")),
            model=None if item.get("model") is None else str(item["model"]),
            severity=str(item.get("severity", "error")),
            details=details_from_json(check_id, category, raw if isinstance(raw, Mapping) else {}),
            status=str(item.get("status") or ""),
        )


def status_counts(checks: Sequence[CheckResult]) -> dict[str, int]:
    """How many checks passed, failed, warned and were not judged (the ``--json`` counts)."""
    counts = {"passed": 0, "failed": 0, "warnings": 0, "not_judged": 0}
    plural = {"warning": "warnings"}
    for check in checks:
        counts[plural.get(check.status, check.status)] += 1
    return counts
