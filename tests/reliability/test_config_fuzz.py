"""Config fuzzing: random [tool.mlchecks] tables, TOML text and option values end in a Settings
or a ConfigError (exit 2), never in another exception."""

from __future__ import annotations

import contextlib
import string

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
