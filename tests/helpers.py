"""Helpers for mlchecks' own tests (import as ``from helpers import run_cli``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the real ``mlchecks`` command in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mlchecks.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def keras_backend() -> str:
    """The Keras backend this test run uses ("tensorflow", "jax" or "torch"), as Keras says:
    tests that assert a backend's name in the product's output assert this one."""
    import keras

    return keras.backend.backend()
