"""Output paths of the commands, validated before any work (an unwritable ``--json`` found after
promotion would be a promoted model and a failed command)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlchecks._util.io import atomic_write
from mlchecks.errors import ConfigError

STDOUT = "-"


def check_writable(option: str, value: str | None) -> None:
    """Refuse an output file that cannot be written, before the command does anything.

    Raises:
        ConfigError: ``value`` is a folder, or its folder does not exist and cannot be made, or
            is not writable (exit 2, naming the option, the path and the fix).
    """
    if value is None or value == STDOUT:
        return
    path = Path(value)
    if path.is_dir():
        msg = f"{option} {value} is a folder; give a file path (or {STDOUT} for stdout)"
        raise ConfigError(msg)
    folder = path.parent if str(path.parent) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        msg = (
            f"{option} {value} cannot be written: {existing} is not a writable folder; give a "
            f"path in a folder you can write (or {STDOUT} for stdout)"
        )
        raise ConfigError(msg)
    if path.exists() and not os.access(path, os.W_OK):
        msg = f"{option} {value} exists and is read-only; remove it or give another path"
        raise ConfigError(msg)


def write_text(option: str, value: str, text: str) -> None:
    """Write ``text`` to the file ``value`` atomically, or to stdout for ``-``.

    Raises:
        ConfigError: the file cannot be written after all (exit 2).
    """
    if value == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        atomic_write(Path(value), text)
    except OSError as exc:
        msg = f"{option} {value} cannot be written ({exc.strerror}); give a writable path"
        raise ConfigError(msg) from None
