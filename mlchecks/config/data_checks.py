"""The ``data_checks`` table of ``[tool.mlchecks]`` and its presets: one validator, no numpy.

Validated at the boundary, when settings are built (:func:`validate_table`), so a bad table is
one usage error before any data is loaded; :mod:`mlchecks.data.expectations` runs the checks.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from mlchecks.errors import ConfigError
from mlchecks.result import SEVERITIES

#: Statistics a data profile keeps per split, and how drift between two profiles is measured.
STATS = ("min", "max", "mean", "std")
DRIFT_METHODS = ("psi", "ks")

CHECK_IDS = (
    "data.schema",
    "data.row_counts",
    "data.finite",
    "data.range",
    "data.labels",
    "data.classes_present",
    "data.balance",
    "data.leakage",
    "data.drift",
)
CUSTOM_ID = "data.custom"
FRAMES = ("samples", "arrays", "classes")
SPLITS = ("train", "test")
DEFAULT_PRESET = "default"
_KEYS = {
    "preset", "description", "value_range", "num_classes", "min_class_share", "min_train_rows",
    "min_test_rows", "max_leakage", "drift_method", "max_psi", "max_ks", "drift_stats",
    "drift_labels", "profile", "expectations", "severity",
}  # fmt: skip
_EXPECTATION_KEYS = {"expectation", "kwargs", "frame", "split"}
_FRAME_COLUMNS = {
    "samples": (
        "index",
        "min",
        "max",
        "mean",
        "std",
        "nonfinite",
        "nan",
        "inf",
        "hash",
        "label",
        "train_twin",
    ),
    "arrays": ("split", "x_dtype", "y_dtype", "sample_shape", "x_rows", "y_rows"),
    "classes": ("split", "class", "count", "share", "present_share"),
}


def fixtures_dir() -> Path:
    """The shipped fixture data: inside the wheel, or ``fixtures/`` of a source checkout."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "_fixtures", here.parent / "fixtures"):
        if candidate.is_dir():
            return candidate
    msg = f"the mlchecks fixture data is missing from {here}; reinstall mlchecks"
    raise ConfigError(msg)


def preset_names() -> list[str]:
    """Names of the data-check presets shipped under ``fixtures/data_checks/``."""
    return sorted(p.stem for p in (fixtures_dir() / "data_checks").glob("*.json"))


def load_preset(name: str, root: Path | None = None) -> dict[str, Any]:
    """A data-check preset: a shipped name (``default``, ...) or a path to a JSON file.

    Raises:
        ConfigError: unknown name, unreadable file, or invalid content.
    """
    if name.endswith(".json") or "/" in name or os.sep in name:
        path = _resolve(name, root or Path.cwd())
    else:
        path = fixtures_dir() / "data_checks" / f"{name}.json"
        if not path.is_file():
            msg = (
                f"data_checks preset {name!r} is unknown; expected one of {preset_names()} or a "
                "path to a .json file"
            )
            raise ConfigError(msg)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"data_checks preset {path} cannot be read ({exc.strerror}); give an existing file"
        raise ConfigError(msg) from None
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"data_checks preset {path} is not valid JSON ({exc}); fix the file"
        raise ConfigError(msg) from None
    except RecursionError:
        msg = f"data_checks preset {path} is nested too deep to read; fix the file"
        raise ConfigError(msg) from None
    return validate_table(data, f"data_checks preset {path}", root=path.parent, is_preset=True)


def _resolve(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def validate_table(
    table: Any, where: str, root: Path | None = None, is_preset: bool = False
) -> dict[str, Any]:
    """Check a ``data_checks`` table (config or preset); return it with lists as tuples.

    Args:
        table: the raw table.
        where: how to name it in messages, e.g. ``[tool.mlchecks.data_checks] of pyproject.toml``.
        root: folder relative profile paths are resolved against when checking they exist.
            Defaults to not checking.
        is_preset: presets may not name another preset. Defaults to False.

    Raises:
        ConfigError: naming the key, the value, what was expected and how to fix it.
    """
    if not isinstance(table, Mapping):
        msg = f"{where} must be a table, got {table!r}"
        raise ConfigError(msg)
    unknown = set(table) - _KEYS - ({"preset"} if is_preset else set())
    if unknown or (is_preset and "preset" in table):
        bad = sorted(unknown | ({"preset"} if is_preset and "preset" in table else set()))
        msg = f"unknown key(s) {bad} in {where}; expected some of {sorted(_KEYS)}"
        raise ConfigError(msg)
    clean: dict[str, Any] = {}
    for key, value in table.items():
        clean[key] = _validate_value(key, value, where, root)
    return clean


def _validate_value(key: str, value: Any, where: str, root: Path | None) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{key} in {where} must be {expected}, got {value!r}")

    def number(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)

    if key in ("preset", "description"):
        if not isinstance(value, str) or not value.strip():
            raise fail("a non-empty string")
        if key == "preset":
            load_preset(value, root)  # unknown or broken presets are bad config: fail early
        return value
    if key == "value_range":
        ok = isinstance(value, list | tuple) and len(value) == 2 and all(number(v) for v in value)
        if not ok or value[0] >= value[1]:
            raise fail("[low, high] with low < high, e.g. [0, 1] or [0, 255]")
        return (float(value[0]), float(value[1]))
    if key == "num_classes":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 1_000_000:
            raise fail("an integer >= 2 (the class ids are 0 .. num_classes - 1)")
        return value
    if key in ("min_class_share", "max_leakage", "max_ks"):
        if value is None and key == "min_class_share":
            return None
        if not number(value) or not 0.0 <= value <= 1.0:
            raise fail("a fraction in [0, 1]")
        return float(value)
    if key in ("min_train_rows", "min_test_rows"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail("an integer >= 0")
        return value
    if key == "max_psi":
        if not number(value) or value < 0:
            raise fail("a number >= 0 (0.1: minor shift, 0.25: significant shift)")
        return float(value)
    if key == "drift_method":
        if value not in DRIFT_METHODS:
            raise fail(f"one of {DRIFT_METHODS}")
        return value
    if key == "drift_stats":
        if not isinstance(value, list | tuple) or not all(v in STATS for v in value):
            raise fail(f"a list of some of {STATS}")
        return tuple(value)
    if key == "drift_labels":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if key == "profile":
        if not isinstance(value, str) or not value.strip():
            raise fail('"auto", "none", or a path to a data profile JSON file')
        if (
            value not in ("auto", "none")
            and root is not None
            and not _resolve(value, root).is_file()
        ):
            msg = (
                f"profile in {where} names {value!r}, which does not exist under {root}; write it "
                'with mlchecks.data.profile.profile(dataset) or use "auto" / "none"'
            )
            raise ConfigError(msg)
        return value
    if key == "severity":
        if not isinstance(value, Mapping):
            raise fail('a table of check id -> "error" | "warning" | "info"')
        for check_id, level in value.items():
            if check_id not in (*CHECK_IDS, CUSTOM_ID) or level not in SEVERITIES:
                msg = (
                    f"severity in {where} has {check_id!r} = {level!r}; expected check ids from "
                    f"{[*CHECK_IDS, CUSTOM_ID]} with one of {SEVERITIES}"
                )
                raise ConfigError(msg)
        return dict(value)
    if key == "expectations":
        if not isinstance(value, list | tuple):
            raise fail("an array of tables ([[tool.mlchecks.data_checks.expectations]])")
        return tuple(_validate_expectation(e, f"expectations[{i}] in {where}")
                     for i, e in enumerate(value))  # fmt: skip
    raise fail("a known key")  # pragma: no cover - unknown keys are rejected before


def _validate_expectation(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        msg = f"{where} must be a table with expectation, kwargs, frame, split; got {entry!r}"
        raise ConfigError(msg)
    unknown = set(entry) - _EXPECTATION_KEYS
    if unknown:
        msg = f"unknown key(s) {sorted(unknown)} in {where}; expected {sorted(_EXPECTATION_KEYS)}"
        raise ConfigError(msg)
    name = entry.get("expectation")
    if not isinstance(name, str) or not _gx_expectation_exists(name):
        msg = (
            f"expectation {name!r} in {where} is not a Great Expectations expectation; give a "
            'class name from great_expectations.expectations, e.g. "ExpectColumnMeanToBeBetween"'
        )
        raise ConfigError(msg)
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, Mapping):
        msg = f"kwargs in {where} must be a table of keyword arguments, got {kwargs!r}"
        raise ConfigError(msg)
    _check_column_kwargs(kwargs, where)
    frame = entry.get("frame", "samples")
    if frame not in FRAMES:
        msg = f"frame in {where} must be one of {FRAMES}, got {frame!r}; columns: " + "; ".join(
            f"{f}: {', '.join(c)}" for f, c in _FRAME_COLUMNS.items()
        )
        raise ConfigError(msg)
    split = entry.get("split", "both")
    if split not in (*SPLITS, "both"):
        msg = f"split in {where} must be one of {(*SPLITS, 'both')}, got {split!r}"
        raise ConfigError(msg)
    return {"expectation": name, "kwargs": dict(kwargs), "frame": frame, "split": split}


# GX keyword arguments naming frame columns: one column name, or a list of them
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list", "column_set")


def _check_column_kwargs(kwargs: Mapping[str, Any], where: str) -> None:
    """Types GX does not check before it uses them (a column that is not a string breaks
    every data test); whether the column exists is the check's own finding."""
    if "meta" in kwargs:
        msg = f"kwargs in {where} may not set 'meta' (mlchecks sets it); remove it"
        raise ConfigError(msg)
    for key in _COLUMN_KWARGS:
        if key in kwargs and not isinstance(kwargs[key], str):
            msg = (
                f"kwargs.{key} in {where} must be a column name (a string), got "
                f"{kwargs[key]!r}; columns: "
                + "; ".join(f"{f}: {', '.join(c)}" for f, c in _FRAME_COLUMNS.items())
            )
            raise ConfigError(msg)
    for key in _COLUMN_LIST_KWARGS:
        value = kwargs.get(key)
        if key in kwargs and not (
            isinstance(value, list | tuple) and all(isinstance(c, str) for c in value)
        ):
            msg = f"kwargs.{key} in {where} must be a list of column names, got {value!r}"
            raise ConfigError(msg)


def _snake(name: str) -> str:
    if name.startswith("expect_"):
        return name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _gx_expectation_exists(name: str) -> bool:
    """Whether GX ships this expectation, by its module file: no import of GX (seconds) here."""
    if not re.fullmatch(r"Expect[A-Za-z]+|expect_[a-z_]+", name):
        return False
    spec = find_spec("great_expectations")
    if spec is None or not spec.submodule_search_locations:
        return True  # GX missing altogether: reported when the checks run
    folder = Path(next(iter(spec.submodule_search_locations))) / "expectations" / "core"
    return (folder / f"{_snake(name)}.py").is_file()
