"""Progress of ``mlchecks gate`` on stderr (issue 15, item 8): each phase (data, lint, training
with its epochs, the registry, each check category) as plain lines when stderr is not a
terminal, as one live line rewritten in place on a terminal (a real pty), nothing with ``-q``;
the decision JSON on stdout (``--json -``) stays clean."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlchecks._util.progress import Progress

PHASES = [
    "mlchecks: loading data digits",
    "mlchecks: training-setup lint",
    "mlchecks: training tiny (2 epochs, batch 32)",
    "mlchecks: reading the registry (champions, holdouts)",
    "mlchecks: setup checks",
    "mlchecks: data checks",
    "mlchecks: accuracy checks",
    "mlchecks: behaviour checks",
    "mlchecks: speed checks",
    "mlchecks: regression checks",
]


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlchecks.toml").write_text(
        'data = "digits"\ncache_dir = "cache"\nregistry = "reg"\nreports = "none"\n'
        '[[models]]\nname = "tiny"\nbuilder = "mlp"\nepochs = 2\n'
    )
    return folder


def _read_all(master: int) -> str:
    """Everything written to a pty whose other end is closed."""
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and everything was read
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_progress_helper_off_and_on_a_terminal():
    plain = io.StringIO()
    progress = Progress(plain, tty=False)
    progress.phase("training mlp (2 epochs)")
    progress.update("training mlp: epoch 1/2")  # finer steps: terminal only
    progress.clear()
    assert plain.getvalue() == "mlchecks: training mlp (2 epochs)\n"
    quiet = io.StringIO()
    Progress(quiet, enabled=False).phase("anything")
    assert quiet.getvalue() == ""

    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        live = Progress(terminal)
        assert live.tty
        live.phase("training mlp (2 epochs)")
        live.update("training mlp: epoch 1/2")
        live.clear()
    shown = _read_all(master)
    assert shown == (
        "\r\x1b[Kmlchecks: training mlp (2 epochs)\r\x1b[Kmlchecks: training mlp: epoch 1/2\r\x1b[K"
    )


def test_off_a_terminal_phases_are_plain_lines_on_stdout_and_q_silences_them(
    tmp_path, capsys, monkeypatch
):
    """In-process (stderr is no terminal): the phases go among the gate's own lines on stdout,
    so a bad input is still one ``mlchecks: error:`` line on stderr; ``-q`` prints none.
    (The phases of a whole gate run off a terminal: tests/run/test_one_gate.py.)"""
    from mlchecks.cli import main

    folder = _project(tmp_path / "plain")
    monkeypatch.chdir(folder)
    assert main(["gate", "--data", "missing.npz"]) == 2
    out, err = capsys.readouterr()
    assert out == "mlchecks: loading data missing.npz\n"
    assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, err
    assert main(["gate", "--data", "missing.npz", "-q"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_gate_progress_is_a_live_line_on_a_terminal(tmp_path):
    folder = _project(tmp_path / "tty")
    master, slave = pty.openpty()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlchecks.cli", "gate", "--no-promote", "--json", "-"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, shown[-3000:]
    json.loads(out)  # the JSON on stdout is untouched by the live line on stderr
    assert "\r\x1b[Kmlchecks: training tiny: epoch 2/2" in shown, shown[-3000:]
    for phase in PHASES:  # each phase shown on the live line, none as a line of its own
        assert f"\r\x1b[K{phase}" in shown, (phase, shown[-3000:])
        assert f"{phase}\n" not in shown.replace("\r\n", "\n"), phase


def test_with_several_models_each_category_phase_names_its_model():
    """pytest runs one model's tests of a suite together, then the next model's: the phase
    says which (the default gate of mlp and cnn)."""
    from mlchecks.config import settings_from_table
    from mlchecks.plugin.runner import GateContext
    from mlchecks.run.session import Session

    models = [{"name": "mlp", "builder": "mlp"}, {"name": "cnn", "builder": "cnn"}]
    session = Session(settings_from_table({"models": models}, {}))
    lines = io.StringIO()
    session.progress = Progress(lines, tty=False)
    context = GateContext(session)
    for nodeid in (
        "test_data.py::test_schema",
        "test_accuracy.py::test_accuracy_min[mlp]",
        "test_accuracy.py::test_class_recall[mlp]",
        "test_accuracy.py::test_accuracy_min[cnn]",
    ):
        context.pytest_runtest_logstart(nodeid, None)
    assert lines.getvalue().splitlines() == [
        "mlchecks: data checks",
        "mlchecks: accuracy checks of mlp",
        "mlchecks: accuracy checks of cnn",
    ]
