"""TensorFlow's and Keras' noise stays out of a user's run (issue 15, item 9): in a user's
project with no ``filterwarnings`` of its own, pytest's summary lists none of the Keras
DeprecationWarnings raised inside mlchecks' calls, and neither pytest (without capture) nor
``mlchecks lint`` shows absl's or oneDNN's import-time lines, with ``TF_CPP_MIN_LOG_LEVEL``
unset; a user who sets it to 0 still gets TensorFlow's lines."""

from __future__ import annotations

import os
import subprocess
import sys

from mlchecks._util.quiet import filter_native

NOISE = ("absl::InitializeLog", "oneDNN custom operations", "DeprecationWarning", "port.cc")

USER_TEST = """
def test_accuracy(mlchecks_evaluation):
    assert mlchecks_evaluation.accuracy > 0.1


def test_predict(mlchecks_trained_model, mlchecks_dataset):
    out = mlchecks_trained_model.predict(mlchecks_dataset.x_test[:8], verbose=0)
    assert out.shape[0] == 8
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, **extra}


def test_a_user_project_sees_no_backend_noise(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlchecks]\ndata = "digits"\nreports = "none"\ncache_dir = "cache"\n'
        '[[tool.mlchecks.models]]\nname = "tiny"\nbuilder = "mlp"\nepochs = 1\n'
    )
    (tmp_path / "test_user.py").write_text(USER_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = done.stdout + done.stderr
    assert done.returncode == 0, text[-3000:]
    assert "2 passed" in text and "warning" not in text.lower(), text[-3000:]
    assert not [n for n in NOISE if n in text], text[-3000:]

    lint = subprocess.run(
        [sys.executable, "-m", "mlchecks", "lint", "mlp", "--data", "digits"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lint.returncode == 0, lint.stderr[-3000:]
    assert not [n for n in NOISE if n in lint.stderr], lint.stderr


def test_native_lines_are_filtered_by_the_users_level():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796187492.615881    7103 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796188167.078314   15050 cpu_feature_guard.cc:227] This TensorFlow binary\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild\n"
        "E0000 00:00:1796188167.078314   15050 cuda_dnn.cc:8310] Unable to register cuDNN\n"
        "a line of the user's own\n"
    )
    assert filter_native(text, 0) == text
    assert filter_native(text, 2) == (
        "E0000 00:00:1796188167.078314   15050 cuda_dnn.cc:8310] Unable to register cuDNN\n"
        "a line of the user's own\n"
    )
    assert filter_native(text, 3) == "a line of the user's own\n"
