"""What the Gate refuses before judging (a model with several outputs) and how it keeps what it
judges: the bytes promoted are the bytes judged, and a run missing a category is no gate."""

from __future__ import annotations

import pytest

from mlchecks.errors import GateExit


# ------------------------------------------------------------------ a model with two outputs
@pytest.mark.slow
def test_a_model_with_two_outputs_is_exit_2_before_any_check(tmp_path, monkeypatch, capsys):
    import keras

    from mlchecks.cli import main

    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    heads = [keras.layers.Dense(10, activation="softmax", name=n)(flat) for n in ("a", "b")]
    keras.Model(inputs, heads).save(tmp_path / "two.keras")
    (tmp_path / "mlchecks.toml").write_text(
        'data = "digits"\nregistry = "reg"\nreports = "reports"\ncache_dir = "cache"\n'
    )
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()

    assert main(["gate", "two.keras", "--no-promote"]) == GateExit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, err
    assert "2 outputs" in err and "two.keras" in err
    assert not (tmp_path / "reports").exists()  # refused before the suites ran


# ------------------------------------------------------------------ judge the bytes you promote
def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_candidate_swapped_while_the_gate_waits_is_not_what_is_promoted(
    trained_mlp, tmp_path, monkeypatch
):
    """The gate copies and hashes the candidate once; replacing the file while the gate waits
    for the lineage lock changes nothing it judges or promotes. The gate runs through
    ``main()`` here; "another gate" is a thread of this process holding the lineage's lock
    file (a file lock: it blocks another holder in the same process as in another one)."""
    import contextlib
    import io
    import shutil
    import threading

    from mlchecks.cli import main
    from mlchecks.registry import open_registry

    class Printed(io.StringIO):
        """What the gate prints (stdout and stderr), watched as it prints it."""

        def __init__(self):
            super().__init__()
            self.waiting = threading.Event()

        def write(self, text):
            if "waiting for another gate" in text:
                self.waiting.set()
            return super().write(text)

    candidate = tmp_path / "candidate.keras"
    shutil.copy(trained_mlp.path, candidate)
    original = _sha(candidate)
    (tmp_path / "mlchecks.toml").write_text(
        'data = "digits"\nregistry = "reg"\nreports = "none"\ncache_dir = "cache"\n'
    )
    registry = open_registry(tmp_path / "reg")
    printed, swapped, done = Printed(), [], threading.Event()

    def other_gate():  # holds the lineage until the gate waits for it, then swaps the file
        with registry.gate_lock("default"):
            held.set()
            if printed.waiting.wait(240) and not done.is_set():
                candidate.write_bytes(b"PK\x03\x04 not the model that was judged")  # the swap
                swapped.append(True)

    held = threading.Event()
    holder = threading.Thread(target=other_gate)
    holder.start()
    assert held.wait(60)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_ADDOPTS", "")
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            code = main(["gate", str(candidate)])
    finally:
        done.set()  # a gate that never waited: let the holder go, swapping nothing
        printed.waiting.set()
        holder.join()
    assert swapped, printed.getvalue()
    assert code == GateExit.ACCEPTED, printed.getvalue()
    record = registry.record("default", registry.state("default").champion)
    assert record.model_sha256 == original != _sha(candidate)


SWAP_CONFTEST = """
import shutil
def pytest_collection_finish(session):
    shutil.copy({other!r}, {candidate!r})  # the file changes once the run has started
"""


@pytest.mark.slow
def test_the_pytest_door_promotes_the_bytes_it_judged_and_needs_every_category(
    trained_mlp, trained_cnn, pytester
):
    from pathlib import Path

    from mlchecks.registry import open_registry

    root = Path(__file__).resolve().parents[2]
    candidate = pytester.path / "candidate.keras"
    candidate.write_bytes(Path(trained_mlp.path).read_bytes())
    original = _sha(candidate)
    pytester.makefile(".toml", pyproject='[tool.mlchecks]\ndata = "digits"\nregistry = "reg"\n'
                      'reports = "none"\ncache_dir = "cache"\n')  # fmt: skip
    pytester.makepyfile(**{s.stem: s.read_text() for s in (root / "suites").glob("test_*.py")})
    args = ("-p", "no:cacheprovider", f"--mlchecks-candidate={candidate}", "--mlchecks-promote")

    # tests deselected: the run may pass, but it is not a gate
    partial = pytester.runpytest(*args, "-k", "setup or probabilities")
    assert partial.ret == GateExit.BAD_INPUT, partial.stdout.str()[-2000:]
    partial.stdout.fnmatch_lines(["*nothing promoted: no data, accuracy, *check ran*"])
    assert not (pytester.path / "reg" / "default").exists()

    pytester.makeconftest(SWAP_CONFTEST.format(other=str(trained_cnn.path),
                                               candidate=str(candidate)))  # fmt: skip
    whole = pytester.runpytest(*args)
    assert whole.ret == GateExit.ACCEPTED, whole.stdout.str()[-3000:]
    registry = open_registry(pytester.path / "reg")
    record = registry.record("default", registry.state("default").champion)
    assert record.model_sha256 == original != _sha(candidate)
