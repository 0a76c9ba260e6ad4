"""``[tool.mlchecks]`` (or ``mlchecks.toml``) -> one frozen :class:`Settings`.

Settings are built once, at the boundary (CLI or pytest plugin), and passed to everything else.
Nothing here imports pytest or keras.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlchecks.errors import ConfigError

BACKENDS = ("tensorflow", "jax", "torch")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
REGRESSION_MODES = ("significant", "strict")
# How a lineage learns (README "Continual learning"): "domain" (and task-incremental) lineages
# keep their classes and must not forget (max_forgetting per earlier holdout); "class" lineages
# learn new classes and may lose some accuracy on old ones within the forgetting budget.
SCENARIOS = ("domain", "class")

# The one rule for a model / lineage name, checked when the config is read (before any work)
# and again by the registry, which must never let a name escape its folder.
NAME_RULE = (
    "1 to 100 ASCII letters, digits, '.', '-' or '_', starting with a letter or digit, without '..'"
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_valid_name(value: object) -> bool:
    """Whether ``value`` is a valid model / lineage name (see :data:`NAME_RULE`)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None and ".." not in value


def lineage_name(name: str, model: str) -> str:
    """The registry lineage of configured model ``model`` under run name ``name``: the
    model's own name, or ``<name>.<model>`` when a name other than the default is set."""
    return model if model == name or name == "default" else f"{name}.{model}"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Check thresholds. ``None`` means "use the documented default rule".

    Accuracy figures are fractions in [0, 1]; ``*_drop`` and ``max_forgetting`` are percentage
    points, as on the command line.
    """

    min_accuracy: float | None = None
    min_class_recall: float | None = None
    max_ece: float | None = None
    max_loss: float | None = None
    confidence: float = 0.95
    max_accuracy_drop: float = 0.5
    max_class_recall_drop: float = 3.0
    max_flip_rate: float | None = None
    max_forgetting: float = 1.0
    # scenario "class": the margin of each earlier holdout (and of the champion's holdout when
    # new classes arrive), and the floor on backward transfer, both in pp. Measured on
    # class-incremental Split MNIST (benchmarks/class_incremental.py, seeds 0-4): replay with
    # 100 samples per old digit forgets at most 26.7 pp of a holdout, BWT >= -15.8 pp;
    # fine-tuning forgets >= 97.5 pp, BWT <= -98.5 pp at every step.
    forgetting_budget: float = 50.0
    min_backward_transfer: float = -30.0
    speed_tolerance: float = 0.25
    # speed.training's A/B measures at least speed_min_rounds interleaved rounds, raising its
    # 3 s budget for them, up to speed_max_budget_s seconds, when the steps are slow
    # (mlchecks.measure.ab.ABPlan).
    speed_min_rounds: int = 8
    speed_max_budget_s: float = 30.0
    regression_mode: str = "significant"
    alpha: float = 0.05
    # behaviour.noise: perturbations up to noise_scale x the data's value range may flip at
    # most max_noise_flip_rate of the confident test predictions.
    noise_scale: float = 0.05
    max_noise_flip_rate: float = 0.02


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model under test: a zoo name, a ``module:function`` builder, or a ``.keras`` file."""

    name: str
    builder: str = "mlp"
    path: str | None = None
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float | None = None
    min_accuracy: float | Mapping[str, float] | None = None
    # Load this model with Keras safe mode off (code in the file may run). Set only by the
    # command line's --trust-candidate, never from a config file.
    trusted: bool = False
    # the file a candidate was copied from (the gate judges a private copy, ``path``)
    origin: str | None = None
    # This model's overrides of [tool.mlchecks.data_checks] (see mlchecks.data.expectations).
    data_checks: Mapping[str, Any] | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None

    def min_accuracy_for(self, backend: str) -> float | None:
        """The configured absolute accuracy floor for ``backend``, if any."""
        if isinstance(self.min_accuracy, Mapping):
            value = self.min_accuracy.get(backend)
            return None if value is None else float(value)
        return self.min_accuracy

    def cache_fields(self) -> dict[str, Any]:
        """What identifies the trained artefact (everything but thresholds)."""
        return {
            "builder": self.builder,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
        }


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, frozen. Build it with :func:`load_settings`."""

    models: tuple[ModelSpec, ...]
    data: str = "digits"
    seed: int = 0
    deterministic: bool = True
    seeds: int = 1
    thresholds: Thresholds = dataclasses.field(default_factory=Thresholds)
    name: str = "default"
    registry: str = ".mlchecks/registry"
    reports: str = "reports"
    cache_dir: str = ".mlchecks/cache"
    root: str = "."
    source: str = "<defaults>"
    # [tool.mlchecks.data_checks], validated by mlchecks.config.data_checks.validate_table.
    data_checks: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # Resource limits on the files handed to a run (None: the documented defaults,
    # mlchecks.model.archive.MAX_PARAMETERS and mlchecks.data.dataset.MAX_DATA_BYTES).
    max_parameters: int | None = None
    max_data_bytes: int | None = None
    # The classes the data holds (mlchecks.data.dataset.declare_classes): a count N (ids
    # 0..N-1), class names, or a tuple of class ids (a subset of the lineage's class space).
    classes: int | tuple[str, ...] | tuple[int, ...] | None = None
    # "domain" (default) or "class" (class-incremental lineages: the forgetting budget).
    scenario: str = "domain"

    def resolve(self, path: str) -> Path:
        """A configured path, relative to the folder holding the config file."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.root) / p

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


DEFAULT_MODELS = (ModelSpec(name="mlp", builder="mlp", epochs=20, min_accuracy=None),)

_SETTINGS_KEYS = {f.name for f in dataclasses.fields(Settings)} - {"root", "source"}
_MODEL_KEYS = {f.name for f in dataclasses.fields(ModelSpec)} - {"trusted"}
_THRESHOLD_KEYS = {f.name for f in dataclasses.fields(Thresholds)}


def find_config(start: Path) -> Path | None:
    """The nearest ``mlchecks.toml``, or ``pyproject.toml`` with a ``[tool.mlchecks]`` table."""
    for folder in (start, *start.parents):
        candidate = folder / "mlchecks.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                table = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, RecursionError):
                return pyproject  # reported properly by read_table
            if "mlchecks" in table.get("tool", {}):
                return pyproject
    return None


def read_table(path: Path) -> dict[str, Any]:
    """The mlchecks table of ``path`` (whole file for mlchecks.toml)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"config file {path} is not valid TOML ({exc}); fix the syntax"
        raise ConfigError(msg) from None
    except RecursionError:
        msg = f"config file {path} is nested too deep to read; fix the file"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"config file {path} cannot be read ({exc.strerror})"
        raise ConfigError(msg) from None
    if path.name == "mlchecks.toml":
        return data
    table = data.get("tool", {}).get("mlchecks", {})
    if not isinstance(table, dict):
        msg = f"[tool.mlchecks] in {path} must be a table, got {type(table).__name__}"
        raise ConfigError(msg)
    return table


def load_settings(
    start: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from the nearest config file and explicit overrides.

    Args:
        start: folder to search upwards from. Defaults to the current directory.
        overrides: values from the command line; keys are Settings fields or threshold names.
            ``None`` values are ignored. Defaults to no overrides.
        config_file: an explicit config file instead of searching. Defaults to searching.

    Raises:
        ConfigError: the file or an override is invalid; the message says which key and why.
    """
    start = (start or Path.cwd()).resolve()
    path = config_file if config_file is not None else find_config(start)
    table: dict[str, Any] = read_table(path) if path is not None else {}
    root = str(path.parent) if path is not None else str(start)
    source = str(path) if path is not None else "<defaults>"
    if path is not None:  # builders ("mymodels:build") import from the project root
        from mlchecks.config.project import make_importable

        make_importable(root)
    return settings_from_table(table, overrides or {}, root=root, source=source)


def settings_from_table(
    table: Mapping[str, Any],
    overrides: Mapping[str, Any],
    root: str = ".",
    source: str = "<table>",
) -> Settings:
    """Validate a raw ``[tool.mlchecks]`` table plus overrides into :class:`Settings`."""
    if not isinstance(table, Mapping):
        msg = f"[tool.mlchecks] in {source} must be a table, got {type(table).__name__}"
        raise ConfigError(msg)
    unknown = set(table) - _SETTINGS_KEYS
    if unknown:
        msg = (
            f"unknown key(s) {sorted(unknown)} in [tool.mlchecks] of {source}; "
            f"expected some of {sorted(_SETTINGS_KEYS)}"
        )
        raise ConfigError(msg)
    overrides = {k: v for k, v in overrides.items() if v is not None}

    raw_thresholds = table.get("thresholds", {})
    if not isinstance(raw_thresholds, Mapping):
        msg = f"[tool.mlchecks.thresholds] in {source} must be a table"
        raise ConfigError(msg)
    threshold_values = dict(raw_thresholds)
    for key in list(overrides):
        if key in _THRESHOLD_KEYS:
            threshold_values[key] = overrides.pop(key)
    thresholds = _thresholds(threshold_values, source)

    raw_models = overrides.pop("models", None) or table.get("models")
    models = DEFAULT_MODELS if raw_models is None else _models(raw_models, source)

    def origin(key: str) -> str:  # blame the command line for what came from it
        return f"the command line (--{key.replace('_', '-')})" if key in overrides else source

    kwargs: dict[str, Any] = {}
    name_from = origin("name")
    for key in ("data", "name", "registry", "reports", "cache_dir"):
        where = origin(key)
        value = overrides.pop(key, table.get(key))
        if value is not None:
            kwargs[key] = _string(key, value, where)
    where = origin("seed")
    seed = overrides.pop("seed", table.get("seed", 0))
    kwargs["seed"] = _integer("seed", seed, where, minimum=0, maximum=2**32 - 1)
    where = origin("deterministic")
    deterministic = overrides.pop("deterministic", table.get("deterministic", True))
    if not isinstance(deterministic, bool):
        msg = f"deterministic in {where} must be true or false, got {deterministic!r}"
        raise ConfigError(msg)
    kwargs["deterministic"] = deterministic
    where = origin("seeds")
    seeds = overrides.pop("seeds", table.get("seeds", 1))
    kwargs["seeds"] = _integer("seeds", seeds, where, minimum=1, maximum=100)
    where = origin("classes")
    classes = overrides.pop("classes", table.get("classes"))
    if classes is not None:
        kwargs["classes"] = parse_classes(classes, where)
    where = origin("scenario")
    scenario = overrides.pop("scenario", table.get("scenario"))
    if scenario is not None:
        if scenario not in SCENARIOS:
            msg = (
                f"scenario in {where} must be one of {SCENARIOS} (README: Continual "
                f"learning), got {scenario!r}"
            )
            raise ConfigError(msg)
        kwargs["scenario"] = scenario
    for key in ("max_parameters", "max_data_bytes"):
        if key in table:
            kwargs[key] = _integer(key, table[key], origin(key), minimum=1, maximum=2**62)
    if "data_checks" in table:
        from mlchecks.config.data_checks import validate_table  # numpy only; GX stays lazy

        where = f"[tool.mlchecks.data_checks] of {source}"
        kwargs["data_checks"] = validate_table(table["data_checks"], where, root=Path(root))
    if overrides:
        msg = f"unknown override(s) {sorted(overrides)}"
        raise ConfigError(msg)
    name = kwargs.get("name", "default")
    _check_name("name", name, name_from)
    for spec in models:  # every registry lineage this config names, before any work
        lineage = lineage_name(name, spec.name)
        if not is_valid_name(lineage):
            msg = (
                f"name {name!r} ({name_from}) with model {spec.name!r} makes registry lineage "
                f"{lineage!r}, which is not a valid name; use {NAME_RULE}: shorten the name or "
                "the model's name"
            )
            raise ConfigError(msg)
    return Settings(models=models, thresholds=thresholds, root=root, source=source, **kwargs)


MAX_DECLARED_CLASSES = 100_000  # as mlchecks.data.dataset.MAX_CLASSES (config imports no data)


def parse_classes(value: Any, source: str) -> int | tuple[str, ...] | tuple[int, ...]:
    """``classes``: a count N (``10``, ``"10"``), class ids (``[4, 5]``, ``"4,5"``, ``"4-5"``,
    ``"0-3,8"``) or class names (``["cat", "dog"]``, ``"cat,dog"``); ids are what a list of
    whole numbers is.

    Raises:
        ConfigError: naming the value and the forms accepted.
    """
    expected = (
        "a class count (classes = 10), class ids (classes = [4, 5] or --classes 4-5) or class "
        'names (classes = ["cat", "dog"])'
    )
    fail = ConfigError(f"classes in {source} must be {expected}, got {value!r}")
    if isinstance(value, bool):
        raise fail
    if isinstance(value, int):
        if not 2 <= value <= MAX_DECLARED_CLASSES:
            msg = (
                f"classes in {source} must count 2 to {MAX_DECLARED_CLASSES:,} classes, got {value}"
            )
            raise ConfigError(msg)
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return parse_classes(int(text), source)
        parts = [p.strip() for p in text.split(",")]
        if not text or any(not p for p in parts):
            raise fail
        if all(re.fullmatch(r"\d+(-\d+)?", p) for p in parts):
            ids: list[int] = []
            for part in parts:
                lo, _, hi = part.partition("-")
                first, last = int(lo), int(hi or lo)
                if last < first or last >= MAX_DECLARED_CLASSES:
                    raise fail
                ids.extend(range(first, last + 1))
            value = ids
        else:
            value = parts
    if not isinstance(value, list | tuple) or not value:
        raise fail
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if any(not 0 <= v < MAX_DECLARED_CLASSES for v in value) or len(set(value)) != len(value):
            msg = (
                f"classes in {source}: class ids must be distinct, 0 to "
                f"{MAX_DECLARED_CLASSES - 1:,}, got {list(value)}"
            )
            raise ConfigError(msg)
        return tuple(sorted(int(v) for v in value))
    if all(isinstance(v, str) and v.strip() for v in value):
        names = tuple(v.strip() for v in value)
        if len(names) < 2 or len(set(names)) != len(names):
            msg = (
                f"classes in {source}: class names must be 2 or more distinct names, got "
                f"{list(value)}"
            )
            raise ConfigError(msg)
        return names
    raise fail


def _string(key: str, value: Any, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = f"{key} in {source} must be a non-empty string, got {value!r}"
        raise ConfigError(msg)
    return value


def _check_name(key: str, value: str, source: str) -> None:
    if not is_valid_name(value):
        msg = f"{key} {value!r} in {source} is not a valid name; use {NAME_RULE} (e.g. mnist-mlp)"
        raise ConfigError(msg)


def _number(key: str, value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{key} in {source} must be a finite number, got {value!r}"
        raise ConfigError(msg)
    return float(value)


def _integer(key: str, value: Any, source: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        msg = f"{key} in {source} must be an integer in [{minimum}, {maximum}], got {value!r}"
        raise ConfigError(msg)
    return value


def _fraction(key: str, value: Any, source: str) -> float:
    number = _number(key, value, source)
    if not 0.0 <= number <= 1.0:
        msg = f"{key} in {source} must be a fraction in [0, 1], got {value!r}"
        raise ConfigError(msg)
    return number


def _thresholds(values: Mapping[str, Any], source: str) -> Thresholds:
    unknown = set(values) - _THRESHOLD_KEYS
    if unknown:
        msg = (
            f"unknown threshold(s) {sorted(unknown)} in {source}; "
            f"expected some of {sorted(_THRESHOLD_KEYS)}"
        )
        raise ConfigError(msg)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key in (
            "min_accuracy",
            "min_class_recall",
            "max_ece",
            "max_flip_rate",
            "noise_scale",
            "max_noise_flip_rate",
        ):
            clean[key] = _fraction(key, value, source)
        elif key in ("confidence",):
            clean[key] = _fraction(key, value, source)
            if not 0.5 <= clean[key] < 1.0:
                msg = f"confidence in {source} must be in [0.5, 1), got {value!r}"
                raise ConfigError(msg)
        elif key == "alpha":
            clean[key] = _fraction(key, value, source)
            if not 0.0 < clean[key] < 0.5:
                msg = f"alpha in {source} must be in (0, 0.5), got {value!r}"
                raise ConfigError(msg)
        elif key in (
            "max_accuracy_drop",
            "max_class_recall_drop",
            "max_forgetting",
            "forgetting_budget",
        ):
            number = _number(key, value, source)
            if not 0.0 <= number <= 100.0:
                msg = f"{key} in {source} is in percentage points: expected 0..100, got {value!r}"
                raise ConfigError(msg)
            clean[key] = number
        elif key == "min_backward_transfer":
            number = _number(key, value, source)
            if not -100.0 <= number <= 0.0:
                msg = (
                    f"{key} in {source} is in percentage points: expected -100..0 (a floor on "
                    f"the mean change of earlier holdouts' accuracy), got {value!r}"
                )
                raise ConfigError(msg)
            clean[key] = number
        elif key in ("max_loss", "speed_tolerance"):
            number = _number(key, value, source)
            if number < 0:
                msg = f"{key} in {source} must be >= 0, got {value!r}"
                raise ConfigError(msg)
            clean[key] = number
        elif key == "speed_min_rounds":
            clean[key] = _integer(key, value, source, minimum=1, maximum=10_000)
        elif key == "speed_max_budget_s":
            number = _number(key, value, source)
            if not 3.0 <= number <= 3600.0:
                msg = (
                    f"{key} in {source} is the most seconds the speed A/B may take: expected "
                    f"3 (its planned budget) .. 3600, got {value!r}"
                )
                raise ConfigError(msg)
            clean[key] = number
        elif key == "regression_mode":
            if value not in REGRESSION_MODES:
                msg = (
                    f"regression_mode in {source} must be one of {REGRESSION_MODES}, got {value!r}"
                )
                raise ConfigError(msg)
            clean[key] = value
    return Thresholds(**clean)


def _models(raw: Any, source: str) -> tuple[ModelSpec, ...]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not raw:
        msg = f"models in {source} must be a non-empty array of tables ([[tool.mlchecks.models]])"
        raise ConfigError(msg)
    specs: list[ModelSpec] = []
    for index, entry in enumerate(raw):
        if isinstance(entry, ModelSpec):
            specs.append(entry)
            continue
        where = f"models[{index}] in {source}"
        if not isinstance(entry, Mapping):
            msg = f"{where} must be a table, got {entry!r}"
            raise ConfigError(msg)
        unknown = set(entry) - _MODEL_KEYS
        if unknown:
            msg = (
                f"unknown key(s) {sorted(unknown)} in {where}; "
                f"expected some of {sorted(_MODEL_KEYS)}"
            )
            raise ConfigError(msg)
        fields: dict[str, Any] = {}
        name = entry.get("name", entry.get("builder", "model"))
        fields["name"] = _string("name", name, where)
        _check_name("name", fields["name"], where)
        for key in ("builder", "path"):
            if key in entry:
                fields[key] = _string(key, entry[key], where)
        for key, upper in (("epochs", 10_000), ("batch_size", 1_000_000)):
            if key in entry:
                fields[key] = _integer(key, entry[key], where, minimum=1, maximum=upper)
        if "optimizer" in entry:
            if entry["optimizer"] not in OPTIMIZERS:
                msg = (
                    f"optimizer in {where} must be one of {OPTIMIZERS}, got {entry['optimizer']!r}"
                )
                raise ConfigError(msg)
            fields["optimizer"] = entry["optimizer"]
        if "learning_rate" in entry:
            lr = _number("learning_rate", entry["learning_rate"], where)
            if lr <= 0:
                msg = f"learning_rate in {where} must be > 0, got {lr!r}"
                raise ConfigError(msg)
            fields["learning_rate"] = lr
        if "min_accuracy" in entry:
            value = entry["min_accuracy"]
            if isinstance(value, Mapping):
                bad = set(value) - set(BACKENDS)
                if bad:
                    msg = (
                        f"min_accuracy in {where} has unknown backend(s) {sorted(bad)}; "
                        f"use {BACKENDS}"
                    )
                    raise ConfigError(msg)
                fields["min_accuracy"] = {
                    k: _fraction(f"min_accuracy.{k}", v, where) for k, v in value.items()
                }
            else:
                fields["min_accuracy"] = _fraction("min_accuracy", value, where)
        if "data_checks" in entry:
            from mlchecks.config.data_checks import validate_table

            fields["data_checks"] = validate_table(entry["data_checks"], f"data_checks of {where}")
        specs.append(ModelSpec(**fields))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        msg = f"model names in {source} must be unique, got {names}"
        raise ConfigError(msg)
    return tuple(specs)


def active_backend() -> str:
    """The Keras backend that will be used, without importing keras."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        return backend
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        import json

        value = json.loads(config.read_text()).get("backend")
        if isinstance(value, str):
            return value
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    return "tensorflow"
