"""Data-check results memoised by data content, checks, reference profile and code version."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from mlchecks.data import expectations, load_dataset, memo
from mlchecks.data.dataset import from_arrays


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _scoped(**overrides):
    checks = expectations.DataChecks.from_tables(overrides or None)
    return [(None, checks)]


def _statuses(grouped):
    return {cid: [(r.passed, r.status, r.message) for r in rs] for cid, rs in grouped.items()}


def test_a_memo_hit_equals_the_computed_results(tmp_path, digits):
    first = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    files = list(tmp_path.glob("data-checks-*.json"))
    assert len(files) == 1
    assert memo.is_memoised(digits, _scoped(), "auto", tmp_path)
    second = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    assert second == first  # CheckResult equality: ids, values, messages, typed details


def test_a_memo_hit_does_not_import_great_expectations(tmp_path, digits):
    memo.run_scopes(digits, _scoped(), folder=tmp_path)
    script = (
        "import sys\n"
        "from mlchecks.data import expectations, load_dataset, memo\n"
        "ds = load_dataset('digits')\n"
        "scoped = [(None, expectations.DataChecks.from_tables())]\n"
        "from pathlib import Path\n"
        f"grouped = memo.run_scopes(ds, scoped, folder=Path({str(tmp_path)!r}))\n"
        "print(len(grouped['data.schema']), 'great_expectations' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    assert out == ["1", "False"]


def test_another_byte_of_data_is_another_key(tmp_path, digits):
    memo.run_scopes(digits, _scoped(), folder=tmp_path)
    x = digits.x_test.copy()
    x[3, 5] = np.nan
    changed = from_arrays(digits.name, digits.x_train, digits.y_train, x, digits.y_test)
    grouped = memo.run_scopes(changed, _scoped(), folder=tmp_path)
    assert not grouped["data.finite"][0].passed  # computed on the changed data, not memoised
    assert len(list(tmp_path.glob("data-checks-*.json"))) == 2


def test_another_threshold_or_reference_is_another_key(digits):
    base = memo.memo_key(digits, _scoped(), "auto")
    assert memo.memo_key(digits, _scoped(min_train_rows=5000), "auto") != base
    assert memo.memo_key(digits, _scoped(), None) != base
    profile = expectations.run(digits).profile
    other = json.loads(json.dumps(profile))
    other["splits"] = "edited"
    assert memo.memo_key(digits, _scoped(), profile) != memo.memo_key(digits, _scoped(), other)


def test_a_failing_result_is_memoised_as_failing(tmp_path, digits):
    scoped = _scoped(min_train_rows=5000)
    first = memo.run_scopes(digits, scoped, folder=tmp_path)
    assert not first["data.row_counts"][0].passed
    second = memo.run_scopes(digits, scoped, folder=tmp_path)
    assert second["data.row_counts"] == first["data.row_counts"]


@pytest.mark.parametrize("damage", ["garbage", "other key", "bad result"])
def test_an_unusable_memo_is_recomputed(tmp_path, digits, damage):
    first = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    (path,) = tmp_path.glob("data-checks-*.json")
    stored = json.loads(path.read_text())
    if damage == "garbage":
        path.write_text("{not json")
    elif damage == "other key":
        # a memo whose recorded key is not the one recomputed (e.g. edited by hand): ignored
        stored["key"] = "0" * 64
        stored["results"]["data.finite"][0]["passed"] = False
        path.write_text(json.dumps(stored))
    else:
        stored["results"]["data.finite"] = [{"id": 3}]
        path.write_text(json.dumps(stored))
    assert not memo.is_memoised(digits, _scoped(), "auto", tmp_path)
    again = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    assert _statuses(again) == _statuses(first)
    assert memo.is_memoised(digits, _scoped(), "auto", tmp_path)  # rewritten


def test_no_folder_means_no_memo(digits):
    grouped = memo.run_scopes(digits, _scoped(), folder=None)
    assert grouped["data.schema"][0].passed


def test_an_unwritable_folder_is_not_an_error(tmp_path, digits):
    blocker = tmp_path / "file"
    blocker.write_text("")
    grouped = memo.run_scopes(digits, _scoped(), folder=blocker / "sub")
    assert grouped["data.schema"][0].passed
    assert dataclasses.is_dataclass(grouped["data.schema"][0])
