"""Untrusted, corrupt and foreign model files: refused with exit 2 and a clear line, never run."""

from __future__ import annotations

import struct
import zipfile

import numpy as np
import pytest
from helpers import run_cli_here

from mlchecks.errors import GateExit, ModelError
from mlchecks.model.training import check_archive, load_model

from . import tally

# Keras stores a lambda's bytecode in the file; it runs on load only if deserialisation executes
# code from the file (the marker path comes from the environment: a lambda has no closure here).
TOUCH = (
    "lambda x: (__import__('pathlib').Path(__import__('os').environ['MLCHECKS_TEST_MARKER'])"
    ".write_text('code from the model file ran'), x)[1]"
)


def _lambda_model():
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Lambda(eval(TOUCH), name="sneaky")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture
def lambda_file(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("lambda")
    marker = folder / "marker.txt"
    monkeypatch.setenv("MLCHECKS_TEST_MARKER", str(marker))  # read by the lambda, if it runs
    model = _lambda_model()
    model.save(folder / "lambda.keras")
    marker.unlink(missing_ok=True)  # building ran it once; only loading counts
    return folder / "lambda.keras", marker


def test_lambda_candidate_is_refused_without_running_code(lambda_file, tmp_path):
    path, marker = lambda_file
    tally.bad_input()
    with pytest.raises(ModelError, match="--trust-candidate"):
        load_model(path)
    assert not marker.exists()
    proc = run_cli_here("gate", str(path), "--no-promote", cwd=tmp_path)
    assert proc.returncode == GateExit.BAD_INPUT, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("mlchecks: error: ")
    assert "Traceback" not in proc.stderr
    assert not marker.exists(), "code from the candidate file ran during the gate"


def _keras_file(tmp_path, trained):
    path = tmp_path / "good.keras"
    trained.model.save(path)
    return path


def _truncated(tmp_path, good):
    data = good.read_bytes()
    path = tmp_path / "truncated.keras"
    path.write_bytes(data[: len(data) // 2])
    return path


def _text(tmp_path, good):
    path = tmp_path / "text.keras"
    path.write_text("this is not a model\n")
    return path


def _bomb(tmp_path, good):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * 1024)
    data = bytearray(path.read_bytes())
    # declare 4 GiB - 1 as the uncompressed size of every member in the central directory
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        struct.pack_into("<I", data, pos + 24, 0xFFFFFFFE)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    return path


def _h5(tmp_path, good):
    path = tmp_path / "legacy.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    return path


def _savedmodel(tmp_path, good):
    path = tmp_path / "saved_model_dir"
    path.mkdir()
    (path / "saved_model.pb").write_bytes(b"\0")
    return path


def _foreign_zip(tmp_path, good):
    path = tmp_path / "foreign.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return path


def _broken_config(tmp_path, good):
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(
                info, b'{"class_name": "NoSuchLayer"' if info.filename == "config.json" else data
            )
    return path


CASES = {
    "truncated": (_truncated, "not a zip file"),
    "text file": (_text, "not a zip file"),
    "zip bomb": (_bomb, "zip bomb"),
    "HDF5": (_h5, "legacy HDF5"),
    "SavedModel folder": (_savedmodel, "is a folder"),
    "foreign zip": (_foreign_zip, "without config.json"),
    "broken config": (_broken_config, "cannot be loaded"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_files_are_refused(case, tmp_path, trained_mlp):
    make, fragment = CASES[case]
    path = make(tmp_path, _keras_file(tmp_path, trained_mlp))
    tally.bad_input()
    with pytest.raises(ModelError) as info:
        check_archive(path) if case != "broken config" else load_model(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_bad_model_files_through_the_gate(tmp_path, trained_mlp, digits):
    """Two kinds through the real command (its exit code and error line); the CLI path is
    shared, the kinds are pinned one by one above."""
    np.savez(tmp_path / "d.npz", x_train=digits.x_train, y_train=digits.y_train,
             x_test=digits.x_test, y_test=digits.y_test)  # fmt: skip
    good = _keras_file(tmp_path, trained_mlp)
    for make in (_bomb, _truncated):
        path = make(tmp_path, good)
        tally.bad_input()
        proc = run_cli_here("gate", str(path), "--data", "d.npz", "--no-promote", cwd=tmp_path)
        assert proc.returncode == GateExit.BAD_INPUT, proc.stdout + proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("mlchecks: error: model file")
        assert "Traceback" not in proc.stderr


def test_uncompiled_model_still_loads_and_predicts(tmp_path, digits):
    from mlchecks.model import zoo

    model = zoo.mlp(digits.input_shape, 10)
    model.save(tmp_path / "uncompiled.keras")
    loaded = load_model(tmp_path / "uncompiled.keras")
    assert loaded.predict(digits.x_test[:3], verbose=0).shape == (3, 10)


def test_trust_candidate_is_what_lets_code_run(lambda_file):
    """The documented danger of --trust-candidate: with safe mode off, code in the file runs."""
    path, marker = lambda_file
    model = load_model(path, safe_mode=False)
    assert model.get_layer("sneaky") is not None
    assert marker.exists()  # the same file that safe mode refused did run code once trusted


def test_trusted_flag_cannot_come_from_a_config_file():
    from mlchecks.config import settings_from_table
    from mlchecks.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        settings_from_table({"models": [{"name": "m", "trusted": True}]}, {})
