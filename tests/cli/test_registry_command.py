"""``mlchecks registry list`` with several lineages, and ``mlchecks registry path`` for deploy
scripts."""

from __future__ import annotations

import json

from test_registry import model_file, new_version

from mlchecks.cli import main
from mlchecks.registry import open_registry


def _registry(tmp_path):
    root = tmp_path / "reg"
    reg = open_registry(root)
    reg.promote("mlp", new_version(model_file(tmp_path, "a"), metrics={"accuracy": 0.9}), None)
    reg.promote("mlp", new_version(model_file(tmp_path, "b"), metrics={"accuracy": 0.91}), "0001")
    reg.promote("digits-cnn", new_version(model_file(tmp_path, "c")), None)
    # a configured name must not hide the other lineages from `list`
    (tmp_path / "mlchecks.toml").write_text(f'registry = "{root}"\nname = "digits-cnn"\n')
    return reg


def run(tmp_path, capsys, *args):
    capsys.readouterr()
    code = main(["registry", *args, "--config", str(tmp_path / "mlchecks.toml")])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_without_name_lists_every_lineage(tmp_path, capsys):
    _registry(tmp_path)
    code, out, err = run(tmp_path, capsys, "list", "--json")
    assert code == 0, err
    names = {row["name"]: row["champion"] for row in json.loads(out)["lineages"]}
    assert names == {"mlp": "0002", "digits-cnn": "0001"}


def test_path_prints_the_verified_champion_file(tmp_path, capsys):
    reg = _registry(tmp_path)
    code, out, err = run(tmp_path, capsys, "path", "mlp@champion")
    assert code == 0, err
    assert out.strip() == str(reg.model_path("mlp", "0002"))
    code, out, _ = run(tmp_path, capsys, "path", "mlp@1", "--json")
    path = str(reg.model_path("mlp", "0001"))
    assert code == 0 and json.loads(out) == {"name": "mlp", "version": "0001", "path": path}
    code, out, _ = run(tmp_path, capsys, "path")  # the configured name, its champion
    assert code == 0 and out.strip() == str(reg.model_path("digits-cnn", "0001"))


def test_path_of_a_tampered_file_is_an_error_not_a_path(tmp_path, capsys):
    reg = _registry(tmp_path)
    target = reg.model_path("mlp", "0002")
    target.chmod(0o644)
    target.write_bytes(b"tampered")
    code, out, err = run(tmp_path, capsys, "path", "mlp@champion")
    assert code == 2 and out == "" and err.startswith("mlchecks: error: ")
