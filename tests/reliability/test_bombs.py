"""Files that would exhaust memory, disk or patience: refused before anything is allocated.

Issue 17, items 7-11. Every bomb is generated here, small on disk (deflated padding or a hole in
a sparse file), and handed to the real ``mlchecks gate`` / ``mlchecks lint`` in a subprocess
under an address-space limit (``RLIMIT_AS``, as ``ulimit -v``): each must end in exit 2 and one
``mlchecks: error:`` line naming the numbers, within seconds, at a small peak resident size
(measured in the child with ``getrusage``). Before the fixes they ran to MemoryError (exit 3),
filled the disk, or hung. In-process tests pin the finer points (limits, estimates, messages).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlchecks.data.dataset import MAX_CLASSES, load_npz
from mlchecks.errors import DataError, GateExit, ModelError
from mlchecks.model.archive import (
    KERAS_LIMITS,
    MAX_CONFIG_BYTES,
    MAX_PARAMETERS,
    check_archive,
    estimate_parameters,
)

from . import candidates, tally
from .candidates import Member, data_members, npy, npy_header, write_zip

pytestmark = pytest.mark.slow

GiB, MiB = 1024**3, 1024**2
# TensorFlow maps a few GB of address space to import; 7 GiB leaves room for a real gate run
# (test_a_real_gate_runs_under_the_same_limit) and turns any bomb's allocation into a
# MemoryError instead of a machine swapping.
LIMIT = 7 * GiB
# The limit is set by the child itself, first thing: a preexec_fn would make subprocess fork
# this (multithreaded, once JAX or torch is loaded) process, which JAX warns may deadlock.
RUNNER = (
    "import atexit, os, resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n"
    "def _peak():\n"
    # VmHWM: the peak resident set of this process's own memory, reset by exec. ru_maxrss is
    # not: Linux carries it over fork+exec from the parent (the pytest process, with Keras
    # loaded), so it reported the test runner's size, not the gate's.
    "    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    try:\n"
    "        for line in open('/proc/self/status'):\n"
    "            if line.startswith('VmHWM:'):\n"
    "                kib = int(line.split()[1])\n"
    "    except OSError:\n"
    "        pass\n"
    "    with open(os.environ['MLCHECKS_TEST_PEAK'], 'w') as f:\n"
    "        f.write(str(kib))\n"
    "atexit.register(_peak)\n"
    "from mlchecks.cli import main\n"
    "sys.exit(main())\n"  # the program, as the console script runs it
)


def limited(*args: str, cwd: Path, timeout: float = 120) -> tuple[int, str, float, float]:
    """``mlchecks ARGS`` under :data:`LIMIT`: (exit code, stderr, seconds, peak RSS in MiB)."""
    peak = cwd / f".peak-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MLCHECKS_TEST_PEAK": str(peak),
           "TMPDIR": str(cwd / "tmp"), "PYTEST_ADDOPTS": "--benchmark-disable"}  # fmt: skip
    (cwd / "tmp").mkdir(exist_ok=True)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"mlchecks {' '.join(args)} still running after {timeout}s: {err[-2000:]}")
    seconds = time.monotonic() - start
    rss = int(peak.read_text()) / 1024 if peak.is_file() else float("nan")
    peak.unlink(missing_ok=True)
    return proc.returncode, out + err, seconds, rss


def refused(*args: str, cwd: Path, fragments: tuple[str, ...], seconds: float = 30,
            peak_mib: float = 1024) -> str:  # fmt: skip
    """Run ``mlchecks ARGS`` under the limit; assert exit 2, one error line holding every
    fragment, in under ``seconds`` and ``peak_mib``. Returns the error line."""
    tally.bad_input()
    code, output, took, rss = limited(*args, cwd=cwd)
    assert code == GateExit.BAD_INPUT, output[-3000:]
    line = candidates.one_line_error(output)
    for fragment in fragments:
        assert fragment in line, line
    assert took < seconds, f"took {took:.1f}s: {line}"
    assert rss < peak_mib, f"peak RSS {rss:.0f} MiB: {line}"
    print(f"[bomb] {' '.join(args)}: exit {code} in {took:.1f}s, peak RSS {rss:.0f} MiB\n  {line}")
    return line


@pytest.fixture(scope="module")
def project(tmp_path_factory, digits):
    return candidates.project(tmp_path_factory.mktemp("bombs"), digits)


@pytest.fixture(scope="module")
def good(tmp_path_factory, digits):
    return candidates.models(tmp_path_factory.mktemp("models"), digits)["good"]


@pytest.fixture(scope="module")
def config_bomb(tmp_path_factory):
    """A real saved Input(3) -> Dense(2) with every width widened to 30000 in its config: 27 KB
    that Keras would build into a 30000x30000 kernel (3.6 GB, more with the optimizer)."""
    import keras

    folder = tmp_path_factory.mktemp("config-bomb")
    inputs = keras.Input((3,))
    small = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    small.save(folder / "small.keras")

    def widen(value):
        if isinstance(value, dict):
            return {k: 30000 if k == "units" else widen(v) for k, v in value.items()}
        if isinstance(value, list):
            return [None, 30000] if value in ([None, 3], [None, 2]) else [widen(v) for v in value]
        return value

    path = candidates.with_config(folder / "small.keras", folder / "bomb.keras", widen)
    assert path.stat().st_size < 64 * 1024
    return path


def _keras_members(source: Path) -> list[Member]:
    with zipfile.ZipFile(source) as archive:
        return [Member(info.filename, archive.read(info)) for info in archive.infolist()]


def _diluted(source: Path, target: Path) -> Path:
    """Issue 17, item 9: 8 x 255 MiB of deflated zeros (each just under Keras' 256 MiB floor)
    diluted with 4 MiB of noise: 2 GiB declared from ~6 MiB, a 340:1 aggregate ratio."""
    noise = np.random.default_rng(0).bytes(4 * MiB)
    members = _keras_members(source)
    members += [Member(f"assets/blob{i}.bin", zeros=255 * MiB, deflate=True) for i in range(8)]
    return write_zip(target, [*members, Member("assets/noise.bin", noise)])


# ----------------------------------------------------------------------------- models
def test_the_parameter_estimate_is_exact_on_real_architectures():
    """The limit refuses what it says: the count from the config alone equals Keras' own
    ``count_params()`` on the layers Keras ships, nested models and a real application."""
    import keras
    from keras import layers as L

    from mlchecks.model import zoo

    def seq(shape, *layers):
        return keras.Sequential([keras.Input(shape), *layers])

    query = keras.Input((5, 16))
    inner = zoo.mlp((8, 8, 1), 10)
    outer_in = keras.Input((8, 8, 1))
    models = {
        "mlp": zoo.mlp((8, 8, 1), 10), "cnn": zoo.cnn((8, 8, 1), 10),
        "nested": keras.Model(outer_in, inner(outer_in)),
        "norms": seq((7,), L.Dense(5), L.BatchNormalization(), L.LayerNormalization(),
                     L.Normalization()),
        "rnns": seq((9, 4), L.GRU(5, return_sequences=True), L.SimpleRNN(3, return_sequences=True),
                    L.Bidirectional(L.LSTM(4)), L.Dense(2)),
        "embedding": seq((12,), L.Embedding(100, 8), L.TimeDistributed(L.Dense(6)), L.LSTM(3)),
        "convs": seq((16, 16, 3), L.Conv2D(8, 3), L.DepthwiseConv2D(3, depth_multiplier=2),
                     L.SeparableConv2D(5, 3), L.Conv2DTranspose(3, 2), L.PReLU()),
        "conv1d": seq((20, 3), L.Conv1D(4, 3), L.Conv1DTranspose(2, 3), L.GroupNormalization(2)),
        "attention": keras.Model(query, L.MultiHeadAttention(2, 4)(query, query)),
        "convlstm": seq((2, 8, 8, 2), L.ConvLSTM2D(3, 3)),
        "mobilenet_v2": keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3)),
    }  # fmt: skip
    for name, model in models.items():
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        estimate = estimate_parameters(config)
        assert estimate.total == model.count_params(), name
        assert not estimate.guessed, name


def test_unknown_layers_and_missing_widths_are_counted_conservatively():
    config = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 30000}},  # no build_config
        {"class_name": "FancyLayer", "config": {"name": "f", "size": 20000},
         "build_config": {"input_shape": [None, 30000]}},
    ]}}  # fmt: skip
    estimate = estimate_parameters(config)
    assert estimate.total == 30000 * 30000 + 30000 + 30000 * 20000 + 20000
    assert estimate.guessed == ("d", "f") and estimate.largest == ("d", "Dense", 900_030_000)


def test_a_config_bomb_is_refused_before_keras_builds_it(config_bomb, tmp_path):
    tally.bad_input()
    with pytest.raises(ModelError) as info:
        check_archive(config_bomb)
    text = str(info.value)
    assert "900,030,000 weights" in text and f"max_parameters {MAX_PARAMETERS:,}" in text
    assert "Dense, 900,030,000" in text and "[tool.mlchecks]" in text and str(config_bomb) in text
    # the limit is the caller's: a trusted big model passes the archive check
    assert check_archive(config_bomb, max_parameters=10**9)["class_name"] == "Functional"


def test_a_config_bomb_through_the_gate(project, config_bomb):
    refused("gate", str(config_bomb), "--data", "d.npz", "--no-promote", cwd=project,
            fragments=("900,030,000 weights", "max_parameters"))  # fmt: skip


def test_max_parameters_is_configurable(project, good, tmp_path):
    """``max_parameters`` in the project's config reaches the gate: set below the good model's
    650 weights, it refuses that model too."""
    from mlchecks.config import settings_from_table
    from mlchecks.errors import ConfigError

    assert settings_from_table({"max_parameters": 10**9}, {}).max_parameters == 10**9
    with pytest.raises(ConfigError, match="max_parameters"):
        settings_from_table({"max_parameters": 0}, {})
    folder = tmp_path / "strict"
    folder.mkdir()
    (folder / "mlchecks.toml").write_text(candidates.CONFIG + "max_parameters = 100\n")
    os.link(project / "d.npz", folder / "d.npz")
    refused("gate", str(good), "--data", "d.npz", "--no-promote", cwd=folder,
            fragments=("650 weights", "max_parameters 100"))  # fmt: skip


def test_a_diluted_zip_bomb_is_judged_member_by_member(project, good, tmp_path):
    path = _diluted(good, tmp_path / "diluted.keras")
    assert path.stat().st_size < 8 * MiB
    tally.bad_input()
    with pytest.raises(ModelError) as info:
        check_archive(path)
    text = str(info.value)
    assert "'assets/blob0.bin'" in text and "zip bomb" in text and "255.0 MiB" in text
    assert f"{KERAS_LIMITS.max_ratio:.0f}:1" in text
    refused("gate", str(path), "--data", "d.npz", "--no-promote", cwd=project,
            fragments=("zip bomb", "assets/blob0.bin"))  # fmt: skip
    assert not list((project / "tmp").rglob("blob*")), "extracted members left behind"


def test_a_member_with_a_broken_crc_leaves_no_extraction_behind(project, good, tmp_path):
    """Keras extracts every member of an archive of more than three into a temporary folder and
    leaves it there when the extraction fails: 64 MiB per run here (512 MB in the issue)."""
    members = [*_keras_members(good), Member("assets/blob.bin", zeros=64 * MiB, crc=12345)]
    path = write_zip(tmp_path / "crc.keras", members)
    tally.bad_input()
    refused("gate", str(path), "--data", "d.npz", "--no-promote", cwd=project,
            fragments=("cannot be loaded", "CRC"), seconds=120, peak_mib=2048)  # fmt: skip
    left = [p for p in (project / "tmp").rglob("*") if p.name == "blob.bin"]
    left += [p for p in tmp_path.rglob("*") if p.name == "blob.bin"]
    assert not left, f"extracted members left behind: {left}"


def test_a_real_gate_runs_under_the_same_limit(project, good):
    """The control: the limit leaves room for TensorFlow and a whole gate run."""
    code, output, _, rss = limited("gate", str(good), "--data", "d.npz", "--no-promote",
                                   cwd=project, timeout=600)  # fmt: skip
    assert code in (GateExit.ACCEPTED, GateExit.REJECTED), output[-3000:]
    print(f"[control] gate of a real model: exit {code}, peak RSS {rss:.0f} MiB")


def test_lint_bounds_the_config_it_reads(project, good, tmp_path):
    """Issue 17, item 10: a 1 MB config.json that inflates to 1 GiB of valid JSON (the model's
    config and then spaces) was read whole at 2.1 GB resident and linted, exit 0."""
    from mlchecks.checks.setup import model_config

    with zipfile.ZipFile(good) as archive:
        config = archive.read("config.json")
    members = [m for m in _keras_members(good) if m.name != "config.json"]
    members.append(Member("config.json", config, zeros=GiB, fill=b" ", deflate=True))
    path = write_zip(tmp_path / "padded.keras", members)
    assert path.stat().st_size < 2 * MiB
    tally.bad_input()
    with pytest.raises(ModelError, match=r"config\.json"):
        model_config(path)
    refused("lint", str(path), "--data", "d.npz", cwd=project,
            fragments=("config.json", "1.0 GiB"))  # fmt: skip
    # a config.json just above the size limit, stored (no ratio to judge), is refused too
    members[-1] = Member("config.json", config, zeros=MAX_CONFIG_BYTES, fill=b" ")
    with pytest.raises(ModelError, match=r"limit 16\.0 MiB"):
        model_config(write_zip(tmp_path / "long.keras", members))


# ----------------------------------------------------------------------------- FIFOs
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_a_fifo_is_refused_not_waited_on(project, tmp_path):
    """Issue 17, item 11: a FIFO named x.keras hung the gate forever (opening it waits for a
    writer). Models and data must be regular files."""
    model = _fifo(tmp_path / "x.keras")
    data = _fifo(tmp_path / "fifo.npz")
    tally.bad_input(2)
    with pytest.raises(ModelError, match="FIFO"):
        _with_watchdog(check_archive, model)
    with pytest.raises(DataError, match="FIFO"):
        _with_watchdog(load_npz, data)
    refused("gate", str(model), "--data", "d.npz", "--no-promote", cwd=project,
            fragments=(str(model),))  # fmt: skip
    refused("lint", str(model), "--data", "d.npz", cwd=project, fragments=("FIFO",))
    refused("gate", "--data", str(data), cwd=project, fragments=("FIFO", str(data)))


def _with_watchdog(function, path: Path):
    """``function(path)``; should it open the FIFO, a writer comes after 10 s and unblocks it,
    so that a regression fails this test instead of hanging it."""
    done = threading.Event()

    def writer():
        if not done.wait(10):
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        return function(path)
    finally:
        done.set()


# ----------------------------------------------------------------------------- data
def _npz(folder: Path, digits, name: str, **replace: Member) -> str:
    members = [replace.get(m.name[:-4], m) for m in data_members(digits)]
    write_zip(folder / name, members)
    return name


def test_an_absurd_class_id_is_refused(project, digits):
    """Issue 17, item 8: one y_train label of 10^12 made 10^12 class names (MemoryError)."""
    y = digits.y_train.copy()
    y[5] = 10**12
    name = _npz(project, digits, "huge_label.npz", y_train=Member("y_train.npy", npy(y)))
    refused("gate", "--data", name, cwd=project,
            fragments=("y_train", "1000000000000", f"{MAX_CLASSES:,}"))  # fmt: skip


def test_a_uint64_label_does_not_wrap_to_minus_one(project, digits):
    y = digits.y_train.astype(np.uint64)
    y[0] = np.iinfo(np.uint64).max
    name = _npz(project, digits, "wrap.npz", y_train=Member("y_train.npy", npy(y)))
    refused("gate", "--data", name, cwd=project,
            fragments=("y_train", "18446744073709551615"))  # fmt: skip


def test_a_deflate_bomb_is_refused_before_decompressing(project, digits):
    """1.2 MB on disk, 1.2 GB of uint8 zeros inside (4.7 GB more as float32): it peaked at
    6.7 GB. The member's ratio gives it away, whatever the machine's memory."""
    shape = (1_500_000, 28, 28)
    bomb = Member("x_train.npy", npy_header("u1", shape), zeros=int(np.prod(shape)),
                  deflate=True)  # fmt: skip
    name = _npz(project, digits, "deflated.npz", x_train=bomb)
    assert (project / name).stat().st_size < 2 * MiB
    refused("gate", "--data", name, cwd=project, fragments=("x_train.npy", "zip bomb", "1.1 GiB"))


def test_a_header_declaring_119_gib_is_refused(project, digits):
    header = npy_header("<f4", (40_750_000, 28, 28, 1))  # 119.0 GiB of float32
    name = _npz(project, digits, "header.npz",
                x_train=Member("x_train.npy", header + bytes(16)))  # fmt: skip
    refused("gate", "--data", name, cwd=project, fragments=("x_train", "119.0 GiB", "holds"))


def test_data_larger_than_memory_allows_is_refused_with_the_numbers(project, digits):
    """A valid npz (stored, right CRC, a hole on disk) of 2 GiB of uint8 images: as float32 it
    needs ~10 GiB, more than half of what the address-space limit leaves."""
    shape = (2_700_000, 28, 28, 1)
    member = Member("x_train.npy", npy_header("u1", shape), zeros=int(np.prod(shape)))
    name = _npz(project, digits, "big.npz", x_train=member)
    assert os.stat(project / name).st_blocks * 512 < 8 * MiB  # sparse
    line = refused("gate", "--data", name, cwd=project, fragments=("needs about", "RLIMIT_AS"))
    assert "max_data_bytes" in line


def test_the_data_limit_is_configurable(project, tmp_path):
    """``max_data_bytes`` in the project's config reaches the gate (digits needs ~0.6 MiB)."""
    from mlchecks.config import settings_from_table

    assert settings_from_table({"max_data_bytes": 2**40}, {}).max_data_bytes == 2**40
    folder = tmp_path / "strict"
    folder.mkdir()
    (folder / "mlchecks.toml").write_text(candidates.CONFIG + "max_data_bytes = 262144\n")
    os.link(project / "d.npz", folder / "d.npz")
    refused("gate", "--data", "d.npz", cwd=folder,
            fragments=("needs about", "over max_data_bytes 256.0 KiB"))  # fmt: skip
