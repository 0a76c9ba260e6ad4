"""NaN or inf in the data's inputs is the data's fault (``data.finite``), not the model's: the
checks that judge a model from its predictions on those inputs (``accuracy.*``,
``behaviour.*``) are not judged and point to ``data.finite`` (issue 17: "NaN inputs blamed on
the model"). The gate still rejects, through ``data.finite``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def nan_npz(folder: Path, digits, *, split: str, rows: int = 5) -> Path:
    """digits as an .npz with NaN in one pixel of the first ``rows`` samples of ``split``."""
    arrays = {k: np.array(getattr(digits, k)) for k in ("x_train", "y_train", "x_test", "y_test")}
    arrays[f"x_{split}"][:rows, 3, 3, 0] = np.nan
    path = folder / f"nan_{split}.npz"
    np.savez(path, **arrays)
    return path


def test_the_dataset_counts_samples_with_nonfinite_inputs_per_split(digits, tmp_path):
    from mlchecks.data import load_dataset

    assert digits.nonfinite == {"train": 0, "test": 0}
    assert load_dataset(str(nan_npz(tmp_path, digits, split="test"))).nonfinite == {
        "train": 0, "test": 5,
    }  # fmt: skip
    assert load_dataset(str(nan_npz(tmp_path, digits, split="train", rows=7))).nonfinite == {
        "train": 7, "test": 0,
    }  # fmt: skip


def test_checks_on_predictions_are_not_judged_when_inputs_hold_nan(digits, tmp_path):
    from mlchecks.checks.accuracy import inputs_not_finite
    from mlchecks.data import load_dataset

    assert inputs_not_finite("accuracy.min", "accuracy", digits, model="mlp") is None
    test_nan = load_dataset(str(nan_npz(tmp_path, digits, split="test")))
    result = inputs_not_finite("accuracy.min", "accuracy", test_nan, model="mlp")
    assert result is not None and result.status == "not_judged" and not result.blocking
    assert (result.id, result.category, result.model) == ("accuracy.min", "accuracy", "mlp")
    assert result.message.startswith("not judged: inputs contain NaN or inf")
    assert "5 of 450 test samples" in result.message and "see data.finite" in result.message
    train_nan = load_dataset(str(nan_npz(tmp_path, digits, split="train")))
    # a model trained elsewhere (a .keras candidate) is judged on finite test inputs...
    assert inputs_not_finite("accuracy.min", "accuracy", train_nan, model="mlp") is None
    # ...one trained here learnt from NaN: its predictions are the data's doing too
    trained = inputs_not_finite("behaviour.simplex", "behaviour", train_nan, model="mlp",
                                trained_here=True)  # fmt: skip
    assert trained is not None and trained.status == "not_judged"
    assert "5 of 1347 train samples it was trained on" in trained.message


def test_the_suites_blame_the_data_not_the_model(pytester, trained_mlp, digits, model_cache):
    """The shipped accuracy, behaviour and data suites on digits with NaN in 5 test samples,
    a real trained MLP as the candidate: data.finite fails, every accuracy.* and behaviour.*
    check is not judged (a skip naming data.finite), none passes or fails on NaN outputs."""
    data = nan_npz(pytester.path, digits, split="test")
    pytester.makefile(".toml", pyproject=(
        f'[tool.mlchecks]\ndata = "{data}"\ncache_dir = "{model_cache.root}"\n'
        'reports = "none"\nregistry = "reg"\n'))  # fmt: skip
    for suite in ("test_accuracy.py", "test_behaviour.py", "test_data.py"):
        shutil.copy(ROOT / "suites" / suite, pytester.path / suite)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-rA",
                                f"--mlchecks-candidate={trained_mlp.path}")  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, result.stdout.str()[-3000:]  # data.finite only
    result.stdout.fnmatch_lines(["FAILED test_data.py::test_finite*"])
    text = result.stdout.str()
    for check in ("accuracy.min", "accuracy.class_recall", "accuracy.ece", "accuracy.loss",
                  "behaviour.simplex", "behaviour.batch_size", "behaviour.order",
                  "behaviour.round_trip", "behaviour.noise"):  # fmt: skip
        assert f"[{check}] not judged: inputs contain NaN or inf" in text, check
    judged = [line for line in text.splitlines()
              if line.startswith(("PASSED test_accuracy", "PASSED test_behaviour"))]  # fmt: skip
    assert judged == []
