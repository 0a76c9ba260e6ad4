"""Data expectations (mlchecks.data.expectations, mlchecks.data.profile) with real GX on digits.

Each corrupted copy of digits must be flagged by its own check id and by no other; bad data is
a failing check or a clean exit 2 from the gate, never a traceback.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, run_cli_here

from mlchecks.config import settings_from_table
from mlchecks.data import expectations as ex
from mlchecks.data import profile as pf
from mlchecks.data.dataset import Dataset
from mlchecks.errors import ConfigError, DataError
from mlchecks.result import CheckResult, DataDetails, DriftDetails

ROOT = Path(__file__).resolve().parent.parent


def failing(report) -> set[str]:
    return {r.id for r in report if not r.passed}


@pytest.fixture(scope="module")
def clean_report(digits):
    return ex.run(digits)


# ----------------------------------------------------------------------------- clean data
def test_digits_passes_every_check(clean_report):
    assert list(clean_report.results) == list(ex.CHECK_IDS)
    assert failing(clean_report) == set()
    assert all(r.category == "data" and r.model is None for r in clean_report)
    drift = clean_report["data.drift"]
    assert drift.severity == "error" and drift.value == pytest.approx(0.0, abs=1e-9)
    assert "reference profile digits" in drift.message


def test_shipped_digits_profile_is_current(digits, clean_report):
    shipped = json.loads((ROOT / "fixtures" / "profiles" / "digits.json").read_text())
    assert shipped == clean_report.profile == json.loads(json.dumps(pf.profile(digits)))
    assert shipped["fingerprint"] == digits.fingerprint


# ----------------------------------------------------------------------------- corrupted copies
def _nan_pixel(ds: Dataset) -> Dataset:
    x = ds.x_test.copy()
    x[17, 3, 4, 0] = np.nan
    return ds.replace(x_test=x)


def _label_11(ds: Dataset) -> Dataset:
    y = ds.y_test.copy()
    y[42] = 11
    return ds.replace(y_test=y)


def _leak_10pct(ds: Dataset) -> Dataset:
    x = ds.x_test.copy()
    rows = np.arange(0, len(x), 10)  # 45 of 450 test rows become copies of train rows
    x[rows] = ds.x_train[rows + 100]
    return ds.replace(x_test=x)


def _brighter(ds: Dataset) -> Dataset:
    # Clipped, so the values stay in range: only the distribution moves.
    return ds.replace(
        x_train=np.clip(ds.x_train + 0.3, 0, 1), x_test=np.clip(ds.x_test + 0.3, 0, 1)
    )


@pytest.mark.parametrize(
    ("corrupt", "check_id", "expected"),
    [
        (_nan_pixel, "data.finite", ["test: 1 of 450 samples", "e.g. indices [17]", "1 NaN"]),
        (_label_11, "data.labels", ["test: 1 of 450", "indices [42]", "labels seen: [11]",
                                    "expect_column_values_to_be_in_set(label"]),
        (_leak_10pct, "data.leakage", ["test: 45 of 450 samples (10.0%)", "'0=100'", "'10=110'"]),
        (_brighter, "data.drift", ["per-sample mean PSI", "samples outside the reference's"]),
    ],
    ids=["nan-pixel", "label-11", "leak-10pct", "brightness+0.3"],
)  # fmt: skip
def test_each_corruption_is_flagged_by_its_check(digits, corrupt, check_id, expected):
    report = ex.run(corrupt(digits))
    assert failing(report) == {check_id}
    result = report[check_id]
    assert result.blocking and result.status == "failed"
    for text in expected:
        assert text in result.message
    # Typed details name what failed where, as the report shows it.
    if check_id == "data.drift":
        assert isinstance(result.details, DriftDetails) and result.details.drifted
        assert {r.split for r in result.details.drifted} <= {"train", "test"}
    else:
        assert isinstance(result.details, DataDetails)
        assert result.details.unexpected_count and result.details.examples
        assert "test" in result.details.splits
    assert CheckResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_unclipped_brightness_also_breaks_the_range(digits):
    x = digits.x_test + 0.3
    report = ex.run(digits.replace(x_test=x))
    assert {"data.range", "data.drift"} <= failing(report)
    assert "have values above 1" in report["data.range"].message
    assert "highest 1.3" in report["data.range"].message


# ----------------------------------------------------------------------------- bad data
def test_unreadable_shapes_and_dtypes_fail_checks_instead_of_raising(digits):
    x = digits.x_test.copy()
    x[5] = np.inf  # a whole sample of inf: no finite value at all
    ds = Dataset(
        name="broken",
        x_train=digits.x_train.astype(np.float64),  # wrong dtype
        y_train=digits.y_train.astype(np.float32),  # float labels
        x_test=x,
        y_test=digits.y_test[:-3],  # 3 labels missing
        num_classes=10,
        class_names=digits.class_names,
    )
    report = ex.run(ds, reference=None)
    assert {"data.schema", "data.finite"} <= failing(report)
    schema = report["data.schema"].message
    assert "train: x_dtype float64" in schema and "train: y_dtype float32" in schema
    assert "test: 450 samples but 447 labels" in schema
    assert "(0 NaN, 64 inf values)" in report["data.finite"].message


def test_empty_split_fails_row_counts(digits):
    ds = digits.replace(x_test=digits.x_test[:0], y_test=digits.y_test[:0])
    report = ex.run(ds, reference=None)
    assert "data.row_counts" in failing(report)
    assert "test has 0 rows, expected at least 10" in report["data.row_counts"].message


def test_missing_and_rare_classes(digits):
    keep = (digits.y_test != 3) & ((digits.y_test != 7) | (np.arange(digits.n_test) % 20 == 0))
    ds = digits.replace(x_test=digits.x_test[keep], y_test=digits.y_test[keep])
    report = ex.run(ds, reference=None)
    assert failing(report) == {"data.classes_present", "data.balance"}
    assert "test: 1 of 10 classes have no sample" in report["data.classes_present"].message
    assert "e.g. classes [3]" in report["data.classes_present"].message
    assert "class 7 " in report["data.balance"].message


# ----------------------------------------------------------------------------- configuration
def test_thresholds_presets_and_custom_expectations_from_config(digits, tmp_path):
    table = {
        "data_checks": {
            "preset": "imbalanced",
            "num_classes": 12,
            "max_leakage": 0.2,
            "expectations": [
                {"expectation": "ExpectColumnMeanToBeBetween",
                 "kwargs": {"column": "mean", "min_value": 0.5}, "split": "test"},
                {"expectation": "ExpectColumnValuesToBeBetween",
                 "kwargs": {"column": "nope", "max_value": 1}},
            ],
        },
        "models": [{"name": "a"}, {"name": "b", "data_checks": {"value_range": [0, 0.5]}}],
    }  # fmt: skip
    settings = settings_from_table(table, {}, root=str(tmp_path))
    scoped = ex.scopes(settings)
    assert [name for name, _ in scoped] == [None, "b"]
    shared, own = scoped[0][1], scoped[1][1]
    assert shared.preset == "imbalanced" and shared.severity_of("data.balance") == "warning"
    assert own.value_range == (0.0, 0.5) and own.max_leakage == 0.2
    grouped = ex.run_scopes(_leak_10pct(digits), scoped)
    assert [r.model for r in grouped["data.range"]] == [None, "b"]
    assert [r.passed for r in grouped["data.range"]] == [True, False]
    assert all(r.passed for r in grouped["data.leakage"])  # 10% <= 20% allowed
    classes = grouped["data.classes_present"][0]
    assert not classes.passed and "classes [10, 11]" in classes.message
    custom = grouped["data.custom"][0]
    assert not custom.passed
    assert "test: expect_column_mean_to_be_between(mean, min_value=0.5) failed" in custom.message
    assert "expect_column_values_to_be_between(nope, max_value=1) could not be evaluated" in (
        custom.message
    )


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"max_psi": -1}, "max_psi in [x] must be a number >= 0"),
        ({"value_range": [1, 0]}, "value_range in [x] must be [low, high]"),
        ({"bogus": 1}, "unknown key(s) ['bogus'] in [x]"),
        ({"preset": "nope"}, "data_checks preset 'nope' is unknown; expected one of"),
        ({"expectations": [{"expectation": "ExpectPixelsToBeNice"}]},
         "'ExpectPixelsToBeNice' in expectations[0] in [x] is not a Great Expectations"),
        ({"expectations": [{"expectation": "ExpectColumnKLDivergenceToBeLessThan",
                            "frame": "pixels"}]}, "frame in expectations[0] in [x] must be one of"),
        ({"severity": {"data.range": "fatal"}}, "severity in [x] has 'data.range' = 'fatal'"),
        ({"profile": "missing.json"}, "profile in [x] names 'missing.json', which does not exist"),
    ],
)  # fmt: skip
def test_bad_config_is_a_clear_config_error(table, fragment, tmp_path):
    with pytest.raises(ConfigError) as info:
        ex.validate_table(table, "[x]", root=tmp_path)
    assert fragment in str(info.value)


def test_configured_profile_file_and_broken_profile(digits, tmp_path):
    good = tmp_path / "ref.json"
    good.write_text(json.dumps(pf.profile(_brighter(digits))))
    checks = ex.DataChecks.from_tables({"profile": "ref.json", "drift_method": "ks"}, root=tmp_path)
    drift = ex.run(digits, checks)["data.drift"]
    assert not drift.passed and "KS" in drift.message and drift.threshold == 0.15
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    checks = ex.DataChecks.from_tables({"profile": "bad.json"}, root=tmp_path)
    drift = ex.run(digits, checks)["data.drift"]
    assert not drift.passed and "is not an mlchecks data profile" in drift.message
    none = ex.run(digits, ex.DataChecks.from_tables({"profile": "none"}))["data.drift"]
    assert none.status == "not_judged" and none.passed and not none.blocking
    assert "data drift not judged: no reference profile for digits" in none.message


# ----------------------------------------------------------------------------- profiles and drift
def test_drift_is_symmetric_in_method_and_rejects_garbage(digits):
    a = pf.profile(digits)
    b = pf.profile(_brighter(digits))
    assert pf.drift(a, a).passed
    for method in pf.DRIFT_METHODS:
        result = pf.drift(a, b, method=method)
        assert not result.passed and result.value > result.threshold
    assert pf.drift(a, b, stats=(), labels=True).passed  # labels did not move
    with pytest.raises(DataError, match="not an mlchecks data profile"):
        pf.drift(a, {"splits": {}})
    with pytest.raises(DataError, match="drift method 'chi2' is unknown"):
        pf.drift(a, a, method="chi2")


def test_sample_stats_handle_nan_inf_and_negative_zero():
    x = np.array([[0.0, 1.0, np.nan, 3.0], [np.inf, -np.inf, np.nan, np.nan], [-0.0, 1, 2, 3],
                  [0.0, 1, 2, 3]], np.float32)  # fmt: skip
    stats = pf.sample_stats(x)
    assert stats["nan"].tolist() == [1, 2, 0, 0] and stats["inf"].tolist() == [0, 2, 0, 0]
    assert (stats["min"][0], stats["max"][0]) == (0, 3)
    assert stats["mean"][0] == pytest.approx(4 / 3)
    assert np.isnan(stats["mean"][1])
    assert stats["hash"][2] == stats["hash"][3] != stats["hash"][0]


# ----------------------------------------------------------------------------- quiet and lazy
def test_gx_writes_nothing_and_prints_nothing(digits, tmp_path, monkeypatch, capfd, caplog):
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.DEBUG):
        ex.run(digits)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r for r in caplog.records if r.name.startswith("great_expectations")
            and r.levelno >= logging.INFO] == []  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_config_with_data_checks_does_not_import_great_expectations():
    code = (
        "import sys; from mlchecks.config import settings_from_table; "
        "settings_from_table({'data_checks': {'preset': 'strict', 'expectations': "
        "[{'expectation': 'ExpectColumnMeanToBeBetween', 'kwargs': {'column': 'mean'}}]}}, {}); "
        "import mlchecks.data.expectations, mlchecks.plugin; "
        "assert 'great_expectations' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ----------------------------------------------------------------------------- the real gate
def _npz(path: Path, ds: Dataset, **changes) -> Path:
    arrays = {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test,
              "y_test": ds.y_test} | changes  # fmt: skip
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"y_test": "ragged"}, "holds object arrays"),
        ({"y_test": "halves"}, "holds float labels such as ["),
    ],
    ids=["ragged-object-labels", "float-labels"],
)
def test_gate_on_unreadable_data_exits_2(digits, tmp_path, changes, fragment):
    key, kind = next(iter(changes.items()))
    value = {
        "ragged": np.array([[1], [1, 2]], dtype=object),
        "halves": digits.y_test + 0.5,
    }[kind]
    data = tmp_path / "bad.npz"
    if kind == "ragged":  # np.savez pickles object arrays; mlchecks must refuse to unpickle
        arrays = {"x_train": digits.x_train, "y_train": digits.y_train,
                  "x_test": digits.x_test, key: value}  # fmt: skip
        np.savez(data, **arrays)
    else:
        _npz(data, digits, **{key: value})
    proc = run_cli("gate", "--data", str(data), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("mlchecks: error:") and fragment in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_gate_rejects_readable_but_wrong_data_with_data_checks(digits, trained_mlp, tmp_path):
    x_test = digits.x_test.copy()
    x_test[17, 3, 4, 0] = np.nan  # one NaN pixel
    x_test[np.arange(0, 450, 10)] = digits.x_train[np.arange(0, 450, 10) + 100]  # 10% leaked
    # (A label outside the class set is caught earlier, by the gate's setup lint.)
    data = _npz(tmp_path / "wrong.npz", digits, x_test=x_test)
    (tmp_path / "mlchecks.toml").write_text(
        'registry = "registry"\nreports = "reports"\n[data_checks]\nnum_classes = 10\n'
    )
    out = tmp_path / "decision.json"
    proc = run_cli_here("gate", str(trained_mlp.path), "--data", str(data), "--no-promote",
                        "--json", str(out), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    checks = {c["id"]: c for c in json.loads(out.read_text())["checks"]}
    for check_id in ("data.finite", "data.leakage"):
        assert checks[check_id]["category"] == "data"
        assert checks[check_id]["passed"] is False
        assert f"FAIL  {check_id}:" in proc.stdout
    others = [c for c in ex.CHECK_IDS if c not in ("data.finite", "data.leakage")]
    assert all(checks[c]["passed"] for c in others)
    assert "e.g. indices [17]" in checks["data.finite"]["message"]
    assert "45 of 450 samples (10.0%)" in checks["data.leakage"]["message"]
