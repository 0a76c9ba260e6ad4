"""``mlchecks evolve`` ends with one sentence saying that the demo finished, what was rejected
and why (issue 15, item 10), and exits 0: a demo that ran to the end and showed a rejection is
not a failure of the command. Exit 1 is kept for the gate's rejections, 2 for bad input."""

from __future__ import annotations

import pytest

from mlchecks.cli import evolve as cli
from mlchecks.cli import main
from mlchecks.run.evolve import Attempt, EvolveResult


def _attempt(step, kind, accepted, failed=()):
    return Attempt(
        step, kind, [step], accepted, f"000{step}" if accepted else None, list(failed), {}, 1.0
    )


def _result(*attempts):
    return EvolveResult(list(attempts), ["class 1", "class 2", "class 3"], "reg", "evolve", 3.0)


def test_the_usual_outcome_is_said_in_one_sentence():
    result = _result(
        _attempt(1, "initial", True),
        _attempt(2, "naive", False, ["regression.forgetting"]),
        _attempt(2, "rehearsal", True),
        _attempt(3, "naive", False, ["regression.forgetting"]),
        _attempt(3, "rehearsal", True),
    )
    line = cli.outcome(result)
    assert line.startswith(
        "mlchecks evolve: the demo finished: 5 candidates, 2 rejected, 3 promoted"
    )
    assert "step 2 naive (regression.forgetting)" in line and "step 3 naive" in line
    assert "as continual learning expects" in line and "\n" not in line
    assert cli.exit_code(result) == 0


def test_an_unexpected_rejection_is_named_and_still_exits_0():
    result = _result(
        _attempt(1, "initial", True),
        _attempt(2, "naive", False, ["regression.forgetting"]),
        _attempt(2, "rehearsal", False, ["accuracy.min", "regression.forgetting"]),
    )
    line = cli.outcome(result)
    assert "step 2 rehearsal (accuracy.min, regression.forgetting)" in line
    assert "unlike the usual outcome: step 2 rehearsal was rejected" in line
    assert cli.exit_code(result) == 0


def test_evolve_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["evolve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 the demo ran to the end (rejections included" in out
