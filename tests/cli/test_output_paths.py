"""Output paths are checked before any work: an unwritable ``--json`` is exit 2 with one line,
and nothing was judged or promoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlchecks.cli import main
from mlchecks.errors import GateExit


def _bad_paths(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return {"below a file": str(blocker / "out.json"), "a folder": str(folder)}


@pytest.mark.parametrize("case", ["below a file", "a folder"])
def test_lint_json_to_an_unwritable_path_exits_2(tmp_path, capsys, case):
    target = _bad_paths(tmp_path)[case]
    code = main(["lint", "mlp", "--data", "synthetic:64", "--json", target])
    err = capsys.readouterr().err
    assert code == GateExit.BAD_INPUT, err
    assert err.startswith("mlchecks: error: --json ") and target in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_gate_json_to_an_unwritable_path_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = _bad_paths(tmp_path)["below a file"]
    code = main(["gate", "nothing-here.keras", "--registry", "reg", "--json", target])
    err = capsys.readouterr().err
    # the output path is refused first: the missing candidate is not even looked at
    assert code == GateExit.BAD_INPUT and "--json" in err and "nothing-here" not in err, err
    assert not (tmp_path / "reg").exists()


def test_lint_json_dash_writes_to_stdout(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    code = main(["lint", "mlp", "--data", "synthetic:64", "--json", "-"])
    out = capsys.readouterr().out
    assert code == GateExit.ACCEPTED
    payload = json.loads(out[out.index("{"):])
    assert payload["findings"] == 0 and all(c["id"].startswith("setup.") for c in payload["checks"])
    assert not (tmp_path / "-").exists()


def test_a_reader_that_leaves_early_is_no_internal_error():
    """`mlchecks ... | head`: the pipe closes before mlchecks writes; it exits quietly."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "mlchecks", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    proc.stdout.close()  # the reader is gone before the first line is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "internal error" not in err and "Traceback" not in err, err


def test_help_shows_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["gate", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "exit codes: 0 accepted, 1 rejected" in out
    assert "FILE" in out  # metavars say what to give, not the option's name again
