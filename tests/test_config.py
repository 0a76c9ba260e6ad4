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


NAMES = ["mnist-mlp", "a.b_c-1", "x" * 100, "-x", "a..b", ".hidden", "my model", "<b>x</b>",
         "é", "ü1", "a/b", "x" * 101, "", "a\nb", "_x"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_one_name_rule_for_config_and_registry(name):
    """The config refuses exactly the names the registry would refuse later."""
    from mlchecks.errors import RegistryError
    from mlchecks.registry import validate_name

    try:
        validate_name(name)
        registry_ok = True
    except RegistryError:
        registry_ok = False
    # the run name (its lineage is the model's name here) and a model's name
    for table in ({"name": name, "models": [{"name": "m", "builder": "mlp"}]},
                  {"models": [{"name": name}]}):  # fmt: skip
        if "name" in table:
            table["models"][0]["name"] = name if registry_ok else "m"
        try:
            settings_from_table(table, {}, source="mlchecks.toml")
            config_ok = True
        except ConfigError as exc:
            config_ok = False
            assert "name" in str(exc) and "mlchecks.toml" in str(exc)
        assert config_ok == registry_ok, (table, config_ok, registry_ok)
    assert registry_ok == (name in ("mnist-mlp", "a.b_c-1", "x" * 100))


def test_a_command_line_name_is_blamed_on_the_command_line(tmp_path):
    (tmp_path / "mlchecks.toml").write_text('name = "fine"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {"name": "my model"})
    message = str(info.value)
    assert "command line (--name)" in message and "mlchecks.toml" not in message, message
    (tmp_path / "mlchecks.toml").write_text('name = "my model"\n')
    with pytest.raises(ConfigError, match=r"mlchecks\.toml"):
        load_settings(tmp_path, {"name": None})


def test_a_lineage_name_too_long_is_refused_when_the_config_is_read():
    with pytest.raises(ConfigError, match="registry lineage") as info:
        settings_from_table({"name": "x" * 97, "models": [{"name": "mlp"}]}, {}, source="p.toml")
    assert "shorten" in str(info.value)
    settings_from_table({"name": "x" * 96, "models": [{"name": "mlp"}]}, {}, source="p.toml")


def test_gate_with_a_bad_name_is_exit_2_before_any_work(tmp_path, monkeypatch, capsys):
    from mlchecks.cli import main

    (tmp_path / "mlchecks.toml").write_text('data = "synthetic:200"\ncache_dir = "cache"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["gate", "--name", "my model", "--no-promote"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and err.count("\n") == 1
    assert "'my model'" in err and "command line" in err
    assert not (tmp_path / "cache").exists()  # nothing was trained
