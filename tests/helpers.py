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


def run_cli_here(*args: str, cwd: Path, env: dict[str, str] | None = None):
    """``mlchecks ARGS`` through :func:`mlchecks.cli.main` in this process, as a caller's own
    process would run it; returns what :func:`run_cli` returns. The same parser, gate, output
    and exit code, without a new interpreter that imports TensorFlow, Keras and Great
    Expectations again (~6 CPU-s a gate here). For tests that need no kill, no fresh
    ``sys.modules``, no terminal and none of the process's own native output: those use
    :func:`run_cli`."""
    import contextlib
    import io

    from mlchecks.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    saved = {k: os.environ.get(k) for k in (env or {})}
    try:
        os.chdir(cwd)
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(["mlchecks", *args], code, out.getvalue(), err.getvalue())


def keras_backend() -> str:
    """The Keras backend this test run uses ("tensorflow", "jax" or "torch"), as Keras says:
    tests that assert a backend's name in the product's output assert this one."""
    import keras

    return keras.backend.backend()
