"""Small real candidates and gate projects for the reliability tests that run `mlchecks gate`.

Models (trained once per machine and Keras version, cached in pytest's cache folder):

- ``good``: Flatten -> Dense(10) softmax, 10 epochs on digits (test accuracy ~0.88);
- ``constant``: the same graph with zero kernel and a bias on class 0: always predicts 0
  (accuracy = class 0's share, ~0.10): rejected in any position, with or without a champion;
- ``wide``: input 28x28x1, so it does not fit digits' 8x8x1 samples.

:func:`copy_of` makes byte-distinct copies of one model (same weights, same predictions), so
several candidates are each accepted against the one promoted before them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

NAME = "tiny"
CONFIG = f'name = "{NAME}"\nregistry = "reg"\nreports = "reports"\ncache_dir = "cache"\n'


def _build(input_shape: tuple[int, ...], constant: bool = False):
    import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)  # saved with its (untouched) state
    if constant:
        dense = model.layers[-1]
        kernel, bias = dense.get_weights()
        bias[:] = 0.0
        bias[0] = 5.0
        dense.set_weights([np.zeros_like(kernel), bias])
    return model


def models(cache_root: Path, digits) -> dict[str, Path]:
    """The three models as ``.keras`` files under ``cache_root`` (built on first use)."""
    from mlchecks.model import training

    env = training.environment_light()
    tag = f"{digits.fingerprint}-{env['keras']}-{env['backend']}"
    paths = {
        kind: Path(cache_root) / f"{kind}-{tag}.keras" for kind in ("good", "constant", "wide")
    }
    if all(p.is_file() for p in paths.values()):
        return paths
    import keras

    keras.utils.set_random_seed(0)
    good = _build(digits.input_shape)
    good.fit(digits.x_train, digits.y_train, epochs=10, batch_size=32, verbose=0)
    made = {"good": good, "constant": _build(digits.input_shape, constant=True),
            "wide": _build((28, 28, 1))}  # fmt: skip
    for kind, model in made.items():
        tmp = paths[kind].with_name(f".{paths[kind].stem}.{os.getpid()}.keras")
        model.save(tmp)
        os.replace(tmp, paths[kind])  # atomic: concurrent test runs never see half a file
    return paths


def copy_of(source: Path, target: Path, tag: str) -> Path:
    """``source`` re-zipped with ``tag`` in its metadata: other bytes, the same model."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = f"{meta.get('date_saved', '')} copy {tag}"
                data = json.dumps(meta).encode()
            dst.writestr(info, data)
    return target


def project(folder: Path, digits) -> Path:
    """A gate project: ``mlchecks.toml`` (registry ``reg``, reports ``reports``) and ``d.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlchecks.toml").write_text(CONFIG)
    np.savez(folder / "d.npz", x_train=digits.x_train, y_train=digits.y_train,
             x_test=digits.x_test, y_test=digits.y_test)  # fmt: skip
    return folder


def gate(folder: Path, *args: str, env: dict[str, str] | None = None,
         prelude: str = "") -> subprocess.Popen:  # fmt: skip
    """Start ``mlchecks gate ARGS --data d.npz`` in ``folder`` (``prelude``: Python code run in
    the gate's process first, e.g. a patched write). Speed is not measured
    (``--benchmark-disable``): timings of processes sharing two cores are noise, and these tests
    judge the registry, not speed."""
    full = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTEST_ADDOPTS": "--benchmark-disable"}
    full.pop("MLCHECKS_FAULT", None)
    full.update(env or {})
    code = f"{prelude}\nimport sys\nfrom mlchecks.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "gate", *args, "--data", "d.npz"],
        cwd=folder, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out, err


def seed_champion(folder: Path, model_file: Path) -> str:
    """Promote ``model_file`` into the project's registry in-process (as a gate would, with its
    real predictions on the project's test split); returns the version."""
    from mlchecks.data import load_dataset
    from mlchecks.model.training import load_model, predict
    from mlchecks.registry import NewVersion, open_registry, sha256_file
    from mlchecks.run import gate as gate_module

    dataset = load_dataset(str(folder / "d.npz"))
    holdout = gate_module.current_holdout(dataset)
    pred = predict(load_model(model_file), dataset.x_test).argmax(axis=1).astype(np.int64)
    registry = open_registry(folder / "reg")
    new = NewVersion(model_file, sha256_file(model_file), holdout, {holdout.id: pred},
                     metrics={"accuracy": float((pred == holdout.y).mean())})  # fmt: skip
    state = registry.state(NAME)
    return registry.promote(NAME, new, expected_champion=state.champion).version


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a registry (lock files aside) and its content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*"))
            if p.is_file() and ".locks" not in p.parts}  # fmt: skip


def one_line_error(err: str) -> str:
    """The gate's stderr must end in one ``mlchecks: error:`` line and hold no traceback."""
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("mlchecks: error: "), err[-3000:]
    return lines[-1]


def index_runs(page: Path) -> dict[str, str]:
    """``{run id: verdict}`` of a history page; fails on a truncated or unparsable page."""
    from html.parser import HTMLParser

    text = page.read_text("utf-8")
    assert text.rstrip().endswith("</html>"), f"{page} is truncated"
    runs: dict[str, str] = {}

    class Rows(HTMLParser):
        current: str | None = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "tr" and "run-row" in (attrs.get("class") or ""):
                self.current = attrs["data-run"]
            elif tag == "span" and self.current and "status" in (attrs.get("class") or ""):
                runs[self.current] = ""

        def handle_data(self, data):
            if self.current in runs and not runs[self.current]:
                runs[self.current] = data.strip()

        def handle_endtag(self, tag):
            if tag == "tr":
                self.current = None

    Rows().feed(text)
    return runs
