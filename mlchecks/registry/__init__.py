"""The model registry: one lineage of numbered versions per model name, and a champion pointer.

A small protocol (:class:`Registry`) with two backends; :func:`open_registry` picks one from a
URI or folder: a local folder (the embedded default, ``.mlchecks/registry``,
:mod:`mlchecks.registry.local`) or an MLflow Model Registry server
(``mlflow+http://HOST:PORT``, :mod:`mlchecks.registry.mlflow`). Checks read through
:class:`ReadOnlyRegistry`; only the gate's promotion step writes. No pytest, no keras.

What a version holds (:class:`VersionRecord`): the ``.keras`` file and its sha256, metrics and
check results of the gate that accepted it, the data fingerprint and profile, its **holdout**
(the test split of the data it was gated on, stored once per lineage by content hash), its
predictions on that holdout and on every earlier version's holdout (so a later gate compares
against it without loading it), the environment and the time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlchecks.config import NAME_RULE, is_valid_name
from mlchecks.errors import GateExit, RegistryError

__all__ = [
    "ChampionChanged",
    "Holdout",
    "LineageState",
    "NewVersion",
    "ReadOnlyRegistry",
    "Registry",
    "RegistryUnavailable",
    "VersionEntry",
    "VersionRecord",
    "holdout_digest",
    "holdout_id",
    "open_registry",
    "rollback_target",
    "sha256_file",
    "validate_name",
    "validate_version",
]

FORMAT = 1
_VERSION = re.compile(r"\d{4,9}")
_HOLDOUT = re.compile(r"[0-9a-f]{16}")
_SHA = re.compile(r"[0-9a-f]{64}")


class ChampionChanged(RegistryError):
    """Promotion lost a race: the champion moved after the gate read it (another gate
    promoted meanwhile). Exit 3: the candidate is not at fault and nothing was made champion;
    rerunning the same gate judges it against the new champion ("re-gate")."""

    exit_code = GateExit.INTERNAL_ERROR


class RegistryUnavailable(RegistryError):
    """The registry server cannot be reached or failed (exit 3: retry later)."""

    exit_code = GateExit.INTERNAL_ERROR


def validate_name(name: Any) -> str:
    """A lineage name, by the one name rule of :func:`mlchecks.config.is_valid_name` (the
    config refuses the same names when it is read, before any work): no path separators, not
    ``..``, so a name can never escape the registry folder.

    Raises:
        RegistryError: anything else.
    """
    if not is_valid_name(name):
        msg = f"model name {name!r} is not valid; use {NAME_RULE} (e.g. --name mnist-mlp)"
        raise RegistryError(msg)
    return name


def validate_version(version: Any) -> str:
    """A version id: 4 to 9 digits (``0001``). ``"7"`` is accepted and padded."""
    if isinstance(version, int) and not isinstance(version, bool) and 0 < version < 10**9:
        return f"{version:04d}"
    if isinstance(version, str) and version.isdigit() and 0 < int(version) < 10**9:
        return f"{int(version):04d}"
    msg = f"version {version!r} is not valid; expected a version number such as 0003"
    raise RegistryError(msg)


def validate_holdout_id(value: Any) -> str:
    if not isinstance(value, str) or not _HOLDOUT.fullmatch(value):
        msg = f"holdout id {value!r} is not valid; expected 16 hex digits"
        raise RegistryError(msg)
    return value


def json_safe(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _arrays_hash(x: np.ndarray, y: np.ndarray) -> Any:
    h = hashlib.sha256()
    for key, arr in (("x", x), ("y", y)):
        arr = np.ascontiguousarray(arr)
        h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
        h.update(memoryview(arr).cast("B"))  # type: ignore[arg-type]
    return h


def holdout_id(x: np.ndarray, y: np.ndarray) -> str:
    """Content hash of a holdout (inputs and labels: dtype, shape, bytes), 16 hex digits."""
    return str(_arrays_hash(x, y).hexdigest()[:16])


def holdout_digest(
    x: np.ndarray, y: np.ndarray, num_classes: int, class_names: tuple[str, ...]
) -> str:
    """sha256 of every field a holdout file stores: the arrays (as :func:`holdout_id`, in full)
    and ``num_classes`` and ``class_names``, which the id leaves out. The lineage index keeps
    it per holdout, so an edited class count or class name is detected, not used."""
    h = _arrays_hash(x, y)
    h.update(json.dumps([int(num_classes), [str(c) for c in class_names]]).encode())
    return str(h.hexdigest())


@dataclasses.dataclass(frozen=True, eq=False)
class Holdout:
    """A labelled sample set a version was judged on, identified by its content hash."""

    id: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    class_names: tuple[str, ...] = ()

    @classmethod
    def from_arrays(
        cls, x: np.ndarray, y: np.ndarray, num_classes: int, class_names: tuple[str, ...] = ()
    ) -> Holdout:
        return cls(holdout_id(x, y), x, y, num_classes, tuple(class_names))

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclasses.dataclass(frozen=True, eq=False)
class NewVersion:
    """What a gate hands the registry to promote.

    Attributes:
        model_file: the judged ``.keras`` file (copied into the registry).
        model_sha256: its sha256 when it was judged; promotion refuses a file that changed.
        holdout: the test split it was gated on (becomes this version's holdout).
        predictions: predicted class ids per holdout id: this holdout and every earlier one.
        metrics: figures of this version (accuracy, class recall, ... and other checks' values).
        checks: the gate's check results (JSON form) for this model.
        data: dataset name and fingerprint.
        data_profile: the data profile later drift checks compare with (or ``None``).
        environment: Keras/backend/device versions.
    """

    model_file: Path
    model_sha256: str
    holdout: Holdout
    predictions: Mapping[str, np.ndarray]
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    checks: tuple[Mapping[str, Any], ...] = ()
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data_profile: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class VersionRecord:
    """One stored version (``version.json``); immutable once written."""

    name: str
    version: str
    created: str
    model_sha256: str
    model_bytes: int
    holdout: str
    parent: str | None
    files: dict[str, str]
    metrics: dict[str, Any]
    checks: list[dict[str, Any]]
    data: dict[str, Any]
    data_profile: dict[str, Any] | None
    environment: dict[str, Any]
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str) -> VersionRecord:
        try:
            fields = {f.name for f in dataclasses.fields(cls)}
            record = cls(**{k: v for k, v in data.items() if k in fields})
            validate_name(record.name)
            validate_version(record.version)
            validate_holdout_id(record.holdout)
            if not _SHA.fullmatch(record.model_sha256) or not isinstance(record.files, dict):
                raise ValueError("bad sha256 or files")
        except (TypeError, ValueError, AttributeError, RegistryError) as exc:
            msg = f"version record {where} is malformed ({exc}); the registry is damaged"
            raise RegistryError(msg) from None
        return record

    def check(self, check_id: str) -> dict[str, Any] | None:
        """The stored result of ``check_id`` at this version's gate (``None`` if absent)."""
        return next((c for c in self.checks if c.get("id") == check_id), None)


@dataclasses.dataclass(frozen=True)
class VersionEntry:
    """A version as listed in the lineage index."""

    version: str
    sha256: str  # of version.json: the index vouches for the record, the record for its files
    created: str
    retired: bool = False


@dataclasses.dataclass(frozen=True)
class LineageState:
    """The lineage index: versions, champion pointer and history, read atomically.

    ``holdouts`` maps each holdout id to its :func:`holdout_digest`. ``checksummed`` is False
    for an index written before indexes carried a checksum (read as is; the next write adds the
    checksum and the holdout digests).
    """

    name: str
    champion: str | None
    versions: tuple[VersionEntry, ...]
    history: tuple[dict[str, Any], ...]
    holdouts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    checksummed: bool = True

    @property
    def active(self) -> tuple[VersionEntry, ...]:
        """Versions not retired by a rollback (they count as earlier accepted versions)."""
        return tuple(v for v in self.versions if not v.retired)

    def entry(self, version: str) -> VersionEntry | None:
        return next((v for v in self.versions if v.version == version), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "champion": self.champion,
            "versions": [dataclasses.asdict(v) for v in self.versions],
            "history": list(self.history),
            "holdouts": dict(sorted(self.holdouts.items())),
        }


class Registry(Protocol):
    """What the gate, the suites and ``mlchecks registry`` need from a model registry."""

    location: str

    def names(self) -> list[str]: ...
    def state(self, name: str) -> LineageState: ...
    def record(self, name: str, version: str) -> VersionRecord: ...
    def model_path(self, name: str, version: str) -> Path: ...
    def holdout(self, name: str, holdout: str) -> Holdout: ...
    def predictions(self, name: str, version: str) -> dict[str, np.ndarray]: ...
    def promote(
        self, name: str, new: NewVersion, expected_champion: str | None
    ) -> VersionRecord: ...
    def set_champion(self, name: str, version: str, reason: str = "manual") -> LineageState: ...
    def rollback(self, name: str) -> LineageState: ...
    def verify(self, name: str) -> list[str]: ...
    def gate_lock(
        self, name: str, timeout: float = ...
    ) -> contextlib.AbstractContextManager[None]: ...


class ReadOnlyRegistry:
    """A registry view for checks: every reading method, none that writes."""

    _READS = ("location", "names", "state", "record", "model_path", "holdout", "predictions",
              "verify", "champion")  # fmt: skip

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __getattr__(self, attr: str) -> Any:
        if attr not in self._READS:
            msg = f"the registry is read-only here; {attr!r} is done by the gate's promotion step"
            raise AttributeError(msg)
        return getattr(self._registry, attr)

    def champion(self, name: str) -> VersionRecord | None:
        state = self._registry.state(name)
        return None if state.champion is None else self._registry.record(name, state.champion)


def rollback_target(state: LineageState, name: str, where: object) -> str:
    """The version a rollback of ``name`` (in ``where``) makes champion: the newest active
    version older than the champion. Both backends roll back by this one rule.

    Raises:
        RegistryError: no champion, or no earlier active version to roll back to.
    """
    if state.champion is None:
        msg = f"lineage {name!r} in {where} has no champion to roll back"
        raise RegistryError(msg)
    earlier = [v for v in state.active if int(v.version) < int(state.champion)]
    if not earlier:
        msg = (
            f"champion {state.champion} of {name!r} has no earlier active version to roll "
            "back to; promote one explicitly with `mlchecks registry promote VERSION`"
        )
        raise RegistryError(msg)
    return earlier[-1].version


def is_remote(location: str | Path) -> bool:
    """Whether ``location`` names a registry server (``mlflow+http://...``, ``mlflow``), not a
    folder."""
    text = str(location)
    return text == "mlflow" or text.startswith("mlflow:") or text.startswith("mlflow+")


def open_registry(location: str | Path, root: Path | None = None) -> Registry:
    """The registry at ``location``: a folder path, a ``file://`` URI, or an MLflow server
    (``mlflow+http://HOST:PORT``; ``mlflow`` alone reads ``MLFLOW_TRACKING_URI``).

    Args:
        location: where the registry lives. Relative paths are resolved against ``root``.
        root: folder for relative paths. Defaults to the current directory.

    Raises:
        RegistryError: an unsupported URI scheme, a malformed MLflow URI, or a path that is not
            a folder.
        MissingExtraError: an MLflow URI without the ``mlchecks[mlflow]`` extra installed.
    """
    from mlchecks.registry.local import LocalRegistry

    text = str(location)
    if is_remote(text):
        from mlchecks.registry.mlflow import MlflowRegistry

        return MlflowRegistry(text)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "file":
            msg = (
                f"registry {text!r}: unsupported scheme {scheme!r}; use a folder path, "
                "file:///path or mlflow+http://HOST:PORT"
            )
            raise RegistryError(msg)
        text = rest
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (root or Path.cwd()) / path
    if path.exists() and not path.is_dir():
        msg = f"registry {path} exists and is not a folder; give a folder (--registry DIR)"
        raise RegistryError(msg)
    return LocalRegistry(path)


@contextlib.contextmanager
def no_lock() -> Iterator[None]:
    yield
