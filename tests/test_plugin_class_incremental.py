"""``pytest --mlchecks-promote`` on a class-incremental lineage (issue 16): the pytest door takes
the class space from the saved model's head, as ``mlchecks gate`` does.

Version 1 (digits 0-1, a 4-unit head) is promoted by an in-process gate; version 2 (trained on
digits 0-3, a head grown to 10 units) is judged and promoted by a real pytest run (pytester,
in this process) of the shipped suites in a tiny project whose data holds only digits 2 and 3.
Before the fix the pytest door never fitted the data to the head: the class space was the
labels' (4), not the head's (10), so the checks judged a 4-class data set and a 10-unit head
on 2-3 after a 10-unit champion was refused at promotion (exit 2, "class space of 10 classes,
but the candidate and --data give 4")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlchecks.config import settings_from_table
from mlchecks.errors import GateExit

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted((ROOT / "suites").glob("test_*.py"))
EPOCHS = 8


def _task(digits, classes):
    tr, te = np.isin(digits.y_train, classes), np.isin(digits.y_test, classes)
    return {"x_train": digits.x_train[tr], "y_train": digits.y_train[tr],
            "x_test": digits.x_test[te], "y_test": digits.y_test[te]}  # fmt: skip


def _project(folder: Path, data: Path, registry: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        f'[tool.mlchecks]\nname = "inc"\ndata = "{data}"\nclasses = [2, 3]\n'
        f'scenario = "class"\nregistry = "{registry}"\nreports = "none"\n'
        f'cache_dir = "{folder / "cache"}"\n'
    )
    for suite in SUITES:
        (folder / suite.name).write_text(suite.read_text())
    return folder


def _pytest(pytester: pytest.Pytester, candidate: Path) -> pytest.RunResult:
    return pytester.runpytest(
        "-q", "-p", "no:cacheprovider", f"--mlchecks-candidate={candidate}", "--mlchecks-promote"
    )


@pytest.mark.slow
def test_pytest_promote_takes_a_class_incremental_version_and_refuses_labels_beyond_its_head(
    digits, tmp_path, pytester
):
    from mlchecks.model import training, zoo
    from mlchecks.plugin.runner import run_suites
    from mlchecks.registry import open_registry
    from mlchecks.run.gate import Gate

    first, second = _task(digits, (0, 1)), _task(digits, (2, 3))
    np.savez(tmp_path / "task1.npz", **first)
    np.savez(tmp_path / "task2.npz", **second)
    training.set_seed(0)
    model = zoo.mlp(digits.x_train.shape[1:], 4)  # version 1: a 4-unit head
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(first["x_train"], first["y_train"], epochs=EPOCHS, verbose=0)
    model.save(tmp_path / "v1.keras")
    model = zoo.mlp(digits.x_train.shape[1:], 10)  # version 2 grows it to 10, a new model
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.concatenate([second["x_train"], first["x_train"]]),  # joint: nothing forgotten
              np.concatenate([second["y_train"], first["y_train"]]), epochs=EPOCHS,
              verbose=0)  # fmt: skip
    model.save(tmp_path / "v2.keras")
    registry = tmp_path / "registry"
    table = {"name": "inc", "registry": str(registry), "data": str(tmp_path / "task1.npz"),
             "classes": [0, 1], "scenario": "class"}  # fmt: skip
    settings = settings_from_table(table, {}, root=str(tmp_path))
    with Gate.for_settings(settings, candidate=tmp_path / "v1.keras") as gate:
        assert gate.run(run_suites).version == "0001"

    _project(pytester.path, tmp_path / "task2.npz", registry)
    done = _pytest(pytester, tmp_path / "v2.keras")
    out = done.stdout.str() + done.stderr.str()
    assert done.ret == GateExit.ACCEPTED, out[-4000:]
    assert "mlchecks: inc promoted to 'inc' version 0002" in out
    store = open_registry(registry)
    assert store.state("inc").champion == "0002"
    holdout = store.holdout("inc", store.record("inc", "0002").holdout)
    assert holdout.num_classes == 10 and set(np.unique(holdout.y)) == {2, 3}  # the head's
    assert store.holdout("inc", store.record("inc", "0001").holdout).num_classes == 4
    checks = {c["id"]: c for c in store.record("inc", "0002").checks}
    assert checks["regression.forgetting"]["details"]["scenario"] == "class"
    assert checks["data.classes_present"]["passed"]

    # a 3-unit head cannot predict label 3: bad input (exit 2), the registry unchanged
    narrow = zoo.mlp(digits.x_train.shape[1:], 3)
    narrow.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    narrow.save(tmp_path / "head3.keras")
    refused = _pytest(pytester, tmp_path / "head3.keras")
    out = refused.stdout.str() + refused.stderr.str()
    assert refused.ret == GateExit.BAD_INPUT, out[-4000:]
    assert "output head of 3 unit(s)" in out and "class id 3" in out
    assert "nothing promoted: bad input; the registry is unchanged" in out
    assert open_registry(registry).state("inc").champion == "0002"
