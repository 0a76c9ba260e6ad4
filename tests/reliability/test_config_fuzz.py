"""Config fuzzing: random [tool.mlchecks] tables, TOML text and option values end in a Settings
or a ConfigError (exit 2), never in another exception."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlchecks.cli import build_parser, main
from mlchecks.config import load_settings, settings_from_table
from mlchecks.errors import ConfigError

from . import tally

KEYS = [
    "data", "seed", "seeds", "deterministic", "thresholds", "name", "registry", "reports",
    "cache_dir", "models", "data_checks", "bogus",
]  # fmt: skip
THRESHOLD_KEYS = [
    "min_accuracy", "min_class_recall", "max_ece", "max_loss", "confidence", "max_accuracy_drop",
    "max_class_recall_drop", "max_flip_rate", "max_forgetting", "speed_tolerance",
    "regression_mode", "alpha", "nope",
]  # fmt: skip
MODEL_KEYS = [
    "name", "builder", "path", "epochs", "batch_size", "optimizer", "learning_rate", "min_accuracy",
]  # fmt: skip

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
thresholds = st.dictionaries(st.sampled_from(THRESHOLD_KEYS), values, max_size=4)
model = st.dictionaries(st.sampled_from(MODEL_KEYS), values, max_size=5)
tables = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(values, thresholds, st.lists(model, max_size=3)),
    max_size=6,
)

FUZZ = settings(
    max_examples=150, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


@FUZZ
@given(tables)
def test_random_tables_give_settings_or_config_error(table):
    tally.bad_input()
    try:
        settings_from_table(table, {}, source="fuzz.toml")
    except ConfigError as exc:
        assert str(exc)  # a message, not an empty error


@FUZZ
@given(st.text(alphabet=string.printable, max_size=80))
def test_random_toml_text(tmp_path_factory, text):
    tally.bad_input()
    folder = tmp_path_factory.mktemp("toml")
    (folder / "mlchecks.toml").write_text(text)
    with contextlib.suppress(ConfigError):
        load_settings(folder)


OPTIONS = [
    "--min-accuracy", "--min-class-recall", "--max-ece", "--max-loss", "--confidence",
    "--max-accuracy-drop", "--max-class-recall-drop", "--max-flip-rate", "--max-forgetting",
    "--speed-tolerance", "--regression-mode", "--seed", "--data",
]  # fmt: skip


@FUZZ
@given(st.sampled_from(OPTIONS), st.text(max_size=12).filter(lambda t: not t.startswith("-")))
def test_random_option_values(option, text):
    tally.bad_input()
    try:
        build_parser().parse_args(["gate", option, text])
    except ConfigError as exc:
        assert option in str(exc) or "argument" in str(exc)


def test_a_bad_option_value_is_exit_2_without_traceback(capsys):
    tally.bad_input()
    assert main(["gate", "--max-flip-rate", "lots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and "--max-flip-rate" in err
    assert "Traceback" not in err


DEEP_TOML = {
    "arrays 100000 deep": "data = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "inline tables 5000 deep": "data = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n",
}


def test_a_deeply_nested_config_is_a_config_error(tmp_path, monkeypatch, capsys):
    for how, text in DEEP_TOML.items():
        folder = tmp_path / how.split()[0]
        folder.mkdir()
        (folder / "mlchecks.toml").write_text(text)
        tally.bad_input()
        with pytest.raises(ConfigError, match="nested too deep") as info:
            load_settings(folder)
        assert "mlchecks.toml" in str(info.value), how
        monkeypatch.chdir(folder)
        for argv in (["lint", "mlp", "--data", "synthetic:200"], ["registry", "list"]):
            assert main(argv) == 2, (how, argv)
            err = capsys.readouterr().err
            assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, (how, err)
            assert "internal error" not in err


def test_a_deeply_nested_data_check_preset_is_a_config_error(tmp_path):
    from mlchecks.config.data_checks import load_preset

    preset = tmp_path / "deep.json"
    preset.write_text('{"description": ' + "[" * 100_000 + "]" * 100_000 + "}")
    tally.bad_input()
    with pytest.raises(ConfigError, match="nested too deep") as info:
        load_preset(str(preset))
    assert str(preset) in str(info.value)
    with pytest.raises(ConfigError, match="nested too deep"):
        settings_from_table({"data_checks": {"preset": str(preset)}}, {}, source="p.toml")


def _expect(kwargs):
    return {"expectations": [{"expectation": "ExpectColumnMeanToBeBetween", "kwargs": kwargs}]}


WRONG_TYPES = {
    "column an integer": _expect({"column": 5, "min_value": 0}),
    "column a list": _expect({"column": ["mean"], "min_value": 0}),
    "column_list of numbers": {"expectations": [{
        "expectation": "ExpectCompoundColumnsToBeUnique", "kwargs": {"column_list": [1, 2]}}]},
    "column_A a table": {"expectations": [{
        "expectation": "ExpectColumnPairValuesAToBeGreaterThanB",
        "kwargs": {"column_A": {"x": 1}, "column_B": "min"}}]},
    "meta (mlchecks sets it)": _expect({"column": "mean", "meta": {"x": 1}}),
    "drift_stats nested": {"drift_stats": [["mean"]]},
    "drift_stats a table": {"drift_stats": [{"mean": 1}]},
}  # fmt: skip


@pytest.mark.parametrize("how", sorted(WRONG_TYPES))
def test_data_check_values_of_a_wrong_type_are_config_errors(how):
    """Caught when the config is read (exit 2), not as a TypeError inside every data test."""
    tally.bad_input()
    with pytest.raises(ConfigError) as info:
        settings_from_table({"data_checks": WRONG_TYPES[how]}, {}, source="pyproject.toml")
    message = str(info.value)
    assert "pyproject.toml" in message and "\n" not in message, message
