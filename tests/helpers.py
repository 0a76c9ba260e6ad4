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


WIDE_UNITS = 2048


def widened(champion: Path, path: Path, units: int = WIDE_UNITS) -> Path:
    """The reference MLP ``champion`` (Flatten -> Dense ``hidden`` -> Dense ``output``) as a
    Flatten -> Dense(units) -> Dense(units) -> softmax model that computes the same function.

    The champion's hidden units are the first of the wide model's; the second wide layer passes
    them on (identity on them, zeros elsewhere: relu of a relu is itself) and the output reads
    them alone. So it predicts what the champion predicts, with no training of its own, while
    each training step multiplies inputs x ``units`` and ``units`` x ``units`` matrices instead
    of inputs x 128: a candidate that differs from its champion in training speed and in nothing
    else. Saved to ``path`` (compiled as the champion's recipe is: adam, sparse categorical
    cross-entropy)."""
    import keras
    import numpy as np

    from mlchecks.model.training import load_model

    small = load_model(champion)
    kernel, bias = small.get_layer("hidden").get_weights()
    out_kernel, out_bias = small.get_layer("output").get_weights()
    width = kernel.shape[1]
    if width > units:
        raise ValueError(f"widened: {champion} has {width} hidden units, more than {units}")
    inputs = keras.Input(small.input_shape[1:])
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu", name="wide1")(x)
    x = keras.layers.Dense(units, activation="relu", name="wide2")(x)
    outputs = keras.layers.Dense(out_kernel.shape[1], activation="softmax", name="output")(x)
    model = keras.Model(inputs, outputs, name="wide_mlp")
    w1 = np.zeros((kernel.shape[0], units), kernel.dtype)
    w1[:, :width] = kernel
    b1 = np.zeros(units, bias.dtype)
    b1[:width] = bias
    w2 = np.zeros((units, units), kernel.dtype)
    w2[np.arange(width), np.arange(width)] = 1.0
    w3 = np.zeros((units, out_kernel.shape[1]), out_kernel.dtype)
    w3[:width] = out_kernel
    model.get_layer("wide1").set_weights([w1, b1])
    model.get_layer("wide2").set_weights([w2, np.zeros(units, bias.dtype)])
    model.get_layer("output").set_weights([w3, out_bias])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path
