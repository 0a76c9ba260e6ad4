"""Four outcomes, not two (issue 12): a check that could not judge says so on every surface.

Passed, failed, warning or not judged: the terminal summary labels it ``NOT JUDGED``, the
recording fixture turns it into a pytest skip with its reason (JUnit ``<skipped>``), ``--json``
gives each check's ``status`` and the decision's counts, and the gate's own output counts it.
A not-judged check never blocks. (The HTML badge: tests/report/test_report_from_producers.py.)
"""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET

import pytest

from mlchecks.plugin import fixtures
from mlchecks.result import CheckResult, RegressionDetails
from mlchecks.run.gate import GateDecision, decide, write_json

PASSED = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.9, "accuracy 0.97 >= 0.9")
FAILED = CheckResult("accuracy.class_recall", "accuracy", False, 0.2, 0.5, "class 3 below")
WARNING = CheckResult("data.balance", "data", False, 0.01, 0.02, "class 7 is rare",
                      severity="warning")  # fmt: skip
NOT_JUDGED = CheckResult.not_judged(
    "regression.accuracy", "regression", "not judged: no champion yet in lineage 'demo'"
)


def test_status_is_derived_unless_not_judged_which_never_blocks():
    assert [c.status for c in (PASSED, FAILED, WARNING, NOT_JUDGED)] == [
        "passed", "failed", "warning", "not_judged",
    ]  # fmt: skip
    assert [c.label for c in (PASSED, FAILED, WARNING, NOT_JUDGED)] == [
        "PASS", "FAIL", "WARNING", "NOT JUDGED",
    ]  # fmt: skip
    assert NOT_JUDGED.passed and not NOT_JUDGED.blocking
    assert decide([PASSED, NOT_JUDGED]) and not decide([PASSED, FAILED])
    with pytest.raises(ValueError, match="not judged but has passed=False"):
        CheckResult("data.drift", "data", False, None, None, "x", status="not_judged")
    with pytest.raises(ValueError, match="status 'maybe'; expected one of"):
        CheckResult("data.drift", "data", True, None, None, "x", status="maybe")
    # passed, failed and warning follow passed and severity, also through replace()
    assert dataclasses.replace(PASSED, passed=False).status == "failed"
    assert dataclasses.replace(FAILED, severity="warning").status == "warning"


def test_json_decision_has_each_status_and_the_counts(tmp_path):
    decision = GateDecision(accepted=False, name="demo",
                            checks=(PASSED, FAILED, WARNING, NOT_JUDGED))  # fmt: skip
    out = decision.to_json()
    assert [(c["id"], c["passed"], c["status"]) for c in out["checks"]] == [
        ("accuracy.min", True, "passed"),
        ("accuracy.class_recall", False, "failed"),
        ("data.balance", False, "warning"),
        ("regression.accuracy", True, "not_judged"),
    ]
    assert out["counts"] == {"passed": 1, "failed": 1, "warnings": 1, "not_judged": 1}
    write_json(decision, tmp_path / "d.json")
    stored = json.loads((tmp_path / "d.json").read_text())
    assert stored["counts"] == out["counts"]
    assert [CheckResult.from_json(c) for c in stored["checks"]] == list(decision.checks)


def test_gate_output_prints_warnings_of_passed_checks_and_counts_not_judged():
    from mlchecks.cli.gate import _print_decision

    underpowered = CheckResult(
        "regression.per_class", "regression", True, 0.9, 0.88, "no class regressed",
        details=RegressionDetails(champion="0001", warning="holdout of 45 samples is too small"),
    )  # fmt: skip
    decision = GateDecision(accepted=True, name="demo", checks=(PASSED, underpowered, NOT_JUDGED))
    out = io.StringIO()
    _print_decision(decision, 1.0, out)
    text = out.getvalue()
    assert "  WARN  regression.per_class: holdout of 45 samples is too small" in text
    assert "(3 checks, 0 failed, 1 not judged;" in text


def _record_fixture() -> str:
    """The recording fixture's name (``mlchecks_record_check``; ``record_check`` before)."""
    return "mlchecks_record_check" if hasattr(fixtures, "mlchecks_record_check") else "record_check"


INNER = """
from mlchecks.result import CheckResult

def test_judged(REC):
    REC(CheckResult("accuracy.demo", "accuracy", True, 0.97, 0.9, "demo ok", model="m"))

def test_no_champion(REC):
    REC(CheckResult.not_judged("regression.demo", "regression",
                               "not judged: no champion yet in lineage 'demo'", model="m"))

def test_two_at_once(REC):
    # both are recorded, then the test is skipped: one of them could not be judged
    REC(CheckResult("data.demo", "data", True, 0.0, 0.0, "no NaN"),
        CheckResult.not_judged("data.drift", "data", "data drift not judged: no reference"))
"""


def test_terminal_summary_and_junit_show_not_judged_as_skipped(pytester):
    pytester.makepyfile(test_inner=INNER.replace("REC", _record_fixture()))
    junit = pytester.path / "junit.xml"
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--mlchecks-report", "none")
    result = pytester.runpytest(f"--junitxml={junit}", "-rs", *quiet)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "PASS  accuracy.demo*demo ok",
        "NOT JUDGED regression.demo*not judged: no champion yet in lineage 'demo'",
        "NOT JUDGED data.drift*data drift not judged: no reference",
        "mlchecks: 4 checks, 0 failed, 2 not judged",
        "SKIPPED*[[]regression.demo[]] not judged: no champion yet in lineage 'demo'",
    ])  # fmt: skip
    cases = {c.get("name"): c for c in ET.parse(junit).iter("testcase")}
    skipped = cases["test_no_champion"].find("skipped")
    assert skipped is not None and "no champion yet" in skipped.get("message", "")
    assert cases["test_judged"].find("skipped") is None
    props = {p.get("name"): p.get("value") for p in cases["test_two_at_once"].iter("property")}
    assert props["data.demo.status"] == "passed" and props["data.drift.status"] == "not_judged"
    assert "data drift not judged" in cases["test_two_at_once"].find("skipped").get("message")
