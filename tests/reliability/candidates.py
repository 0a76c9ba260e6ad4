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

import dataclasses
import functools
import io
import json
import os
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
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


#: What every gate of these tests gets: speed is not measured (``--benchmark-disable``):
#: timings of processes sharing two cores are noise, and these tests judge the registry, not
#: speed. No fault is injected unless a test asks (``MLCHECKS_FAULT`` removed).
GATE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTEST_ADDOPTS": "--benchmark-disable"}


def gate(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``mlchecks gate ARGS --data d.npz`` in ``folder``, with :data:`GATE_ENV`: the
    program itself (``main()`` reads ``sys.argv``, as the console script does)."""
    full = {**os.environ, **GATE_ENV}
    full.pop("MLCHECKS_FAULT", None)
    full.update(env or {})
    code = "import sys\nfrom mlchecks.cli import main\nsys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, "gate", *args, "--data", "d.npz"],
        cwd=folder, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def gate_here(folder: Path, *args: str, monkeypatch) -> tuple[int, str, str]:
    """:func:`gate` through ``main()`` in this process (no kill needed): the same
    arguments and :data:`GATE_ENV`; returns what :func:`finish` returns."""
    from helpers import run_cli_here

    monkeypatch.delenv("MLCHECKS_FAULT", raising=False)
    proc = run_cli_here("gate", *args, "--data", "d.npz", cwd=folder, env=GATE_ENV)
    return proc.returncode, proc.stdout, proc.stderr


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


# ----------------------------------------------------------------------------- bombs
# Files that are small on disk and declare (or inflate to) far more than memory holds, for
# tests/reliability/test_bombs.py. Written by hand, member by member, so that a test controls
# every declared size, CRC and compression method, and a stored member can be a hole in a
# sparse file (gigabytes declared, nothing on disk).
@dataclasses.dataclass
class Member:
    """One zip member: ``data`` followed by ``zeros`` zero bytes.

    ``deflate`` compresses it (in 1 MiB chunks: gigabytes of zeros take seconds, not memory);
    a stored member's zeros are a hole in the file (a sparse file: nothing on disk). ``fill``
    replaces the zero byte (e.g. spaces, to pad JSON). ``crc`` and ``declared`` (the
    uncompressed size) forge the headers; by default they are right.
    """

    name: str
    data: bytes = b""
    zeros: int = 0
    deflate: bool = False
    fill: bytes = b"\0"
    crc: int | None = None
    declared: int | None = None


@functools.lru_cache(maxsize=8)
def _deflated(fill: bytes, n: int) -> bytes:
    """``n`` x ``fill`` as raw deflate blocks, the last one final; cached: bombs of one size cost
    one compression per test session."""
    block, left, out = fill * (1 << 20), n, []
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    while left:
        piece = block[: min(left, len(block))]
        out.append(packer.compress(piece))
        left -= len(piece)
    return b"".join(out) + packer.flush()


def _crc(fill: bytes, n: int, crc: int) -> int:
    block, left = fill * (1 << 20), n
    while left:
        piece = block[: min(left, len(block))]
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    return crc


def write_zip(path: Path, members: list[Member]) -> Path:
    """A zip archive of ``members`` (no zip64: every size below 4 GiB)."""
    central = []
    with open(path, "wb") as f:
        for m in members:
            offset = f.tell()
            name = m.name.encode()
            size = len(m.data) + m.zeros
            f.write(b"\0" * (30 + len(name)))  # local header, written once sizes are known
            crc = _crc(m.fill, m.zeros, zlib.crc32(m.data))
            if m.deflate and m.zeros:
                # the data, flushed to a byte boundary with no back-references past it, then
                # the padding's own (cached) blocks: together one valid deflate stream
                packer = zlib.compressobj(6, zlib.DEFLATED, -15)
                f.write(packer.compress(m.data) + packer.flush(zlib.Z_FULL_FLUSH))
                f.write(_deflated(m.fill, m.zeros))
            elif m.deflate:
                packer = zlib.compressobj(6, zlib.DEFLATED, -15)
                f.write(packer.compress(m.data) + packer.flush())
            else:
                f.write(m.data)
                if m.zeros and m.fill == b"\0":
                    f.seek(m.zeros, os.SEEK_CUR)
                elif m.zeros:
                    f.write(m.fill * m.zeros)
            end = f.tell()
            crc = crc if m.crc is None else m.crc
            method = 8 if m.deflate else 0
            declared = size if m.declared is None else m.declared
            fields = (20, 0, method, 0, 0x21, crc, end - offset - 30 - len(name), declared)
            f.seek(offset)
            f.write(struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", fields[0], 0, *fields[1:],
                                len(name), 0) + name)  # fmt: skip
            f.seek(end)
            central.append((name, fields, offset))
        start = f.tell()
        for name, (version, flags, method, t, d, crc, csize, usize), offset in central:
            f.write(struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, version, 0, flags, method,
                                t, d, crc, csize, usize, len(name), 0, 0, 0, 0, 0o644 << 16,
                                offset) + name)  # fmt: skip
        size = f.tell() - start
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), size,
                            start, 0))  # fmt: skip
    return path


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` header (magic included) of an array of ``dtype`` and ``shape``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    """``array`` as the bytes of an ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def data_members(digits) -> list[Member]:
    """``x_train y_train x_test y_test`` of digits as npz members (to replace one of them)."""
    return [Member(f"{key}.npy", npy(getattr(digits, key)))
            for key in ("x_train", "y_train", "x_test", "y_test")]  # fmt: skip


def with_config(source: Path, target: Path, edit) -> Path:
    """``source`` with ``config.json`` replaced by ``edit(config)`` (the rest unchanged)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            dst.writestr(info, data)
    return target
