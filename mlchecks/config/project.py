"""The project root on the import path.

A builder named by import path in the config (``builder = "mymodels:build"``) lives in the
user's project, beside the config file. :func:`make_importable` puts the folder holding the
config (the ``pyproject.toml`` with ``[tool.mlchecks]``, or the ``mlchecks.toml``) on
``sys.path`` when the settings are loaded, the one step ``mlchecks gate``, ``lint``, ``evolve``,
``registry`` and the pytest plugin share, so a builder imports the same way in all of them,
with or without a model cache entry, and without ``pythonpath = ["."]`` in the pytest config.
It goes first, as ``python -m`` and pytest's ``pythonpath`` put theirs: the project's own
module wins over an installed one of the same name.

Nothing happens without a config file: installing mlchecks changes no other project's imports.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_ROOTS: list[str] = []


def make_importable(root: str | Path) -> str:
    """Put ``root`` (a project root) on ``sys.path`` once; returns it resolved."""
    folder = str(Path(root).resolve())
    if folder not in _ROOTS:
        _ROOTS.append(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
    return folder


def project_roots() -> tuple[str, ...]:
    """The project roots made importable in this process, the latest last."""
    return tuple(_ROOTS)
