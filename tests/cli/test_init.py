"""``mlchecks init [DIR]`` (issue 15, item 5): a starter ``[tool.mlchecks]`` (appended to an
existing pyproject.toml, else an ``mlchecks.toml``) and ``tests/test_model_quality.py``; never
overwrites (exit 2 naming the file, nothing written). That the starter runs green on a user's
model is tests/test_new_project.py's end-to-end run."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mlchecks.cli import main
from mlchecks.cli.init import STARTER_TESTS, TEST_FILE
from mlchecks.config import read_table, settings_from_table

PYPROJECT = """[project]
name = "myproject"   # a comment the user wrote
version = "0.1.0"

[tool.black]
line-length = 88
"""


def _settings(path: Path):
    return settings_from_table(read_table(path), {}, root=str(path.parent), source=str(path))


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("mlchecks: error: ")
    return err[0]


def test_init_appends_to_a_pyproject_and_keeps_every_byte_of_it(tmp_path, capsys):
    (tmp_path / "mymodels.py").write_text("def build(input_shape, num_classes): ...\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    code = main(["init", str(tmp_path), "--builder", "mymodels:build", "--epochs", "3"])
    assert code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)
    assert tomllib.loads(text)["tool"]["black"] == {"line-length": 88}
    settings = _settings(tmp_path / "pyproject.toml")
    (spec,) = settings.models
    assert (spec.name, spec.builder, spec.epochs, settings.data) == (
        "mymodels", "mymodels:build", 3, "digits")  # fmt: skip
    assert (tmp_path / TEST_FILE).read_text() == STARTER_TESTS
    assert not (tmp_path / "mlchecks.toml").exists()
    out = capsys.readouterr().out
    assert "pyproject.toml" in out and "test_model_quality.py" in out
    assert "mlchecks_suites = true" in out


def test_init_writes_an_mlchecks_toml_without_a_pyproject(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--data", "mnist", "--model-name", "digits-mlp"]) == 0
    settings = _settings(tmp_path / "mlchecks.toml")
    assert [(s.name, s.builder) for s in settings.models] == [("digits-mlp", "mlp")]
    assert settings.data == "mnist"
    assert not (tmp_path / "pyproject.toml").exists()
    compile(STARTER_TESTS, str(TEST_FILE), "exec")  # the starter is valid Python


@pytest.mark.parametrize(("existing", "content"), [
    ("pyproject.toml", '[project]\nname = "x"\n\n[tool.mlchecks]\ndata = "mnist"\n'),
    ("mlchecks.toml", 'data = "mnist"\n'),
    ("tests/test_model_quality.py", "def test_mine():\n    pass\n"),
])  # fmt: skip
def test_init_never_overwrites_and_writes_nothing_then(tmp_path, capsys, existing, content):
    path = tmp_path / existing
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["init", str(tmp_path)]) == 2
    line = _error(capsys)
    assert str(path) in line and "nothing written" in line
    assert path.read_text() == content
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["--builder", "nomodule:build"], "no module 'nomodule'"),
    (["--builder", "resnet"], "MODULE:FUNCTION"),
    (["--model-name", "../up"], "not a valid name"),
])  # fmt: skip
def test_init_refuses_a_builder_or_name_it_cannot_use(tmp_path, capsys, args, expected):
    assert main(["init", str(tmp_path), *args]) == 2
    assert expected in _error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ['[project\nname = "x"\n', 'tool = "not a table"\n'])
def test_init_refuses_a_pyproject_it_cannot_extend(tmp_path, capsys, content):
    (tmp_path / "pyproject.toml").write_text(content)
    assert main(["init", str(tmp_path)]) == 2
    assert "pyproject.toml" in _error(capsys)
    assert (tmp_path / "pyproject.toml").read_text() == content
    assert not (tmp_path / TEST_FILE).exists()


def test_init_needs_an_existing_folder(tmp_path, capsys):
    assert main(["init", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in _error(capsys)
