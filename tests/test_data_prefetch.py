"""`mlchecks gate` checks the data in a worker process while it loads Keras and the models
(mlchecks.run.data.prefetch): the same results as checking in-process, read from the memo the
worker wrote; a worker that dies leaves the checks to the gate itself."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mlchecks.config import load_settings
from mlchecks.data import expectations
from mlchecks.run import data as run_data
from mlchecks.run.session import Session


@pytest.fixture
def project(tmp_path, digits):
    np.savez(tmp_path / "digits.npz", x_train=digits.x_train, y_train=digits.y_train,
             x_test=digits.x_test, y_test=digits.y_test)  # fmt: skip
    (tmp_path / "mlchecks.toml").write_text('data = "digits.npz"\nreports = "none"\n')
    return tmp_path


def _session(project) -> Session:
    settings = load_settings(project, {"registry": str(project / "reg"),
                                       "cache_dir": str(project / "cache")})  # fmt: skip
    return Session(settings)


def _in_process(session):
    dataset, scoped, reference = run_data._inputs(session)
    return expectations.run_scopes(dataset, scoped, reference=reference)


def test_the_worker_writes_the_results_the_gate_reads(project, monkeypatch):
    monkeypatch.setattr(run_data, "_great_expectations_imported", lambda: False)
    session = _session(project)
    assert run_data.prefetch(session)
    worker = session.data_worker
    run_data.stop_prefetch(session)
    assert worker.proc.returncode == 0 and not worker.inputs.exists()
    assert run_data.memoised(session)  # written by the worker, before the checks ran here
    assert run_data.data_checks(session) == _in_process(session)
    assert not run_data.prefetch(session)  # memoised now: nothing to start


def test_a_worker_that_dies_leaves_the_checks_to_the_gate(project, monkeypatch):
    monkeypatch.setattr(run_data, "_great_expectations_imported", lambda: False)
    session = _session(project)
    assert run_data.prefetch(session)
    worker = session.data_worker
    worker.proc.kill()  # long before it can have imported Great Expectations
    worker.proc.wait()
    assert not run_data.memoised(session)  # nothing from the worker: the gate must check
    assert run_data.data_checks(session) == _in_process(session)
    assert session.data_worker is None and not worker.inputs.exists()
    assert run_data.memoised(session)  # the gate's own results, stored for the next run


def test_a_champion_promoted_meanwhile_needs_no_worker_and_no_suite_run(
    project, monkeypatch, model_cache, trained_mlp, digits
):
    """Checked before there was a champion (no reference profile), gated after another gate
    promoted the first one: the suite's results are read back, drift alone is computed against
    the new champion's profile (numpy), and no worker is started for it."""
    from test_gate import promote_in_process

    monkeypatch.setattr(run_data, "_great_expectations_imported", lambda: False)
    first = _session(project)
    assert run_data.prefetch(first)  # no champion yet
    run_data.stop_prefetch(first)
    before = run_data.data_checks(first)
    assert before["data.drift"][0].status == "not_judged"  # no profile shipped for digits.npz
    promote_in_process(project / "reg", model_cache.root, digits)  # lineage 'mlp' on digits
    second = _session(project)
    _, _, reference = run_data._inputs(second)
    assert isinstance(reference, dict) and reference["input_shape"] == [8, 8, 1]
    assert run_data.memoised(second)
    assert not run_data.prefetch(second)  # nothing for a worker to do
    expected = _in_process(second)

    def suite_run(*args, **kwargs):
        raise AssertionError("the Great Expectations suite ran again")

    monkeypatch.setattr(expectations, "run_scopes", suite_run)
    after = run_data.data_checks(second)
    assert after == expected
    assert after["data.drift"][0].status != "not_judged"  # judged against the champion now
    assert {k: v for k, v in after.items() if k != "data.drift"} == {
        k: v for k, v in before.items() if k != "data.drift"}  # fmt: skip


@pytest.mark.slow
def test_a_gate_does_not_import_great_expectations_itself(project, trained_mlp):
    """The real command, cold memo: the decision's data checks are the in-process ones, and the
    gate's own process never imported Great Expectations (the worker did)."""
    trained_mlp.model.save(project / "candidate.keras")
    code = (
        "import sys\nfrom mlchecks.cli import main\n"
        "rc = main(['gate', 'candidate.keras', '--no-promote', '--registry', 'reg',"
        " '--cache-dir', 'cache', '--json', 'd.json', '-q'])\n"
        "print('GX', 'great_expectations' in sys.modules)\nsys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "GX False" in proc.stdout, proc.stdout[-2000:]
    decision = json.loads((project / "d.json").read_text())
    got = sorted((c["id"], c["passed"], c["message"]) for c in decision["checks"]
                 if c["category"] == "data")  # fmt: skip
    expected = sorted((r.id, r.passed, r.message)
                      for rs in _in_process(_session(project)).values() for r in rs)  # fmt: skip
    assert got == expected and len(got) >= 8
