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
    assert len(files) == 2  # the Great Expectations suite's results, and drift's
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
    assert len(list(tmp_path.glob("data-checks-*.json"))) == 4


def test_another_threshold_or_reference_is_another_key(digits):
    for part in memo.PARTS:
        base = memo.memo_key(digits, _scoped(), "auto", part)
        assert memo.memo_key(digits, _scoped(min_train_rows=5000), "auto", part) != base
    profile = expectations.run(digits).profile
    other = json.loads(json.dumps(profile))
    other["splits"] = "edited"
    # drift reads the whole reference profile: any change is another key
    drift = [memo.memo_key(digits, _scoped(), ref, memo.DRIFT) for ref in ("auto", None, profile,
                                                                            other)]  # fmt: skip
    assert len(set(drift[1:])) == 3 and drift[1] != drift[0]
    # the Great Expectations suite reads only the sample shape it declares
    suite = [memo.memo_key(digits, _scoped(), ref, memo.EXPECTATIONS) for ref in (profile, other)]
    assert suite[0] == suite[1]
    other["input_shape"] = [64]
    assert memo.memo_key(digits, _scoped(), other, memo.EXPECTATIONS) != suite[0]
    with pytest.raises(ValueError, match="memo part 'both': expected one of expectations, drift"):
        memo.memo_key(digits, _scoped(), "auto", "both")


def _shifted_profile(digits):
    """The profile of other data of digits' shape (every pixel halved): a champion accepted on
    other data than this gate's."""
    half = from_arrays(digits.name, digits.x_train * 0.5, digits.y_train, digits.x_test * 0.5,
                       digits.y_test)  # fmt: skip
    return expectations.run(half).profile


def test_a_new_champion_profile_recomputes_drift_alone_without_great_expectations(
    tmp_path, digits
):
    """The gate that waited for the lineage lock while another promoted: its data was checked
    against the profile it saw before (here the shipped one), it is judged against the new
    champion's. The suite's results are read back; drift is computed against the new profile,
    with numpy, and equals what a full computation gives."""
    memo.run_scopes(digits, _scoped(), folder=tmp_path)  # checked before the lock: "auto"
    champion = _shifted_profile(digits)
    assert memo.is_memoised(digits, _scoped(), champion, tmp_path)  # no GX needed
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from mlchecks.data import expectations, load_dataset, memo\n"
        "ds = load_dataset('digits')\n"
        "scoped = [(None, expectations.DataChecks.from_tables())]\n"
        f"reference = json.loads(Path({str(tmp_path / 'champion.json')!r}).read_text())\n"
        f"grouped = memo.run_scopes(ds, scoped, reference, folder=Path({str(tmp_path)!r}))\n"
        "print(json.dumps({'gx': 'great_expectations' in sys.modules, 'pandas': 'pandas' in "
        "sys.modules, 'results': {k: [r.to_json() for r in v] for k, v in grouped.items()}}))\n"
    )
    (tmp_path / "champion.json").write_text(json.dumps(champion))
    out = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                    text=True, check=True).stdout)  # fmt: skip
    assert (out["gx"], out["pandas"]) == (False, False)
    full = expectations.run_scopes(digits, _scoped(), reference=champion)
    assert out["results"] == {k: [r.to_json() for r in v] for k, v in full.items()}
    (drift,) = full["data.drift"]
    assert not drift.passed  # judged against the new profile: halved pixels drift
    assert len(list(tmp_path.glob("data-checks-*.json"))) == 3  # drift against it memoised


def test_a_reference_of_another_shape_runs_the_suite_again(tmp_path, digits):
    memo.run_scopes(digits, _scoped(), folder=tmp_path)
    other = json.loads(json.dumps(expectations.run(digits).profile))
    other["input_shape"] = [64]
    assert not memo.is_memoised(digits, _scoped(), other, tmp_path)
    grouped = memo.run_scopes(digits, _scoped(), reference=other, folder=tmp_path)
    assert grouped == expectations.run_scopes(digits, _scoped(), reference=other)
    assert not grouped["data.schema"][0].passed  # (8, 8, 1) samples, (64) declared


def test_a_failing_result_is_memoised_as_failing(tmp_path, digits):
    scoped = _scoped(min_train_rows=5000)
    first = memo.run_scopes(digits, scoped, folder=tmp_path)
    assert not first["data.row_counts"][0].passed
    second = memo.run_scopes(digits, scoped, folder=tmp_path)
    assert second["data.row_counts"] == first["data.row_counts"]


@pytest.mark.parametrize("part", ["expectations", "drift"])
@pytest.mark.parametrize("damage", ["garbage", "other key", "bad result"])
def test_an_unusable_memo_is_recomputed(tmp_path, digits, damage, part):
    first = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    key = memo.memo_key(digits, _scoped(), "auto", part)
    path = tmp_path / f"data-checks-{key[:32]}.json"
    stored = json.loads(path.read_text())
    check = "data.finite" if part == "expectations" else "data.drift"
    if damage == "garbage":
        path.write_text("{not json")
    elif damage == "other key":
        # a memo whose recorded key is not the one recomputed (e.g. edited by hand): ignored
        stored["key"] = "0" * 64
        stored["results"][check][0]["passed"] = False
        path.write_text(json.dumps(stored))
    else:
        stored["results"][check] = [{"id": 3}]
        path.write_text(json.dumps(stored))
    # only the suite's part needs Great Expectations
    assert memo.is_memoised(digits, _scoped(), "auto", tmp_path) == (part == "drift")
    again = memo.run_scopes(digits, _scoped(), folder=tmp_path)
    assert _statuses(again) == _statuses(first)
    assert json.loads(path.read_text())["key"] == key  # rewritten
    assert memo.run_scopes(digits, _scoped(), folder=tmp_path) == again


def test_no_folder_means_no_memo(digits):
    grouped = memo.run_scopes(digits, _scoped(), folder=None)
    assert grouped["data.schema"][0].passed


def test_an_unwritable_folder_is_not_an_error(tmp_path, digits):
    blocker = tmp_path / "file"
    blocker.write_text("")
    grouped = memo.run_scopes(digits, _scoped(), folder=blocker / "sub")
    assert grouped["data.schema"][0].passed
    assert dataclasses.is_dataclass(grouped["data.schema"][0])


_WAITER = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from mlchecks.data import expectations, load_dataset, memo\n"
    "ds = load_dataset('digits')\n"
    "scoped = [(None, expectations.DataChecks.from_tables())]\n"
    "folder = Path(sys.argv[1])\n"
    "key = memo.memo_key(ds, scoped, 'auto', memo.EXPECTATIONS)\n"
    "print('miss' if memo.load(folder, key) is None else 'hit', flush=True)\n"
    "grouped = memo.run_scopes(ds, scoped, folder=folder)\n"
    "print(json.dumps({'gx': 'great_expectations' in sys.modules,\n"
    "                  'results': {k: [r.to_json() for r in v] for k, v in grouped.items()}}))\n"
)


def _hold_the_entry(folder, digits):
    """This process computing the suite's memo entry: its lock, held (as another gate's
    worker holds it while Great Expectations runs)."""
    from filelock import FileLock

    key = memo.memo_key(digits, _scoped(), "auto", memo.EXPECTATIONS)
    lock = FileLock(str(folder / f".data-checks-{key[:32]}.lock"))
    lock.acquire(timeout=5)
    return lock


def _start_waiter(folder):
    waiter = subprocess.Popen([sys.executable, "-c", _WAITER, str(folder)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert waiter.stdout is not None
    assert waiter.stdout.readline().strip() == "miss"  # it found no memo: it must compute
    return waiter


def test_a_gate_checking_the_same_data_at_once_reads_what_the_first_stored(tmp_path, digits):
    """Gates started together on the same data each find the memo empty. The second waits for
    the first's lock and reads its results: Great Expectations is imported once, not twice."""
    import time

    lock = _hold_the_entry(tmp_path, digits)
    waiter = _start_waiter(tmp_path)
    try:
        time.sleep(1.0)  # the waiter is past its own look at the memo (and blocked, or computing)
        # What the first gate does under its lock: compute every part and store it.
        keys = {part: memo.memo_key(digits, _scoped(), "auto", part) for part in memo.PARTS}
        first = memo._run_parts(digits, _scoped(), "auto", tmp_path, keys,
                                dict.fromkeys(memo.PARTS))  # fmt: skip
    finally:
        lock.release()
    out, _ = waiter.communicate(timeout=120)
    assert waiter.returncode == 0
    result = json.loads(out)
    assert result["gx"] is False  # it waited, then read the memo
    assert result["results"] == {k: [r.to_json() for r in v] for k, v in first.items()}


def test_a_first_gate_that_stored_nothing_leaves_the_second_to_compute(tmp_path, digits):
    """The holder died or failed: its lock is released with nothing stored, and the waiter
    computes the checks itself, the same results."""
    import time

    lock = _hold_the_entry(tmp_path, digits)
    waiter = _start_waiter(tmp_path)
    time.sleep(0.5)
    lock.release()
    out, _ = waiter.communicate(timeout=120)
    assert waiter.returncode == 0
    result = json.loads(out)
    assert result["gx"] is True
    full = expectations.run_scopes(digits, _scoped())
    assert result["results"] == {k: [r.to_json() for r in v] for k, v in full.items()}
    assert memo.is_memoised(digits, _scoped(), "auto", tmp_path)
