"""Settings from [tool.mlchecks]: defaults, validation, overrides."""

from __future__ import annotations

import pytest

from mlchecks.config import ModelSpec, load_settings, settings_from_table
from mlchecks.errors import ConfigError


def test_defaults_without_config(tmp_path):
    settings = load_settings(tmp_path)
    assert settings.data == "digits"
    assert [m.builder for m in settings.models] == ["mlp"]
    assert settings.thresholds.confidence == 0.95
    assert settings.source == "<defaults>"


def test_reads_pyproject_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.mlchecks]
data = "synthetic:500"
seed = 7
[tool.mlchecks.thresholds]
min_accuracy = 0.8
[[tool.mlchecks.models]]
name = "small"
builder = "cnn"
epochs = 3
min_accuracy = {tensorflow = 0.9, jax = 0.85}
"""
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    settings = load_settings(sub)  # found by walking up
    assert settings.data == "synthetic:500"
    assert settings.seed == 7
    assert settings.thresholds.min_accuracy == 0.8
    (spec,) = settings.models
    assert spec == ModelSpec(name="small", builder="cnn", epochs=3, min_accuracy=spec.min_accuracy)
    assert spec.min_accuracy_for("tensorflow") == 0.9
    assert spec.min_accuracy_for("jax") == 0.85
    assert spec.min_accuracy_for("torch") is None
    assert settings.root == str(tmp_path)


def test_mlchecks_toml_wins_over_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mlchecks]\ndata = "digits"\n')
    (tmp_path / "mlchecks.toml").write_text('data = "mnist"\n')
    assert load_settings(tmp_path).data == "mnist"


def test_overrides_beat_the_file(tmp_path):
    (tmp_path / "mlchecks.toml").write_text('data = "mnist"\n[thresholds]\nmin_accuracy = 0.5\n')
    settings = load_settings(tmp_path, {"data": "digits", "min_accuracy": 0.9, "seed": None})
    assert settings.data == "digits"
    assert settings.thresholds.min_accuracy == 0.9


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"dta": "digits"}, "unknown key(s) ['dta']"),
        ({"seed": -1}, "seed"),
        ({"seed": "zero"}, "seed"),
        ({"thresholds": {"min_accuracy": 1.5}}, "min_accuracy"),
        ({"thresholds": {"min_acc": 0.5}}, "unknown threshold(s) ['min_acc']"),
        ({"thresholds": {"regression_mode": "lenient"}}, "regression_mode"),
        ({"thresholds": {"max_accuracy_drop": 500}}, "percentage points"),
        ({"models": []}, "non-empty array"),
        ({"models": [{"name": "a", "epochs": 0}]}, "epochs"),
        ({"models": [{"name": "a", "optimizer": "adagrad"}]}, "optimizer"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"models": [{"name": "../x"}]}, "not a valid name"),
        ({"models": [{"name": "a", "min_accuracy": {"theano": 0.9}}]}, "unknown backend"),
        ({"name": "a/b"}, "not a valid name"),
        ({"deterministic": "yes"}, "deterministic"),
    ],
)
def test_invalid_tables_raise_config_error(table, fragment):
    with pytest.raises(ConfigError) as info:
        settings_from_table(table, {}, source="pyproject.toml")
    assert fragment in str(info.value)
    assert "pyproject.toml" in str(info.value)


def test_invalid_toml_names_the_file(tmp_path):
    (tmp_path / "mlchecks.toml").write_text("data = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path)


def test_project_config_is_the_article_models():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    settings = load_settings(root)
    assert [(m.name, m.builder) for m in settings.models] == [("mlp", "mlp"), ("cnn", "cnn")]
