"""The mlchecks error tree and the exit codes shared by the CLI and the pytest plugin.

Every error a user can cause is a :class:`MlchecksError`; its message names the thing, the value
received, what was expected and how to fix it. The CLI prints it as one ``mlchecks: error:`` line
and exits with :attr:`GateExit.BAD_INPUT`; anything else is an internal error (exit 3).
"""

from __future__ import annotations

import enum


class GateExit(enum.IntEnum):
    """Exit codes of ``mlchecks gate`` (and of a pytest session running the gate)."""

    ACCEPTED = 0
    REJECTED = 1
    BAD_INPUT = 2
    INTERNAL_ERROR = 3


class MlchecksError(Exception):
    """Root of all errors mlchecks raises on bad input. Exit code 2."""

    exit_code: GateExit = GateExit.BAD_INPUT


class ConfigError(MlchecksError, ValueError):
    """``[tool.mlchecks]``, ``mlchecks.toml`` or a command-line option is invalid."""


class DataError(MlchecksError, ValueError):
    """A dataset cannot be read or cannot be used (unknown name, missing keys, float labels)."""


class ModelError(MlchecksError, ValueError):
    """A model file or model builder cannot be loaded, built or used."""


class RegistryError(MlchecksError, RuntimeError):
    """The model registry is unreadable, inconsistent, or was asked something impossible."""


class MissingExtraError(MlchecksError, ImportError):
    """An optional dependency is missing; the message says which ``pip install`` fixes it."""
