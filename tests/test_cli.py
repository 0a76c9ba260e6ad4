"""`mlchecks gate` end to end through the real command: bad input in subprocesses (the
program's exit code and one line, before Keras is imported), gates through ``main()`` in
this process (the same parser, gate and output; no second TensorFlow import)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import run_cli, run_cli_here

from mlchecks.errors import GateExit


def _assert_bad_input(proc, *fragments):
    assert proc.returncode == GateExit.BAD_INPUT, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("mlchecks: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


@pytest.fixture
def workdir(tmp_path):
    # a folder without [tool.mlchecks]: built-in defaults, and nothing written to the repo
    (tmp_path / "mlchecks.toml").write_text(
        f'cache_dir = "{tmp_path / "cache"}"\nregistry = "{tmp_path / "registry"}"\n'
        f'reports = "{tmp_path / "reports"}"\n'
    )
    return tmp_path


def test_unknown_dataset(workdir):
    _assert_bad_input(run_cli("gate", "--data", "imagenet", cwd=workdir), "'imagenet'", "digits")


def test_npz_without_the_keys(workdir):
    np.savez(workdir / "d.npz", images=np.zeros((4, 8, 8)))
    _assert_bad_input(run_cli("gate", "--data", "d.npz", cwd=workdir), "x_train", "np.savez")


def test_float_labels(workdir):
    rng = np.random.default_rng(0)
    np.savez(
        workdir / "f.npz",
        x_train=rng.random((20, 8, 8)), y_train=rng.random(20) * 3,
        x_test=rng.random((10, 8, 8)), y_test=rng.random(10) * 3,
    )  # fmt: skip
    _assert_bad_input(run_cli("gate", "--data", "f.npz", cwd=workdir), "float labels")


def test_missing_model_file(workdir):
    _assert_bad_input(
        run_cli("gate", "missing.keras", cwd=workdir), "missing.keras", "does not exist"
    )


def test_bad_option_value(workdir):
    _assert_bad_input(run_cli("gate", "--min-accuracy", "2", cwd=workdir), "--min-accuracy")


def test_bad_config(workdir):
    (workdir / "mlchecks.toml").write_text("[thresholds]\nmin_accuracy = 'high'\n")
    _assert_bad_input(run_cli("gate", cwd=workdir), "min_accuracy", "mlchecks.toml")


def test_gate_on_a_candidate_file_writes_the_decision(workdir, trained_mlp, digits):
    trained_mlp.model.save(workdir / "candidate.keras")
    np.savez(
        workdir / "digits.npz",
        x_train=digits.x_train, y_train=digits.y_train,
        x_test=digits.x_test, y_test=digits.y_test,
    )  # fmt: skip
    hypothesis_no_plugins = "HYPOTHESIS_NO_PLUGINS" in os.environ
    proc = run_cli_here(
        "gate", "candidate.keras", "--data", "digits.npz", "--json", "out/decision.json",
        "--min-accuracy", "0.9", "--no-promote", cwd=workdir,
    )  # fmt: skip
    assert proc.returncode == GateExit.ACCEPTED, proc.stdout + proc.stderr
    assert "ACCEPTED" in proc.stdout
    # the suite run's own environment does not outlive it in the caller's process
    assert ("HYPOTHESIS_NO_PLUGINS" in os.environ) == hypothesis_no_plugins
    decision = json.loads((workdir / "out" / "decision.json").read_text())
    assert decision["decision"] == "accepted"
    assert set(decision) >= {
        "decision", "name", "version", "champion_before", "champion_after", "checks", "report",
    }  # fmt: skip
    acc = next(c for c in decision["checks"] if c["id"] == "accuracy.min")
    assert acc["category"] == "accuracy" and acc["passed"] is True
    assert acc["threshold"] == 0.9 and 0.95 <= acc["value"] <= 1.0

    strict = run_cli_here(
        "gate", "candidate.keras", "--data", "digits.npz", "--json", "strict.json",
        "--min-accuracy", "0.999", "--no-promote", cwd=workdir,
    )  # fmt: skip
    assert strict.returncode == GateExit.REJECTED, strict.stdout + strict.stderr
    assert "REJECTED" in strict.stdout and "accuracy.min" in strict.stdout
    rejected = json.loads((workdir / "strict.json").read_text())
    assert rejected["decision"] == "rejected"
    assert any(c["id"] == "accuracy.min" and not c["passed"] for c in rejected["checks"])
