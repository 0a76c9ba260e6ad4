"""mlchecks: a test-first quality gate for Keras models.

Public API (everything else is internal and may change):

- :class:`Settings`, :func:`load_settings`: configuration from ``[tool.mlchecks]``.
- :class:`Dataset`, :func:`load_dataset`: the datasets behind ``--data``.
- :class:`CheckResult`: one check's outcome, as recorded by the suites and the gate.
- :class:`Evaluation`: predictions and metrics on a labelled split.
- :class:`GateDecision`, :class:`GateExit`: the gate's verdict and exit codes.
- :class:`MlchecksError` and subclasses.

Importing mlchecks imports neither keras nor tensorflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlchecks.errors import (
    ConfigError,
    DataError,
    GateExit,
    MissingExtraError,
    MlchecksError,
    ModelError,
    RegistryError,
)

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec, Settings, Thresholds, load_settings
    from mlchecks.data import Dataset, load_dataset
    from mlchecks.result import CheckResult
    from mlchecks.run.gate import GateDecision
    from mlchecks.stats.evaluation import Evaluation

# Loaded on first use: every pytest run on a machine with mlchecks imports this package (the
# plugin), and numpy alone costs ~0.2 s there.
_LAZY = {
    "CheckResult": "mlchecks.result",
    "Dataset": "mlchecks.data",
    "Evaluation": "mlchecks.stats.evaluation",
    "GateDecision": "mlchecks.run.gate",
    "ModelSpec": "mlchecks.config",
    "Settings": "mlchecks.config",
    "Thresholds": "mlchecks.config",
    "load_dataset": "mlchecks.data",
    "load_settings": "mlchecks.config",
}

__all__ = [
    "CheckResult",
    "ConfigError",
    "DataError",
    "Dataset",
    "Evaluation",
    "GateDecision",
    "GateExit",
    "MissingExtraError",
    "MlchecksError",
    "ModelError",
    "ModelSpec",
    "RegistryError",
    "Settings",
    "Thresholds",
    "__version__",
    "load_dataset",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from mlchecks._version import __version__

        return __version__
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'mlchecks' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
