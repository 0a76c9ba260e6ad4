"""Data expectations (``data.*`` checks) run with Great Expectations 1.x, fast and quiet.

GX evaluates every expectation on whole pandas columns and costs about 20 ms per expectation,
so one expectation per pixel column does not scale (MNIST has 784). Instead each split is
reduced to a compact per-sample frame (``index, min, max, mean, std, nonfinite, nan, inf, hash,
label``: one row per sample, computed block by block with numpy), plus a one-row-per-split
array frame (dtypes, shapes, lengths) and a per-class frame (counts, shares); a dozen
expectations on those frames cover the whole data set. Drift is measured with numpy against a
stored data profile (:mod:`mlchecks.data.profile`).

GX runs in an ephemeral context: nothing is written to disk, no network, no progress bars,
no analytics, GX's own INFO logging off. It is imported only when checks run.

Check ids: ``data.schema``, ``data.row_counts``, ``data.finite``,
``data.range``, ``data.labels``, ``data.classes_present``, ``data.balance``, ``data.leakage``,
``data.drift``, and ``data.custom`` for expectations a user adds in
``[tool.mlchecks.data_checks]``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.config.data_checks import (
    CHECK_IDS,
    CUSTOM_ID,
    DEFAULT_PRESET,
    SPLITS,
    _resolve,
    _snake,
    fixtures_dir,
    load_preset,
    validate_table,
)
from mlchecks.data import profile as profiles
from mlchecks.errors import DataError
from mlchecks.result import CheckResult, DataDetails, ExpectationRow

if TYPE_CHECKING:
    import pandas as pd

    from mlchecks.config import ModelSpec, Settings
    from mlchecks.data.dataset import Dataset

EXAMPLES = 5  # example indices quoted in a failure message


# ============================================================================ configuration
@dataclasses.dataclass(frozen=True)
class DataChecks:
    """Thresholds and options of the data checks. Build with :meth:`from_tables`.

    Attributes:
        value_range: every finite input value must lie in ``[lo, hi]``.
        num_classes: the class set is ``0 .. num_classes - 1``; ``None`` takes the dataset's.
        min_class_share: smallest allowed share of a class in a split; ``None`` means a quarter
            of the uniform share ``1 / num_classes``.
        min_train_rows, min_test_rows: smallest allowed split sizes.
        max_leakage: largest allowed fraction of test samples identical to a train sample.
        drift_method: ``"psi"`` or ``"ks"``; judged against ``max_psi`` or ``max_ks``.
        drift_stats: per-sample statistics compared for drift.
        drift_labels: whether the label distribution is compared for drift.
        profile: reference profile: ``"auto"`` (``fixtures/profiles/<data>.json`` when shipped),
            ``"none"``, or a path to a profile JSON file.
        expectations: extra GX expectations, each ``{"expectation": class name, "kwargs": {...},
            "frame": "samples"|"arrays"|"classes", "split": "train"|"test"|"both"}``.
        severity: per check id, ``"error"`` (default), ``"warning"`` or ``"info"``.
        preset: the preset these values started from.
    """

    value_range: tuple[float, float]
    num_classes: int | None
    min_class_share: float | None
    min_train_rows: int
    min_test_rows: int
    max_leakage: float
    drift_method: str
    max_psi: float
    max_ks: float
    drift_stats: tuple[str, ...]
    drift_labels: bool
    profile: str
    expectations: tuple[Mapping[str, Any], ...] = ()
    severity: Mapping[str, str] = dataclasses.field(default_factory=dict)
    preset: str = DEFAULT_PRESET

    @classmethod
    def from_tables(cls, *tables: Mapping[str, Any] | None, root: Path | None = None) -> DataChecks:
        """Layer presets and config tables: the default preset, the named preset, then tables.

        The last table naming ``preset`` picks it. Later tables override earlier ones, except
        ``expectations`` (added up) and ``severity`` (merged).

        Args:
            *tables: ``data_checks`` tables, least specific first (``None`` skipped).
            root: folder that relative preset and profile paths are resolved against.
                Defaults to the current directory.

        Raises:
            ConfigError: a table or preset is invalid.
        """
        layers = [validate_table(t, "data_checks", root=None) for t in tables if t]
        preset = DEFAULT_PRESET
        for table in layers:
            preset = table.get("preset", preset)
        merged: dict[str, Any] = dict(load_preset(DEFAULT_PRESET))
        if preset != DEFAULT_PRESET:
            layers.insert(0, load_preset(preset, root))
        expectations: list[Mapping[str, Any]] = list(merged.pop("expectations", []))
        severity: dict[str, str] = dict(merged.pop("severity", {}))
        for table in layers:
            for key, value in table.items():
                if key == "expectations":
                    expectations.extend(value)
                elif key == "severity":
                    severity.update(value)
                elif key not in ("preset", "description"):
                    merged[key] = value
        merged.pop("description", None)
        merged.pop("preset", None)
        profile = merged["profile"]
        if profile not in ("auto", "none") and root is not None:
            merged["profile"] = str(_resolve(profile, root))
        return cls(
            value_range=(float(merged["value_range"][0]), float(merged["value_range"][1])),
            num_classes=merged.get("num_classes"),
            min_class_share=merged.get("min_class_share"),
            min_train_rows=int(merged["min_train_rows"]),
            min_test_rows=int(merged["min_test_rows"]),
            max_leakage=float(merged["max_leakage"]),
            drift_method=merged["drift_method"],
            max_psi=float(merged["max_psi"]),
            max_ks=float(merged["max_ks"]),
            drift_stats=tuple(merged["drift_stats"]),
            drift_labels=bool(merged["drift_labels"]),
            profile=merged["profile"],
            expectations=tuple(expectations),
            severity=severity,
            preset=preset,
        )

    def severity_of(self, check_id: str) -> str:
        return self.severity.get(check_id, "error")

    def class_share_floor(self, num_classes: int) -> float:
        if self.min_class_share is not None:
            return self.min_class_share
        return 0.25 / max(num_classes, 1)


def table_of(settings: Settings) -> Mapping[str, Any]:
    """The validated ``[tool.mlchecks.data_checks]`` table of ``settings`` (empty if none)."""
    return getattr(settings, "data_checks", None) or {}


def for_settings(settings: Settings, spec: ModelSpec | None = None) -> DataChecks:
    """The data checks that apply to ``spec`` (or to the run when ``None``)."""
    own = getattr(spec, "data_checks", None) if spec is not None else None
    return DataChecks.from_tables(table_of(settings), own, root=Path(settings.root))


def scopes(settings: Settings) -> list[tuple[str | None, DataChecks]]:
    """Distinct data-check configurations of a run: ``[(None, checks)]`` unless models differ.

    A model whose ``data_checks`` table overrides the run's gets its own scope (its results
    carry the model's name); models without overrides share the run's scope.
    """
    shared = for_settings(settings)
    out: list[tuple[str | None, DataChecks]] = [(None, shared)]
    for spec in settings.models:
        if getattr(spec, "data_checks", None):
            own = for_settings(settings, spec)
            if own != shared:
                out.append((spec.name, own))
    return out


# ============================================================================ Great Expectations
_GX: Any = None


def _gx() -> Any:
    """Import GX quietly, once: no analytics, no INFO logs from its import-time registration."""
    global _GX
    if _GX is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        log = logging.getLogger("great_expectations")
        if log.level == logging.NOTSET:  # respect a level the user set
            log.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                # GX 1.x imports deprecated stdlib/third-party modules (sre_constants, ...):
                # import-time noise of no use to our users, who may run with -W error.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                import great_expectations as gx
                import great_expectations.expectations as gxe  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a dependency of mlchecks
            msg = (
                f"great_expectations cannot be imported ({exc}); "
                "pip install 'great-expectations>=1,<2'"
            )
            raise DataError(msg) from None
        _GX = gx
    return _GX


def _context() -> Any:
    """An in-memory GX context: no files, no docs sites, no progress bars, no analytics."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


@dataclasses.dataclass
class _Expect:
    """One expectation to run and how to report it."""

    check: str
    split: str | None
    name: str  # GX class name
    kwargs: dict[str, Any]
    text: str = ""  # how the message names it; defaults to name(kwargs)
    outcome: dict[str, Any] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        if self.text:
            return self.text
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items() if k != "column")
        column = self.kwargs.get("column")
        inner = ", ".join(x for x in (column, args) if x)
        return f"{_snake(self.name)}({inner})"


def _short(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) > 6:
        return f"[{', '.join(map(repr, value[:3]))}, ... {len(value)} values]"
    return repr(value)


def _validate(context: Any, frame_name: str, frame: pd.DataFrame, items: list[_Expect],
              index_columns: list[str]) -> None:  # fmt: skip
    """Run ``items`` on ``frame`` as one GX suite; fill each item's ``outcome``."""
    if not items:
        return
    gx = _gx()
    import great_expectations.expectations as gxe

    expectations = []
    built: list[_Expect] = []
    for number, item in enumerate(items):
        cls = getattr(gxe, item.name, None)
        if cls is None:  # a snake_case name from the config
            wanted = _snake(item.name)
            cls = next(
                (c for n, c in vars(gxe).items() if n.startswith("Expect") and _snake(n) == wanted),
                None,
            )
        try:
            if cls is None:
                raise ValueError(f"great_expectations.expectations has no {item.name}")
            expectation = cls(**item.kwargs, meta={"mlchecks": number})
        except Exception as exc:  # pydantic validation errors of user kwargs vary by version
            item.outcome = {"success": False, "error": _one_line(exc)}
            continue
        expectations.append(expectation)
        built.append(item)
    if not built:
        return
    # One constructor call: ExpectationSuite.add_expectation is quadratic in the suite size.
    suite = gx.ExpectationSuite(name=f"mlchecks-{frame_name}", expectations=expectations)
    source = context.data_sources.add_pandas(f"mlchecks-{frame_name}-{len(items)}-{id(frame)}")
    batch = (
        source.add_dataframe_asset(frame_name)
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": EXAMPLES,
        "unexpected_index_column_names": index_columns,
    }
    validation = batch.validate(suite, result_format=result_format)
    for res in validation.results:
        position = (res.expectation_config.meta or {}).get("mlchecks")
        if position is None:
            continue
        error = _exception(res.exception_info)
        outcome = {"success": bool(res.success) and not error, "result": dict(res.result or {})}
        if error:
            outcome["error"] = error
        items[position].outcome = outcome


def _exception(info: Any) -> str | None:
    if not isinstance(info, Mapping):
        return None
    if info.get("raised_exception"):
        return _one_line(info.get("exception_message") or "GX raised an exception")
    for value in info.values():  # GX 1.x may key exception info by metric id
        found = _exception(value)
        if found:
            return found
    return None


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text[:300]


# ============================================================================ frames
def _sample_frame(stats: Mapping[str, np.ndarray], labels: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    n = len(stats["hash"])
    label = np.asarray(labels).reshape(-1) if np.asarray(labels).ndim else np.asarray([labels])
    if label.shape[0] != n:  # mismatched lengths: pad/truncate, data.schema reports it
        fixed = np.full(n, -1, dtype=np.int64)
        m = min(n, label.shape[0])
        fixed[:m] = label[:m]
        label = fixed
    return pd.DataFrame({
        "index": np.arange(n, dtype=np.int64),
        "min": stats["min"],
        "max": stats["max"],
        "mean": stats["mean"],
        "std": stats["std"],
        "nonfinite": stats["nan"] + stats["inf"],
        "nan": stats["nan"],
        "inf": stats["inf"],
        "hash": stats["hash"],
        "label": label,
    }, copy=False)  # fmt: skip


def _twins(hashes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each hash, the index of the first identical ``reference`` hash, else NaN."""
    out = np.full(len(hashes), np.nan)
    if len(reference) == 0 or len(hashes) == 0:
        return out
    order = np.argsort(reference, kind="stable")  # stable: the first of equal hashes wins
    ordered = reference[order]
    pos = np.clip(np.searchsorted(ordered, hashes, side="left"), 0, len(ordered) - 1)
    hit = ordered[pos] == hashes
    out[hit] = order[pos[hit]]
    return out


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


# ============================================================================ running
@dataclasses.dataclass
class DataReport:
    """What :func:`run` computed: the results by check id, the frames and the data profile."""

    results: dict[str, CheckResult]
    profile: dict[str, Any]
    frames: dict[str, pd.DataFrame]

    def __iter__(self) -> Any:
        return iter(self.results.values())

    def __getitem__(self, check_id: str) -> CheckResult:
        return self.results[check_id]


def reference_profile(checks: DataChecks, dataset: Dataset) -> dict[str, Any] | None:
    """The reference profile ``checks.profile`` names for ``dataset`` (None when there is none).

    ``"auto"`` takes ``fixtures/profiles/<data name>.json`` when mlchecks ships one.

    Raises:
        DataError: the profile file is unreadable or not a profile.
    """
    if checks.profile == "none":
        return None
    if checks.profile == "auto":
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dataset.name)
        path = fixtures_dir() / "profiles" / f"{safe}.json"
        if not path.is_file():
            return None
    else:
        path = Path(checks.profile)
    return profiles.load_profile(path)


def resolve_reference(
    checks: DataChecks, dataset: Dataset, reference: Mapping[str, Any] | str | None
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The profile drift is measured against, and why there is none when it cannot be read:
    ``reference`` itself, or for a string (``"auto"``) the one ``checks.profile`` names."""
    if not isinstance(reference, str):
        return reference, None
    try:
        return reference_profile(checks, dataset), None
    except DataError as exc:
        return None, str(exc)


def schema_shape(reference: Mapping[str, Any] | None, dataset: Dataset) -> list[int]:
    """What the Great Expectations suite uses of the reference profile: the sample shape the
    data must have (the reference's ``input_shape``; with no reference, the data's own). Every
    other expectation is a function of the data and the checks alone; drift is not a GX check."""
    if reference is None:
        return [int(d) for d in np.asarray(dataset.x_train).shape[1:]]
    return list(reference.get("input_shape", []))


def _profiled(dataset: Dataset) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """The per-sample statistics of each split, and the data profile made of them."""
    stats = {s: profiles.sample_stats(getattr(dataset, f"x_{s}")) for s in SPLITS}
    return stats, profiles.profile(dataset, stats)


def drift_scopes(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None = "auto",
) -> dict[str, list[CheckResult]]:
    """``data.drift`` of :func:`run_scopes` alone (one result per scope), without Great
    Expectations or pandas: the per-sample statistics, the profile and the comparison are
    numpy. For a gate whose other data-check results are memoised and whose reference changed
    (a champion promoted since they were computed)."""
    stats, current = _profiled(dataset)
    results = []
    for model, checks in scoped:
        resolved, ref_error = resolve_reference(checks, dataset, reference)
        result = _drift(checks, resolved, current, stats, ref_error, dataset)
        results.append(result if model is None else dataclasses.replace(result, model=model))
    return {"data.drift": results}


def run(
    dataset: Dataset,
    checks: DataChecks | None = None,
    reference: Mapping[str, Any] | str | None = "auto",
    model: str | None = None,
) -> DataReport:
    """Run every data check on ``dataset``; never raises on bad data (failing checks instead).

    Args:
        dataset: the data under test.
        checks: thresholds and options. Defaults to the ``default`` preset.
        reference: the profile to measure drift against (e.g. the champion's), ``"auto"`` to
            pick it as ``checks.profile`` says, or ``None`` for no drift check. Defaults to
            ``"auto"``.
        model: the model these checks are attributed to (per-model overrides). Defaults to
            None (data checks of the run).

    Returns:
        A :class:`DataReport`; its results are in :data:`CHECK_IDS` order (+ ``data.custom``).

    Example:
        >>> from mlchecks.data import load_dataset
        >>> report = run(load_dataset("digits"))
        >>> all(r.passed for r in report)
        True
    """
    checks = checks or DataChecks.from_tables()
    stats, current = _profiled(dataset)
    frames = {s: _sample_frame(stats[s], getattr(dataset, f"y_{s}")) for s in SPLITS}
    frames["train"]["train_twin"] = np.nan  # only test samples can leak from train
    frames["test"]["train_twin"] = _twins(stats["test"]["hash"], stats["train"]["hash"])
    reference, ref_error = resolve_reference(checks, dataset, reference)
    suite = _Suite(dataset, checks, stats, frames, reference)
    results = suite.run()
    results["data.drift"] = _drift(checks, reference, current, stats, ref_error, dataset)
    ordered = {cid: results[cid] for cid in (*CHECK_IDS, CUSTOM_ID) if cid in results}
    if model is not None:
        ordered = {k: dataclasses.replace(v, model=model) for k, v in ordered.items()}
    all_frames = {f"samples.{s}": frames[s] for s in SPLITS} | suite.extra_frames
    return DataReport(results=ordered, profile=current, frames=all_frames)


def _drift(
    checks: DataChecks,
    reference: Mapping[str, Any] | None,
    current: dict[str, Any],
    stats: Mapping[str, Mapping[str, np.ndarray]],
    ref_error: str | None,
    dataset: Dataset,
) -> CheckResult:
    severity = checks.severity_of("data.drift")
    threshold = checks.max_psi if checks.drift_method == "psi" else checks.max_ks
    if ref_error is not None:
        message = f"data drift not measurable: {ref_error}"
        return CheckResult("data.drift", "data", False, None, threshold, message, severity=severity)
    if reference is None:
        message = (
            f"data drift not judged: no reference profile for {dataset.name} (set profile in "
            "[tool.mlchecks.data_checks], or gate against a champion that stored one)"
        )
        return CheckResult.not_judged("data.drift", "data", message, threshold=threshold)
    try:
        return profiles.drift(
            reference,
            current,
            method=checks.drift_method,
            max_psi=checks.max_psi,
            max_ks=checks.max_ks,
            stats=checks.drift_stats,
            labels=checks.drift_labels,
            current_stats=stats,
            severity=severity,
        )
    except DataError as exc:
        return CheckResult("data.drift", "data", False, None, threshold,
                           f"data drift not measurable: {exc}", severity=severity)  # fmt: skip


class _Suite:
    """Builds the frames and expectations of one run and turns GX results into CheckResults."""

    def __init__(
        self,
        dataset: Dataset,
        checks: DataChecks,
        stats: Mapping[str, Mapping[str, np.ndarray]],
        frames: Mapping[str, pd.DataFrame],
        reference: Mapping[str, Any] | None,
    ) -> None:
        self.ds = dataset
        self.checks = checks
        self.stats = stats
        self.frames = frames
        self.reference = reference
        # the classes the data is declared to hold (a subset of the class space for an
        # increment of a class-incremental lineage), not the model's head
        held = range(int(checks.num_classes)) if checks.num_classes else dataset.classes_held
        self.classes = [int(c) for c in held]
        self.num_classes = len(self.classes)
        whole = self.classes == list(range(self.num_classes))
        self.class_set = f"0..{self.num_classes - 1}" if whole else str(self.classes)
        self.extra_frames: dict[str, pd.DataFrame] = {}

    # -- frames ----------------------------------------------------------------------------
    def _arrays_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for split in SPLITS:
            x = np.asarray(getattr(self.ds, f"x_{split}"))
            y = np.asarray(getattr(self.ds, f"y_{split}"))
            rows.append({
                "split": split,
                "x_dtype": str(x.dtype),
                "y_dtype": str(y.dtype),
                "sample_shape": _shape_text(x.shape[1:]),
                "x_rows": int(x.shape[0]) if x.ndim else 0,
                "y_rows": int(y.shape[0]) if y.ndim else 0,
            })  # fmt: skip
        return pd.DataFrame(rows)

    def _classes_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for split in SPLITS:
            labels = self.frames[split]["label"].to_numpy()
            top = self.classes[-1] + 1 if self.classes else 0
            inside = labels[(labels >= 0) & (labels < top)].astype(np.int64)
            counts = np.bincount(inside, minlength=top)[self.classes]
            total = max(len(labels), 1)
            for cls, count in zip(self.classes, counts, strict=True):
                share = float(count) / total
                rows.append({"split": split, "class": cls, "count": int(count), "share": share,
                             "present_share": share if count else float("nan")})  # fmt: skip
        return pd.DataFrame(rows)

    # -- expectations ------------------------------------------------------------------------
    def run(self) -> dict[str, CheckResult]:
        checks = self.checks
        lo, hi = checks.value_range
        classes = list(self.classes)
        arrays = self._arrays_frame()
        class_frame = self._classes_frame()
        self.extra_frames = {"arrays": arrays, "classes": class_frame}
        shapes = [_shape_text(schema_shape(self.reference, self.ds))]  # the reference's only use
        array_items = [
            _Expect("data.schema", None, "ExpectColumnValuesToBeInSet",
                    {"column": "x_dtype", "value_set": ["float32"]}),
            _Expect("data.schema", None, "ExpectColumnValuesToBeInSet",
                    {"column": "y_dtype", "value_set": ["int64"]}),
            _Expect("data.schema", None, "ExpectColumnValuesToBeInSet",
                    {"column": "sample_shape", "value_set": shapes}),
            _Expect("data.schema", None, "ExpectColumnPairValuesToBeEqual",
                    {"column_A": "x_rows", "column_B": "y_rows"}),
        ]  # fmt: skip
        class_items = [
            _Expect("data.classes_present", None, "ExpectColumnValuesToBeBetween",
                    {"column": "count", "min_value": 1}),
            _Expect("data.balance", None, "ExpectColumnValuesToBeBetween",
                    {"column": "present_share",
                     "min_value": checks.class_share_floor(self.num_classes)}),
        ]  # fmt: skip
        sample_items: dict[str, list[_Expect]] = {}
        for split in SPLITS:
            minimum = checks.min_train_rows if split == "train" else checks.min_test_rows
            items = [
                _Expect("data.row_counts", split, "ExpectTableRowCountToBeBetween",
                        {"min_value": minimum}),
                _Expect("data.finite", split, "ExpectColumnValuesToBeInSet",
                        {"column": "nonfinite", "value_set": [0]}),
                _Expect("data.range", split, "ExpectColumnValuesToBeBetween",
                        {"column": "min", "min_value": lo}),
                _Expect("data.range", split, "ExpectColumnValuesToBeBetween",
                        {"column": "max", "max_value": hi}),
                _Expect("data.labels", split, "ExpectColumnValuesToBeInSet",
                        {"column": "label", "value_set": classes}),
            ]  # fmt: skip
            if split == "test":
                # Leakage as a per-sample column (index of an identical train sample, or null)
                # rather than a 60,000-value set: GX re-serialises an expectation's kwargs many
                # times per validation, which takes a minute with a set that large.
                items.append(_Expect("data.leakage", split, "ExpectColumnValuesToBeNull",
                                     {"column": "train_twin",
                                      "mostly": 1.0 - checks.max_leakage}))  # fmt: skip
            sample_items[split] = items
        custom: dict[str, list[_Expect]] = {}
        for entry in checks.expectations:
            targets = SPLITS if entry["split"] == "both" else (entry["split"],)
            frame = entry["frame"]
            keys = [f"samples.{s}" for s in targets] if frame == "samples" else [frame]
            for key in keys:
                target = key.split(".")[1] if "." in key else None
                custom.setdefault(key, []).append(
                    _Expect(CUSTOM_ID, target, entry["expectation"], dict(entry["kwargs"]))
                )

        context = _context()
        _validate(context, "arrays", arrays, array_items + custom.get("arrays", []), ["split"])
        _validate(context, "classes", class_frame, class_items + custom.get("classes", []),
                  ["split", "class"])  # fmt: skip
        for split in SPLITS:
            items = sample_items[split] + custom.get(f"samples.{split}", [])
            _validate(context, f"samples-{split}", self.frames[split], items, ["index"])

        every = array_items + class_items + [i for s in SPLITS for i in sample_items[s]]
        every += [i for items in custom.values() for i in items]
        grouped: dict[str, list[_Expect]] = {}
        for item in every:
            grouped.setdefault(item.check, []).append(item)
        results = {cid: self._result(cid, items) for cid, items in grouped.items()}
        return results

    # -- reporting ---------------------------------------------------------------------------
    def _frame(self, split: str | None) -> pd.DataFrame:
        if split is None or split not in self.frames:
            msg = f"no per-sample frame for split {split!r}"
            raise KeyError(msg)
        return self.frames[split]

    def _rows(self, split: str | None) -> int:
        return len(self.frames[split]) if split is not None and split in self.frames else 0

    def _result(self, check_id: str, items: list[_Expect]) -> CheckResult:
        failed = [i for i in items if not i.outcome.get("success", False)]
        severity = self.checks.severity_of(check_id)
        describe: Callable[[_Expect], str] = getattr(self, "_fail_" + check_id.split(".")[1],
                                                     self._fail_generic)  # fmt: skip
        count = sum(int(i.outcome.get("result", {}).get("unexpected_count") or 0) for i in items)
        threshold: float | None = 0.0
        value: float | None = float(count)
        details = DataDetails(expectations=[
            ExpectationRow(split=i.split, expectation=i.describe(),
                           success=bool(i.outcome.get("success", False)),
                           unexpected_count=i.outcome.get("result", {}).get("unexpected_count"),
                           examples=self._examples(i), error=i.outcome.get("error"))
            for i in items
        ])  # fmt: skip
        if check_id == "data.leakage":
            threshold = self.checks.max_leakage
            value = count / max(self._rows("test"), 1)
        elif check_id == "data.balance":
            threshold = self.checks.class_share_floor(self.num_classes)
            shares = self.extra_frames["classes"]["present_share"].to_numpy()
            value = float(np.nanmin(shares)) if np.isfinite(shares).any() else None
        elif check_id == "data.row_counts":
            threshold = float(min(self.checks.min_train_rows, self.checks.min_test_rows))
            value = float(min(self._rows("train"), self._rows("test")))
        if failed:
            parts = [describe(i) for i in failed]
            message = "; ".join(parts[:6])
            if len(parts) > 6:
                message += f" (+{len(parts) - 6} more)"
        else:
            message = self._passed_message(check_id, items)
        return CheckResult(check_id, "data", not failed, value, threshold, message,
                           severity=severity, details=details)  # fmt: skip

    def _examples(self, item: _Expect) -> list[Any]:
        result = item.outcome.get("result", {})
        out = []
        for entry in result.get("partial_unexpected_index_list") or []:
            if isinstance(entry, Mapping):
                keys = [k for k in ("index", "split", "class") if k in entry]
                picked = [_plain(entry[k]) for k in keys]
                out.append(picked[0] if len(picked) == 1 else picked)
            else:
                out.append(_plain(entry))
        return out[:EXAMPLES]

    def _counted(self, item: _Expect, what: str) -> str:
        result = item.outcome.get("result", {})
        n = result.get("unexpected_count") or 0
        total = result.get("element_count", self._rows(item.split))
        examples = self._examples(item)
        text = f"{item.split}: {n} of {total} samples {what} ({item.describe()})"
        if examples:
            text += f", e.g. indices {examples}"
        return text

    def _error(self, item: _Expect) -> str | None:
        error = item.outcome.get("error")
        if error is None:
            return None
        where = f"{item.split}: " if item.split else ""
        return f"{where}{item.describe()} could not be evaluated: {error}"

    def _fail_generic(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        result = item.outcome.get("result", {})
        if "unexpected_count" in result:
            return self._counted(item, "fail")
        observed = result.get("observed_value")
        where = f"{item.split}: " if item.split else ""
        return f"{where}{item.describe()} failed (observed {_plain(observed)!r})"

    def _fail_schema(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        arrays = self.extra_frames["arrays"]
        column = item.kwargs.get("column")
        bad = self._examples(item)
        if column is None:  # x_rows vs y_rows
            rows = arrays[arrays["x_rows"] != arrays["y_rows"]]
            return (
                "; ".join(
                    f"{r.split}: {r.x_rows} samples but {r.y_rows} labels ({item.describe()})"
                    for r in rows.itertuples()
                )
                or item.describe()
            )
        values = {r.split: getattr(r, column) for r in arrays.itertuples()}
        return (
            "; ".join(
                f"{split}: {column} {values.get(split)!s} not in {item.kwargs['value_set']} "
                f"({item.describe()})"
                for split in bad
            )
            or f"{item.describe()} failed"
        )

    def _fail_row_counts(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        return (
            f"{item.split} has {self._rows(item.split)} rows, expected at least "
            f"{item.kwargs['min_value']} ({item.describe()})"
        )

    def _fail_finite(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        frame = self._frame(item.split)
        nan, inf = int(frame["nan"].sum()), int(frame["inf"].sum())
        return self._counted(item, "hold NaN or inf values") + f" ({nan} NaN, {inf} inf values)"

    def _fail_range(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        if item.kwargs["column"] == "min":
            bound = item.kwargs["min_value"]
            worst = float(self._frame(item.split)["min"].min())
            return self._counted(item, f"have values below {bound:g}") + f"; lowest {worst:.4g}"
        bound = item.kwargs["max_value"]
        worst = float(self._frame(item.split)["max"].max())
        return self._counted(item, f"have values above {bound:g}") + f"; highest {worst:.4g}"

    def _fail_labels(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        values = item.outcome.get("result", {}).get("partial_unexpected_list") or []
        seen = sorted({_plain(v) for v in values}, key=str)
        return self._counted(item, f"have labels outside the class set {self.class_set}") + (
            f"; labels seen: {seen}" if seen else ""
        )

    def _fail_classes_present(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        frame = self.extra_frames["classes"]
        by_split: dict[str, list[int]] = {}
        for row in frame[frame["count"] == 0].to_dict("records"):
            by_split.setdefault(row["split"], []).append(int(row["class"]))
        parts = [
            f"{split}: {len(cls)} of {self.num_classes} classes have no sample ({item.describe()}),"
            f" e.g. classes {cls[:EXAMPLES]}"
            for split, cls in by_split.items()
        ]
        return "; ".join(parts) or f"{item.describe()} failed"

    def _fail_balance(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        frame = self.extra_frames["classes"]
        floor = item.kwargs["min_value"]
        low = frame[frame["present_share"] < floor]
        parts = []
        for split in SPLITS:
            rows = low[low["split"] == split]
            if rows.empty:
                continue
            listed = ", ".join(
                f"class {int(r['class'])} {r['share']:.1%} ({int(r['count'])} samples)"
                for r in rows.head(EXAMPLES).to_dict("records")
            )
            parts.append(
                f"{split}: {len(rows)} classes below the minimum share {floor:.1%} "
                f"({item.describe()}): {listed}"
            )
        return "; ".join(parts) or f"{item.describe()} failed"

    def _fail_leakage(self, item: _Expect) -> str:
        if (error := self._error(item)) is not None:
            return error
        twins = self.frames["test"]["train_twin"].to_numpy()
        leaked = np.flatnonzero(~np.isnan(twins))
        pairs = [f"{int(i)}={int(twins[i])}" for i in leaked[:EXAMPLES]]
        n = len(twins)
        return (
            f"test: {leaked.size} of {n} samples ({leaked.size / max(n, 1):.1%}) also appear in "
            f"train, allowed {self.checks.max_leakage:.1%} ({item.describe()}), e.g. test=train "
            f"indices {pairs}"
        )

    def _passed_message(self, check_id: str, items: list[_Expect]) -> str:
        n_train, n_test = self._rows("train"), self._rows("test")
        lo, hi = self.checks.value_range
        texts = {
            "data.schema": (
                f"float32 inputs of shape {_shape_text(np.asarray(self.ds.x_train).shape[1:])}, "
                "int64 labels, one label per sample in train and test"
            ),
            "data.row_counts": (
                f"{n_train} train rows >= {self.checks.min_train_rows}, {n_test} test rows >= "
                f"{self.checks.min_test_rows}"
            ),
            "data.finite": f"no NaN or inf in {n_train} train + {n_test} test samples",
            "data.range": (
                f"every value of {n_train} train + {n_test} test samples in [{lo:g}, {hi:g}]"
            ),
            "data.labels": f"every label in the class set {self.class_set}",
            "data.classes_present": f"all {self.num_classes} classes present in train and test",
            "data.balance": (
                f"every class holds at least "
                f"{self.checks.class_share_floor(self.num_classes):.1%} of each split"
            ),
            "data.leakage": (
                f"no test sample identical to a train sample beyond {self.checks.max_leakage:.1%}"
            ),
            CUSTOM_ID: f"{len(items)} configured expectation(s) met",
        }
        unique = list(dict.fromkeys(i.describe() for i in items))  # train and test share most
        detail = "; ".join(unique[:2]) + (" ..." if len(unique) > 2 else "")
        return f"{texts.get(check_id, check_id + ' passed')} ({detail})"


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so messages and JSON read naturally."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_scopes(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None = "auto",
) -> dict[str, list[CheckResult]]:
    """:func:`run` once per scope (see :func:`scopes`); results grouped by check id."""
    grouped: dict[str, list[CheckResult]] = {cid: [] for cid in (*CHECK_IDS, CUSTOM_ID)}
    for model, checks in scoped:
        report = run(dataset, checks, reference=reference, model=model)
        for cid, result in report.results.items():
            grouped[cid].append(result)
    return grouped
