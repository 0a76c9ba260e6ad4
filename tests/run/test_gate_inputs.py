"""What the Gate refuses before judging (a model with several outputs) and how it keeps what it
judges: the bytes promoted are the bytes judged, and a run missing a category is no gate."""

from __future__ import annotations

import pytest

from mlchecks.errors import GateExit


# ------------------------------------------------------------------ a model with two outputs
@pytest.mark.slow
def test_a_model_with_two_outputs_is_exit_2_before_any_check(tmp_path, monkeypatch, capsys):
    import keras

    from mlchecks.cli import main

    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    heads = [keras.layers.Dense(10, activation="softmax", name=n)(flat) for n in ("a", "b")]
    keras.Model(inputs, heads).save(tmp_path / "two.keras")
    (tmp_path / "mlchecks.toml").write_text('data = "digits"\nregistry = "reg"\n'
                                            'reports = "reports"\ncache_dir = "cache"\n')  # fmt: skip
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()

    assert main(["gate", "two.keras", "--no-promote"]) == GateExit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, err
    assert "2 outputs" in err and "two.keras" in err
    assert not (tmp_path / "reports").exists()  # refused before the suites ran


# ------------------------------------------------------------------ judge the bytes you promote
def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_candidate_swapped_while_the_gate_waits_is_not_what_is_promoted(trained_mlp, tmp_path):
    """The gate copies and hashes the candidate once; replacing the file while the gate waits
    for the lineage lock changes nothing it judges or promotes."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    from mlchecks.registry import open_registry

    candidate = tmp_path / "candidate.keras"
    shutil.copy(trained_mlp.path, candidate)
    original = _sha(candidate)
    (tmp_path / "mlchecks.toml").write_text(
        'data = "digits"\nregistry = "reg"\nreports = "none"\ncache_dir = "cache"\n')
    registry = open_registry(tmp_path / "reg")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTEST_ADDOPTS": ""}
    with registry.gate_lock("default"):  # another gate holds the lineage
        proc = subprocess.Popen([sys.executable, "-m", "mlchecks", "gate", str(candidate)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        lines = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "waiting for another gate" in line or not line:
                break
        assert any("waiting for another gate" in x for x in lines), "".join(lines)
        candidate.write_bytes(b"PK\x03\x04 not the model that was judged")  # the swap
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == GateExit.ACCEPTED, "".join(lines) + out
    record = registry.record("default", registry.state("default").champion)
    assert record.model_sha256 == original != _sha(candidate)


SWAP_CONFTEST = """
import shutil
def pytest_collection_finish(session):
    shutil.copy({other!r}, {candidate!r})  # the file changes once the run has started
"""


@pytest.mark.slow
def test_the_pytest_door_promotes_the_bytes_it_judged_and_needs_every_category(
    trained_mlp, trained_cnn, pytester
):
    from pathlib import Path

    from mlchecks.registry import open_registry

    root = Path(__file__).resolve().parents[2]
    candidate = pytester.path / "candidate.keras"
    candidate.write_bytes(Path(trained_mlp.path).read_bytes())
    original = _sha(candidate)
    pytester.makefile(".toml", pyproject='[tool.mlchecks]\ndata = "digits"\nregistry = "reg"\n'
                      'reports = "none"\ncache_dir = "cache"\n')  # fmt: skip
    pytester.makepyfile(**{s.stem: s.read_text() for s in (root / "suites").glob("test_*.py")})
    args = ("-p", "no:cacheprovider", f"--mlchecks-candidate={candidate}", "--mlchecks-promote")

    # tests deselected: the run may pass, but it is not a gate
    partial = pytester.runpytest(*args, "-k", "setup or probabilities")
    assert partial.ret == GateExit.BAD_INPUT, partial.stdout.str()[-2000:]
    partial.stdout.fnmatch_lines(["*nothing promoted: no data, accuracy, *check ran*"])
    assert not (pytester.path / "reg" / "default").exists()

    pytester.makeconftest(SWAP_CONFTEST.format(other=str(trained_cnn.path),
                                               candidate=str(candidate)))  # fmt: skip
    whole = pytester.runpytest(*args)
    assert whole.ret == GateExit.ACCEPTED, whole.stdout.str()[-3000:]
    registry = open_registry(pytester.path / "reg")
    record = registry.record("default", registry.state("default").champion)
    assert record.model_sha256 == original != _sha(candidate)
