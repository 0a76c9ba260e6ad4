"""A new user's project, end to end (issue 15, items 1-5): a fresh folder with its own
pyproject.toml and builder module (a small Keras model on digits), ``mlchecks init``, the
shipped suites switched on (``mlchecks_suites = true``), ``pytest --junitxml --html
--mlchecks-promote`` (the first version), ``mlchecks gate`` under a new ``--name`` (a warning),
``mlchecks registry list`` and ``mlchecks lint``: all green.

Every command is the installed console script (``<venv>/bin/pytest``, ``<venv>/bin/mlchecks``),
run from the project folder without PYTHONPATH: ``python -m`` would put the folder on sys.path
itself and hide whether mlchecks makes the project importable. The project trains one model,
once: pytest fills the project's model cache and the gate and lint reuse it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from mlchecks.run.lineage import name_for, new_lineage

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent

BUILDER = '''"""The project's own model."""

import keras
from keras import layers


def build(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = layers.Flatten()(inputs)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mine")
'''

PYPROJECT = """[project]
name = "myproject"
version = "0.1.0"

[tool.black]
line-length = 88
"""

PYTEST_INI = """
[tool.pytest.ini_options]
testpaths = ["tests"]
mlchecks_suites = true
"""


def _run(tool: str, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("PYTEST_", "MLCHECKS_"))}  # fmt: skip
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("myproject")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "mymodels.py").write_text(BUILDER)
    return root


@pytest.fixture(scope="module")
def initialised(project):
    result = _run("mlchecks", "init", "--builder", "mymodels:build", "--epochs", "5", cwd=project)
    with (project / "pyproject.toml").open("a") as f:  # the step init's output names
        f.write(PYTEST_INI)
    return result


@pytest.fixture(scope="module")
def pytest_run(project, initialised):
    # --mlchecks-promote: the pytest door of the gate; with the suites in the run it promotes
    return _run("pytest", "-v", "-p", "no:cacheprovider", "--junitxml=junit.xml",
                "--html=report.html", "--self-contained-html", "--mlchecks-promote",
                cwd=project)  # fmt: skip


@pytest.fixture(scope="module")
def gated(project, pytest_run):
    """``mlchecks gate`` under a new name: lineage other.mymodels beside mymodels."""
    return _run("mlchecks", "gate", "--name", "other", "--json", "decision.json", cwd=project)


def test_init_extends_the_users_pyproject(project, initialised):
    out = _ok(initialised)
    assert "tests/test_model_quality.py" in out
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)
    table = tomllib.loads(text)["tool"]["mlchecks"]
    assert table["models"] == [{"name": "mymodels", "builder": "mymodels:build", "epochs": 5}]
    assert (project / "tests" / "test_model_quality.py").is_file()


def test_pytest_runs_the_users_tests_and_the_shipped_suites_with_short_ids(project, pytest_run):
    out = _ok(pytest_run)
    # terminal: the suites' ids start with mlchecks/, the user's with tests/
    assert "mlchecks/test_accuracy.py::test_accuracy_min[mymodels] PASSED" in out
    assert "tests/test_model_quality.py::test_outputs_are_probabilities[mymodels] PASSED" in out
    assert "tests/test_model_quality.py::test_accuracy_floor[mymodels] PASSED" in out
    junit = (project / "junit.xml").read_text()
    suite = ET.fromstring(junit).find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    classnames = {case.get("classname") for case in suite.iter("testcase")}
    assert {"mlchecks.test_setup", "mlchecks.test_data", "mlchecks.test_accuracy",
            "mlchecks.test_behaviour", "mlchecks.test_speed", "mlchecks.test_regression",
            "tests.test_model_quality"} <= classnames  # fmt: skip
    html = (project / "report.html").read_text()
    assert "mlchecks/test_accuracy.py::test_accuracy_min[mymodels]" in html
    assert "mlchecks: mymodels promoted to 'mymodels' version 0001" in out
    ids = [x.split()[0] for x in out.splitlines() if "::" in x and "[" in x]  # -v: a line a test
    ids += [f"{c.get('classname')}.{c.get('name')} {c.get('file')}" for c in suite.iter("testcase")]
    ids += re.findall(r"[^\s\"'&;]*::[^\s\"'&;]*", html)
    assert sum("mlchecks/test_" in i for i in ids) >= 60
    # neither an installed wheel's folder nor a source checkout's
    assert not [i for i in ids if re.search(r"site-packages|_suites|suites/test_", i)]


def test_gate_under_a_new_name_warns_that_it_starts_a_lineage_beside_the_existing_one(
        project, gated):  # fmt: skip
    out = _ok(gated)
    assert "ACCEPTED" in out and "promoted to 'other.mymodels' version 0001" in out
    line = next(x for x in out.splitlines() if "regression.lineage" in x)
    assert line.split()[0] in ("WARN", "WARNING")
    assert "'other.mymodels'" in line and "'mymodels'" in line and "--name default" in line
    decision = json.loads((project / "decision.json").read_text())
    (check,) = [c for c in decision["checks"] if c["id"] == "regression.lineage"]
    assert (check["status"], check["model"]) == ("warning", "mymodels")
    assert decision["counts"]["warnings"] >= 1


def test_registry_list_lists_every_lineage(project, gated):
    out = _ok(_run("mlchecks", "registry", "list", cwd=project))
    assert "  mymodels: champion 0001" in out and "  other.mymodels: champion 0001" in out


def test_lint_builds_the_users_builder(project, pytest_run):
    out = _ok(_run("mlchecks", "lint", "mymodels:build", cwd=project))
    assert "0 finding(s)" in out


def test_a_builder_that_cannot_import_names_the_module_the_root_and_the_fix(tmp_path):
    (tmp_path / "mlchecks.toml").write_text('[[models]]\nname = "x"\nbuilder = "nomodule:build"\n')
    result = _run("mlchecks", "gate", "--no-promote", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("mlchecks: error: ")
    assert "'nomodule'" in line and f"project root {tmp_path.resolve()}" in line
    assert "put nomodule.py" in line and "pip install -e ." in line


# --- the pieces, in process ------------------------------------------------------------------


def test_trained_model_forwards_to_the_keras_model_and_names_model_otherwise(trained_mlp, digits):
    x = digits.x_test[:8]
    np.testing.assert_array_equal(trained_mlp.predict(x, verbose=0),
                                  trained_mlp.model.predict(x, verbose=0))  # fmt: skip
    np.testing.assert_array_equal(np.asarray(trained_mlp(x)), np.asarray(trained_mlp.model(x)))
    lines: list[str] = []
    trained_mlp.summary(print_fn=lambda line, **_: lines.append(line))
    assert "hidden" in "\n".join(lines)  # the Keras model's own summary
    with pytest.raises(AttributeError, match=r"its \.model \(use \.model\.layers\)"):
        trained_mlp.layers  # noqa: B018


def test_the_lineage_warning_names_the_new_lineage_the_others_and_the_name_to_give():
    assert new_lineage("tiny", "tiny", []) is None  # the first lineage of a registry
    assert new_lineage("tiny", "tiny", ["tiny", "cnn"]) is None  # an existing lineage
    warning = new_lineage("digits-cnn.tiny", "tiny", ["default.x", "tiny", "exp.tiny"])
    assert warning is not None and warning.status == "warning" and not warning.blocking
    assert "'digits-cnn.tiny'" in warning.message
    assert "'default.x', 'exp.tiny', 'tiny'" in warning.message
    assert "--name exp for 'exp.tiny'; --name default for 'tiny'" in warning.message
    other = new_lineage("cand", "cand", ["default", "tiny"], candidate=True)  # a .keras file
    assert other is not None and "give --name default; --name tiny" in other.message
    unrelated = new_lineage("x.cnn", "cnn", ["default"])
    assert unrelated is not None and "gate its .keras file with --name LINEAGE" in unrelated.message
    assert (name_for("tiny", "tiny"), name_for("a.b.tiny", "tiny"), name_for("cnn", "tiny")) == (
        "default", "a.b", None)  # fmt: skip
