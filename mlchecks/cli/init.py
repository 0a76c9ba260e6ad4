"""``mlchecks init [DIR]``: a starter configuration and a first test file for a project.

Writes ``[tool.mlchecks]`` into ``DIR/pyproject.toml`` (appended: everything already in the file
stays as it was) or, without a pyproject.toml, ``DIR/mlchecks.toml``; and
``DIR/tests/test_model_quality.py``, tests of the configured model on mlchecks' fixtures that pass
on any model that learnt something. Nothing is overwritten: an existing ``[tool.mlchecks]``,
``mlchecks.toml`` or test file is a usage error (exit 2) naming the file, and nothing is written
then.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from mlchecks.config.options import bounded
from mlchecks.errors import ConfigError, GateExit

TEST_FILE = Path("tests") / "test_model_quality.py"

_epochs = bounded(int, 1, 10_000, "an integer from 1 to 10000")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the project folder (default: the current one)")  # fmt: skip
    parser.add_argument("--builder", default="mlp", metavar="MODULE:FUNCTION",
                        help="your model builder, (input_shape, num_classes) -> keras.Model, "
                        "in DIR or installed (default: mlchecks' reference mlp)")  # fmt: skip
    parser.add_argument("--data", default="digits", metavar="DATASET",
                        help="the data to train and judge on: digits, mnist, fashion_mnist, "
                        "a .npz or a folder (default digits)")  # fmt: skip
    parser.add_argument("--epochs", type=_epochs, default=10, metavar="N",
                        help="training epochs of the model (default 10)")  # fmt: skip
    parser.add_argument("--model-name", default=None, metavar="NAME",
                        help="the model's name, also its registry lineage (default: the "
                        "builder's module)")  # fmt: skip


def run(args: argparse.Namespace) -> GateExit:
    """Write the starter files; 0 when written, 2 (a ConfigError) when one exists already."""
    from mlchecks.config import NAME_RULE, is_valid_name

    root = Path(args.dir).expanduser()
    if not root.is_dir():
        msg = f"DIR {str(root)!r} is not a folder; give an existing project folder"
        raise ConfigError(msg)
    builder = _check_builder(args.builder, root)
    name = args.model_name or _default_name(builder)
    if not is_valid_name(name):
        msg = f"--model-name {name!r} is not a valid name; use {NAME_RULE} (e.g. mnist-mlp)"
        raise ConfigError(msg)
    data = _toml_string(args.data)
    pyproject, standalone = root / "pyproject.toml", root / "mlchecks.toml"
    test_file = root / TEST_FILE
    if standalone.exists():
        raise ConfigError(_exists(standalone, "holds mlchecks' configuration already"))
    if pyproject.is_file():
        text, parsed = _read(pyproject)
        tool = parsed.get("tool")
        if isinstance(tool, dict) and "mlchecks" in tool:
            raise ConfigError(_exists(pyproject, "has a [tool.mlchecks] table already"))
        text = text + ("" if text.endswith("\n") or not text else "\n") + "\n"
        text += starter_config(builder, name, data, args.epochs, prefix="tool.mlchecks")
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = (
                f"{pyproject} cannot take a [tool.mlchecks] table ({exc}); its "
                "'tool' key is not a table: add the table by hand (README: Use it in your project)"
            )
            raise ConfigError(msg) from None
        config_file, config_text = pyproject, text
    else:
        config_file = standalone
        config_text = starter_config(builder, name, data, args.epochs, prefix="")
    if test_file.exists():
        raise ConfigError(_exists(test_file, "exists already"))

    from mlchecks._util.io import atomic_write

    test_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(test_file, STARTER_TESTS)
    atomic_write(config_file, config_text)
    table = "[tool.mlchecks] into" if config_file == pyproject else "the configuration"
    print(f"mlchecks init: wrote {table} {config_file}")
    print(f"mlchecks init: wrote {test_file}")
    print("next: `pytest` runs the tests on your model; `mlchecks gate` judges it and, when "
          "accepted, promotes it into the registry")  # fmt: skip
    print("      add `mlchecks_suites = true` to your pytest configuration ([tool.pytest."
          "ini_options]) to run mlchecks' shipped suites in `pytest` too")  # fmt: skip
    return GateExit.ACCEPTED


def _exists(path: Path, what: str) -> str:
    return (
        f"{path} {what}; nothing written (mlchecks init never overwrites: "
        "edit that file, or move it away and run mlchecks init again)"
    )


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path} ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML ({exc}); fix it first"
        raise ConfigError(msg) from None


def _check_builder(builder: str, root: Path) -> str:
    """A zoo name, or ``module:function`` whose module is in ``root`` or installed (found, not
    imported: importing a model module may import Keras)."""
    from mlchecks.model.zoo import REFERENCE

    if builder in REFERENCE:
        return builder
    module, sep, function = builder.partition(":")
    pattern = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"
    if not sep or not re.fullmatch(pattern, module) or not re.fullmatch(r"[A-Za-z_]\w*", function):
        msg = (
            f"--builder {builder!r} must be one of {sorted(REFERENCE)} or MODULE:FUNCTION, e.g. "
            "mymodels:build (a function (input_shape, num_classes) -> keras.Model)"
        )
        raise ConfigError(msg)
    top = module.split(".")[0]
    found = importlib.machinery.PathFinder.find_spec(top, [str(root.resolve()), *sys.path])
    if found is None:
        msg = (
            f"--builder {builder!r}: no module {top!r} in {root.resolve()} nor installed; "
            f"put {top}.py in the project folder (or pip install your package), or give "
            "another --builder"
        )
        raise ConfigError(msg)
    return builder


def _default_name(builder: str) -> str:
    if ":" not in builder:
        return builder
    module = builder.partition(":")[0].split(".")[-1]
    name = re.sub(r"[^A-Za-z0-9._-]", "-", module).strip("-._") or "model"
    return name[:100]


def _toml_string(value: str) -> str:
    import json

    return json.dumps(value)  # a JSON string is a TOML basic string


def starter_config(builder: str, name: str, data: str, epochs: int, prefix: str) -> str:
    """The starter table; ``prefix`` is ``tool.mlchecks`` in a pyproject.toml, empty in an
    mlchecks.toml."""
    head = f"[{prefix}]\n" if prefix else ""
    dot = f"{prefix}." if prefix else ""
    return f"""{head}# Written by `mlchecks init`; README "Use it in your project" explains it.
data = {data}
seed = 0

[{dot}thresholds]
# min_accuracy = 0.9  # the accuracy floor, judged on its 95% lower bound (default: 3x chance)
# max_accuracy_drop = 0.5  # how far a new version may fall below the champion, in pp

[[{dot}models]]
name = "{name}"  # also its lineage in the registry (.mlchecks/registry)
builder = "{builder}"  # (input_shape, num_classes) -> keras.Model
epochs = {epochs}
"""


STARTER_TESTS = '''"""Quality tests of this project's model, on mlchecks' pytest fixtures.

Each test runs once per configured model ([[tool.mlchecks.models]]); the model is trained once
per run (and cached in .mlchecks/cache). README "Fixtures" lists every fixture.
"""

import numpy as np
import pytest

from mlchecks.result import CheckResult


def test_outputs_are_probabilities(mlchecks_trained_model, mlchecks_dataset):
    # mlchecks_trained_model forwards predict, evaluate, __call__ and summary to the Keras
    # model; the model itself is mlchecks_trained_model.model.
    x = mlchecks_dataset.x_test[:32]
    probabilities = np.asarray(mlchecks_trained_model.predict(x, verbose=0))
    assert probabilities.shape == (len(x), mlchecks_dataset.num_classes)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)


def test_accuracy_floor(mlchecks_model_spec, mlchecks_evaluation, mlchecks_record_check):
    # A quarter of the way from chance to perfect: raise it to what your model must reach.
    chance = 1 / mlchecks_evaluation.num_classes
    floor = chance + (1 - chance) / 4
    accuracy = mlchecks_evaluation.accuracy
    # A recorded check goes to the gate's decision, the terminal summary, JUnit and the report.
    mlchecks_record_check(CheckResult(
        "accuracy.project_floor", "accuracy", accuracy >= floor, accuracy, floor,
        f"{mlchecks_model_spec.name}: test accuracy {accuracy:.4f} vs the project's floor "
        f"{floor:.4f}", model=mlchecks_model_spec.name,
    ))


def test_not_worse_than_the_champion(mlchecks_evaluation, mlchecks_champion):
    # The champion is the registry's current version of this model (`mlchecks gate` promotes);
    # the shipped regression suite (mlchecks_suites = true) compares them properly.
    if mlchecks_champion is None:
        pytest.skip("no champion yet: `mlchecks gate` promotes the first version")
    champion = mlchecks_champion.record.metrics["accuracy"]
    assert mlchecks_evaluation.accuracy >= champion - 0.05
'''
